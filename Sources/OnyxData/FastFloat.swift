// Number parsing straight from UTF-8 bytes (no String per field). Decimal numbers of up to 15 significant digits
// with a decimal exponent within ±22 are converted exactly (Clinger's fast path: both factors are exact doubles, so
// one correctly rounded multiply or divide); anything else goes to the C library's correctly rounded strtod.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@usableFromInline let exactPowersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
    1e20, 1e21, 1e22,
]

public enum FastFloat {
    /// Parses the bytes `p[0..<n]` (surrounding blanks allowed) as a decimal number, `inf`, `infinity` or `nan`.
    /// Returns nil if they are not one number.
    @inlinable
    public static func parse(_ p: UnsafePointer<UInt8>, _ count: Int) -> Double? {
        var i = 0, n = count
        while i < n, p[i] == 0x20 || p[i] == 0x09 { i += 1 }
        while n > i, p[n - 1] == 0x20 || p[n - 1] == 0x09 { n -= 1 }
        if i == n { return nil }
        var negative = false
        if p[i] == 0x2D { negative = true; i += 1 } else if p[i] == 0x2B { i += 1 }
        var mantissa: UInt64 = 0
        var significant = 0
        var exponent = 0
        var sawDigit = false
        while i < n {
            let d = p[i] &- 0x30
            if d > 9 { break }
            sawDigit = true
            if mantissa != 0 || d != 0 {
                if significant < 19 { mantissa = mantissa &* 10 &+ UInt64(d); significant += 1 } else { exponent += 1; significant += 1 }
            }
            i += 1
        }
        if i < n, p[i] == 0x2E {
            i += 1
            while i < n {
                let d = p[i] &- 0x30
                if d > 9 { break }
                sawDigit = true
                if mantissa != 0 || d != 0 {
                    if significant < 19 { mantissa = mantissa &* 10 &+ UInt64(d); exponent -= 1 }
                    significant += 1
                } else {
                    exponent -= 1
                }
                i += 1
            }
        }
        if !sawDigit { return special(p + i, n - i, negative) }
        if i < n, p[i] | 0x20 == 0x65 {  // e or E
            i += 1
            var expNegative = false
            if i < n, p[i] == 0x2D { expNegative = true; i += 1 } else if i < n, p[i] == 0x2B { i += 1 }
            var e = 0
            var sawExp = false
            while i < n {
                let d = p[i] &- 0x30
                if d > 9 { break }
                sawExp = true
                if e < 100_000 { e = e * 10 + Int(d) }
                i += 1
            }
            if !sawExp { return nil }
            exponent += expNegative ? -e : e
        }
        if i != n { return nil }
        if mantissa == 0 { return negative ? -0.0 : 0.0 }
        if significant <= 15 && exponent >= -22 && exponent <= 22 {
            var v = Double(mantissa)
            if exponent < 0 { v /= exactPowersOfTen[-exponent] } else { v *= exactPowersOfTen[exponent] }
            return negative ? -v : v
        }
        return slow(p, count)
    }

    @usableFromInline
    static func special(_ p: UnsafePointer<UInt8>, _ n: Int, _ negative: Bool) -> Double? {
        func eq(_ word: StaticString) -> Bool {
            guard n == word.utf8CodeUnitCount else { return false }
            for k in 0..<n where p[k] | 0x20 != word.utf8Start[k] { return false }
            return true
        }
        if eq("inf") || eq("infinity") { return negative ? -.infinity : .infinity }
        if eq("nan") { return .nan }
        return nil
    }

    /// The correctly rounded C library conversion, for long mantissas and large exponents.
    @usableFromInline
    static func slow(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? {
        if n > 400 { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buf -> Double? in
            guard let base = buf.baseAddress else { return nil }
            for k in 0..<n { base[k] = CChar(bitPattern: p[k]) }
            base[n] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let v = strtod(base, &end)
            guard let e = end else { return nil }
            var rest = e
            while rest.pointee == 0x20 || rest.pointee == 0x09 { rest += 1 }
            return (e != base && rest.pointee == 0) ? v : nil
        }
    }

    /// Parses a Swift string (slow path; for small inputs such as options).
    public static func parse(_ s: String) -> Double? {
        var s = s
        return s.withUTF8 { b in b.baseAddress.flatMap { parse($0, b.count) } }
    }
}
