// Column statistics with numpy's / scikit-learn's definitions; NaN (missing) values are ignored.
import Foundation

public enum Stats {
    public static func present(_ v: [Double]) -> [Double] { v.filter { !$0.isNaN } }

    public static func mean(_ v: [Double]) -> Double {
        var s = 0.0, n = 0
        for x in v where !x.isNaN { s += x; n += 1 }
        return n == 0 ? .nan : s / Double(n)
    }

    /// Population variance (ddof = 0), as StandardScaler uses; two-pass for accuracy.
    public static func variance(_ v: [Double]) -> Double {
        let m = mean(v)
        var s = 0.0, n = 0
        for x in v where !x.isNaN { s += (x - m) * (x - m); n += 1 }
        return n == 0 ? .nan : s / Double(n)
    }

    /// numpy.percentile with linear interpolation (q in 0...100) of the present values.
    public static func percentile(_ v: [Double], _ q: Double) -> Double {
        percentileSorted(present(v).sorted(), q)
    }

    public static func percentileSorted(_ s: [Double], _ q: Double) -> Double {
        guard !s.isEmpty else { return .nan }
        let pos = q / 100 * Double(s.count - 1)
        let lo = Int(pos.rounded(.down)), hi = min(lo + 1, s.count - 1)
        let frac = pos - Double(lo)
        // numpy's _lerp: a + (b - a) * t, computed from the upper end when t >= 0.5.
        let a = s[lo], b = s[hi], diff = b - a
        return frac >= 0.5 ? b - diff * (1 - frac) : a + diff * frac
    }

    public static func median(_ v: [Double]) -> Double {
        let s = present(v).sorted()
        guard !s.isEmpty else { return .nan }
        let m = s.count / 2
        return s.count % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2
    }

    /// Most frequent present value; ties go to the smallest, as SimpleImputer does.
    public static func mostFrequent(_ v: [Double]) -> Double {
        var counts = [Double: Int]()
        for x in v where !x.isNaN { counts[x == 0 ? 0 : x, default: 0] += 1 }
        return counts.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }?.key ?? .nan
    }

    public static func mostFrequent(_ v: [String], missing: MissingTokens) -> String? {
        var counts = [String: Int]()
        for x in v where !missing.isMissing(x) { counts[x, default: 0] += 1 }
        return counts.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }?.key
    }
}
