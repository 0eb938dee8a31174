import Foundation
import OnyxTensor

/// NonMaxSuppression (opset 10/11): greedy per-(batch, class) selection by score with IoU suppression.
enum NonMaxSuppressionOps {
    static func register(_ t: inout OperatorTable) {
        t.add("NonMaxSuppression", since: 10) { try NonMaxSuppressionOp($0) }
    }
}

struct NonMaxSuppressionOp: TensorKernel {
    let centerPointBox: Bool

    init(_ c: NodeContext) throws {
        let v = try c.int("center_point_box", 0)
        guard v == 0 || v == 1 else { throw KernelError("center_point_box must be 0 or 1, got \(v)") }
        centerPointBox = v == 1
    }

    /// Corners (xmin, ymin, xmax, ymax) of box `b` (4 floats), in single precision like the reference.
    @inline(__always) func corners(_ b: UnsafeBufferPointer<Float>, _ o: Int) -> (Float, Float, Float, Float) {
        if centerPointBox {
            let hw = b[o + 2] / 2, hh = b[o + 3] / 2
            return (b[o] - hw, b[o + 1] - hh, b[o] + hw, b[o + 1] + hh)
        }
        return (min(b[o + 1], b[o + 3]), min(b[o], b[o + 2]), max(b[o + 1], b[o + 3]), max(b[o], b[o + 2]))
    }

    func suppress(_ b: UnsafeBufferPointer<Float>, _ i: Int, _ j: Int, _ iou: Float) -> Bool {
        let (ax0, ay0, ax1, ay1) = corners(b, i * 4), (bx0, by0, bx1, by1) = corners(b, j * 4)
        let ix0 = max(ax0, bx0), ix1 = min(ax1, bx1)
        if ix1 <= ix0 { return false }
        let iy0 = max(ay0, by0), iy1 = min(ay1, by1)
        if iy1 <= iy0 { return false }
        let inter = (ix1 - ix0) * (iy1 - iy0)
        if inter <= 0 { return false }
        let a1 = (ax1 - ax0) * (ay1 - ay0), a2 = (bx1 - bx0) * (by1 - by0)
        let union = a1 + a2 - inter
        if a1 <= 0 || a2 <= 0 || union <= 0 { return false }
        return inter / union > iou
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let boxes = try inputs.required(0, "boxes"), scores = try inputs.required(1, "scores")
        guard boxes.dtype == .float32, scores.dtype == .float32 else { throw KernelError("boxes and scores must be float") }
        guard boxes.rank == 3, boxes.shape[2] == 4 else { throw KernelError("boxes must have shape [batches, boxes, 4], got \(boxes.shape)") }
        guard scores.rank == 3, scores.shape[0] == boxes.shape[0], scores.shape[2] == boxes.shape[1] else {
            throw KernelError("scores shape \(scores.shape) does not match boxes shape \(boxes.shape)")
        }
        var maxOut = 0
        if let t = inputs.optional(2), t.count > 0 { maxOut = max(0, Int(clamping: t.int64Values()[0])) }
        var iou: Float = 0
        if let t = inputs.optional(3), t.count > 0 { iou = Float(t.doubleValue(at: 0)) }
        var scoreThreshold: Float? = nil
        if let t = inputs.optional(4), t.count > 0 { scoreThreshold = Float(t.doubleValue(at: 0)) }
        let nb = boxes.shape[0], nBoxes = boxes.shape[1], nc = scores.shape[1]
        var selected: [Int64] = []
        try boxes.withBuffer(of: Float.self) { bb in
            try scores.withBuffer(of: Float.self) { sb in
                for b in 0..<nb {
                    let batchBoxes = UnsafeBufferPointer(rebasing: bb[(b * nBoxes * 4)..<((b + 1) * nBoxes * 4)])
                    for c in 0..<nc {
                        let so = (b * nc + c) * nBoxes
                        var cand: [Int] = []
                        for i in 0..<nBoxes where scoreThreshold.map({ sb[so + i] > $0 }) ?? true { cand.append(i) }
                        // Highest score first; ties keep the lower box index first.
                        cand.sort { sb[so + $0] != sb[so + $1] ? sb[so + $0] > sb[so + $1] : $0 < $1 }
                        var kept: [Int] = []
                        for i in cand {
                            if kept.count >= maxOut { break }
                            if kept.contains(where: { suppress(batchBoxes, i, $0, iou) }) { continue }
                            kept.append(i)
                            selected += [Int64(b), Int64(c), Int64(i)]
                        }
                    }
                }
            }
        }
        return [qmTensor([selected.count / 3, 3], selected)]
    }
}
