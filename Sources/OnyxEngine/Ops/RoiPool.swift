import Foundation
import OnyxTensor

/// RoiAlign and MaxRoiPool.
enum RoiOps {
    static func register(_ t: inout OperatorTable) {
        t.add("RoiAlign", since: 10) { try RoiAlignOp($0, halfPixelDefault: false) }
        t.add("RoiAlign", since: 16) { try RoiAlignOp($0, halfPixelDefault: true) }
        t.add("MaxRoiPool") { try MaxRoiPoolOp($0) }
    }
}

struct RoiAlignOp: TensorKernel {
    let halfPixel: Bool, isMax: Bool
    let outH: Int, outW: Int, samplingRatio: Int, spatialScale: Double

    init(_ c: NodeContext, halfPixelDefault: Bool) throws {
        let ctm = try c.string("coordinate_transformation_mode", halfPixelDefault ? "half_pixel" : "output_half_pixel")
        guard ctm == "half_pixel" || ctm == "output_half_pixel" else { throw KernelError("unknown coordinate_transformation_mode '\(ctm)'") }
        halfPixel = ctm == "half_pixel"
        let mode = try c.string("mode", "avg")
        guard mode == "avg" || mode == "max" else { throw KernelError("unknown mode '\(mode)'") }
        isMax = mode == "max"
        outH = try c.int("output_height", 1); outW = try c.int("output_width", 1)
        samplingRatio = try c.int("sampling_ratio", 0)
        spatialScale = Double(try c.float("spatial_scale", 1))
        guard outH >= 1, outW >= 1, outH <= 1 << 16, outW <= 1 << 16, samplingRatio >= 0, samplingRatio <= 1 << 10 else { throw KernelError("invalid output size or sampling_ratio") }
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), rois = try inputs.required(1, "rois"), bi = try inputs.required(2, "batch_indices")
        guard x.rank == 4, rois.rank == 2, rois.shape[1] == 4, bi.count == rois.shape[0] else {
            throw KernelError("RoiAlign: X \(x.shape), rois \(rois.shape), batch_indices \(bi.shape)")
        }
        let batch = bi.intValues()
        for b in batch { guard b >= 0, b < x.shape[0] else { throw KernelError("batch index \(b) is out of range") } }
        let r = try nnArray(rois, Double.self)
        guard spatialScale.isFinite, r.allSatisfy({ $0.isFinite && abs($0 * spatialScale) < 1e7 }) else {
            throw KernelError("rois must be finite and within ±1e7 after scaling")
        }
        return [try nnDispatch(x.dtype, Run(op: self, x: x, rois: r, batch: batch))]
    }

    struct Run: NNVisitor {
        let op: RoiAlignOp, x: Tensor, rois: [Double], batch: [Int]
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let ch = x.shape[1], h = x.shape[2], w = x.shape[3]
            let ph = op.outH, pw = op.outW, nr = batch.count
            return try nnRead(x, C.self) { xb in
                try nnWrite(x.dtype, [nr, ch, ph, pw], C.self) { yb in
                    let off = op.halfPixel ? 0.5 : 0.0
                    for n in 0..<nr {
                        let sw = rois[n * 4] * op.spatialScale - off, sh = rois[n * 4 + 1] * op.spatialScale - off
                        var rw = rois[n * 4 + 2] * op.spatialScale - off - sw
                        var rh = rois[n * 4 + 3] * op.spatialScale - off - sh
                        if !op.halfPixel { rw = Swift.max(rw, 1); rh = Swift.max(rh, 1) }
                        let bh = rh / Double(ph), bw = rw / Double(pw)
                        let gh = op.samplingRatio > 0 ? op.samplingRatio : Swift.max(0, Int((rh / Double(ph)).rounded(.up)))
                        let gw = op.samplingRatio > 0 ? op.samplingRatio : Swift.max(0, Int((rw / Double(pw)).rounded(.up)))
                        guard gh * gw <= 1 << 20 else { throw KernelError("RoiAlign sampling grid \(gh)x\(gw) is too large") }
                        let count = Double(Swift.max(gh * gw, 1))
                        // Bilinear taps shared by every channel: (pos1..4, w1..4) per sample.
                        var taps: [(Int, Int, Int, Int, Double, Double, Double, Double)] = []
                        for py in 0..<ph {
                            for px in 0..<pw {
                                for iy in 0..<Swift.max(gh, 0) {
                                    let yy = sh + Double(py) * bh + (Double(iy) + 0.5) * bh / Double(gh)
                                    for ix in 0..<Swift.max(gw, 0) {
                                        let xx = sw + Double(px) * bw + (Double(ix) + 0.5) * bw / Double(gw)
                                        if yy < -1 || yy > Double(h) || xx < -1 || xx > Double(w) {
                                            taps.append((0, 0, 0, 0, 0, 0, 0, 0)); continue
                                        }
                                        var y = Swift.max(yy, 0), xv = Swift.max(xx, 0)
                                        var yl = Int(y), xl = Int(xv), yh: Int, xh: Int
                                        if yl >= h - 1 { yl = h - 1; yh = yl; y = Double(yl) } else { yh = yl + 1 }
                                        if xl >= w - 1 { xl = w - 1; xh = xl; xv = Double(xl) } else { xh = xl + 1 }
                                        let ly = y - Double(yl), lx = xv - Double(xl), hy = 1 - ly, hx = 1 - lx
                                        taps.append((yl * w + xl, yl * w + xh, yh * w + xl, yh * w + xh, hy * hx, hy * lx, ly * hx, ly * lx))
                                    }
                                }
                            }
                        }
                        let per = gh * gw
                        for c in 0..<ch {
                            let base = (batch[n] * ch + c) * h * w
                            for bin in 0..<(ph * pw) {
                                var acc = 0.0
                                for s in 0..<per {
                                    let t = taps[bin * per + s]
                                    let v1 = t.4 * Double(xb[base + t.0]), v2 = t.5 * Double(xb[base + t.1])
                                    let v3 = t.6 * Double(xb[base + t.2]), v4 = t.7 * Double(xb[base + t.3])
                                    if op.isMax {
                                        let v = Swift.max(Swift.max(v1, v2), Swift.max(v3, v4))
                                        acc = s == 0 ? v : Swift.max(acc, v)
                                    } else {
                                        acc += v1 + v2 + v3 + v4
                                    }
                                }
                                yb[((n * ch + c) * ph * pw) + bin] = C(op.isMax ? acc : acc / count)
                            }
                        }
                    }
                }
            }
        }
    }
}

