/// numpy broadcasting of shapes and index helpers.
public enum Broadcast {
    /// The broadcast shape of several shapes, or nil when they are incompatible.
    public static func shape(_ shapes: [[Int]]) -> [Int]? {
        let rank = shapes.map(\.count).max() ?? 0
        var out = Array(repeating: 1, count: rank)
        for s in shapes {
            let pad = rank - s.count
            for (i, d) in s.enumerated() {
                let o = out[pad + i]
                if o == d || d == 1 { continue }
                if o == 1 { out[pad + i] = d } else { return nil }
            }
        }
        return out
    }

    /// Row-major strides of a shape.
    public static func strides(_ shape: [Int]) -> [Int] {
        var st = Array(repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            st[i] = acc
            acc &*= shape[i]
        }
        return st
    }

    /// Strides of `shape` seen through a broadcast to `outShape` (0 where broadcast).
    public static func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
        let st = strides(shape)
        let pad = outShape.count - shape.count
        var out = Array(repeating: 0, count: outShape.count)
        for i in 0..<shape.count where shape[i] != 1 { out[pad + i] = st[i] }
        return out
    }
}