struct MaxRoiPoolOp: TensorKernel {
    let pooled: [Int], spatialScale: Double

    init(_ c: NodeContext) throws {
        guard let p = try c.ints("pooled_shape"), p.count == 2, p.allSatisfy({ $0 >= 1 }) else {
            throw KernelError("pooled_shape (2 positive ints) is required")
        }
        pooled = p
        spatialScale = Double(try c.float("spatial_scale", 1))
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), rois = try inputs.required(1, "rois")
        guard x.rank == 4, rois.rank == 2, rois.shape[1] == 5 else { throw KernelError("MaxRoiPool: X \(x.shape), rois \(rois.shape)") }
        let r = try nnArray(rois, Double.self)
        guard spatialScale.isFinite, r.allSatisfy({ $0.isFinite && abs($0 * spatialScale) < 1e9 && abs($0) < 1e9 }) else {
            throw KernelError("rois must be finite and within ±1e9 after scaling")
        }
        return [try nnDispatch(x.dtype, Run(op: self, x: x, rois: r, nr: rois.shape[0]))]
    }

    struct Run: NNVisitor {
        let op: MaxRoiPoolOp, x: Tensor, rois: [Double], nr: Int
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let ch = x.shape[1], h = x.shape[2], w = x.shape[3], ph = op.pooled[0], pw = op.pooled[1]
            return try nnRead(x, C.self) { xb in
                try nnWrite(x.dtype, [nr, ch, ph, pw], C.self) { yb in
                    for n in 0..<nr {
                        let b = Int(rois[n * 5])
                        guard b >= 0, b < x.shape[0] else { throw KernelError("batch index \(b) is out of range") }
                        let x1 = Int((rois[n * 5 + 1] * op.spatialScale).rounded()), y1 = Int((rois[n * 5 + 2] * op.spatialScale).rounded())
                        let x2 = Int((rois[n * 5 + 3] * op.spatialScale).rounded()), y2 = Int((rois[n * 5 + 4] * op.spatialScale).rounded())
                        let rh = Double(Swift.max(y2 - y1 + 1, 1)) / Double(ph), rw = Double(Swift.max(x2 - x1 + 1, 1)) / Double(pw)
                        for c in 0..<ch {
                            let base = (b * ch + c) * h * w
                            for py in 0..<ph {
                                let hs = Swift.min(Swift.max(Int((Double(py) * rh).rounded(.down)) + y1, 0), h)
                                let he = Swift.min(Swift.max(Int((Double(py + 1) * rh).rounded(.up)) + y1, 0), h)
                                for px in 0..<pw {
                                    let ws = Swift.min(Swift.max(Int((Double(px) * rw).rounded(.down)) + x1, 0), w)
                                    let we = Swift.min(Swift.max(Int((Double(px + 1) * rw).rounded(.up)) + x1, 0), w)
                                    var m = -C.infinity
                                    if hs >= he || ws >= we { m = 0 }
                                    for yy in hs..<Swift.max(he, hs) { for xx in ws..<Swift.max(we, ws) { m = Swift.max(m, xb[base + yy * w + xx]) } }
                                    yb[((n * ch + c) * ph + py) * pw + px] = m
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
