// Small SVG chart builders for the HTML report: line charts (ROC, PR, calibration), a heat map (confusion
// matrix), overlaid histograms and a scatter plot. Plain strings, no external resources.
import Foundation

/// Ten distinguishable colours (matplotlib's tab10).
let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
func color(_ i: Int) -> String { palette[((i % palette.count) + palette.count) % palette.count] }

/// Escapes text for HTML/SVG content and attribute values.
public func htmlEscape(_ s: String) -> String {
    var o = ""
    for c in s {
        switch c {
        case "&": o += "&amp;"
        case "<": o += "&lt;"
        case ">": o += "&gt;"
        case "\"": o += "&quot;"
        case "'": o += "&#39;"
        default: o.append(c)
        }
    }
    return o
}

func num(_ d: Double) -> String { d.isFinite ? String(format: "%.1f", d) : "0" }

struct Series {
    var name: String
    var color: String
    var points: [(Double, Double)]
    var dashed = false
}

/// A plot frame with linear axes over `xr` × `yr`.
struct Frame {
    var width = 360.0, height = 300.0
    var left = 48.0, right = 12.0, top = 28.0, bottom = 40.0
    var xr: (Double, Double) = (0, 1)
    var yr: (Double, Double) = (0, 1)
    var pw: Double { width - left - right }
    var ph: Double { height - top - bottom }
    func x(_ v: Double) -> Double { left + (xr.1 > xr.0 ? (v - xr.0) / (xr.1 - xr.0) : 0.5) * pw }
    func y(_ v: Double) -> Double { top + ph - (yr.1 > yr.0 ? (v - yr.0) / (yr.1 - yr.0) : 0.5) * ph }

    func open(_ title: String, xLabel: String, yLabel: String) -> String {
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">"
        s += "<text x=\"\(num(width / 2))\" y=\"16\" text-anchor=\"middle\" class=\"title\">\(htmlEscape(title))</text>"
        s += "<rect x=\"\(num(left))\" y=\"\(num(top))\" width=\"\(num(pw))\" height=\"\(num(ph))\" class=\"plot\"/>"
        for i in 0...4 {
            let fx = xr.0 + (xr.1 - xr.0) * Double(i) / 4, fy = yr.0 + (yr.1 - yr.0) * Double(i) / 4
            s += "<line x1=\"\(num(x(fx)))\" y1=\"\(num(top))\" x2=\"\(num(x(fx)))\" y2=\"\(num(top + ph))\" class=\"grid\"/>"
            s += "<line x1=\"\(num(left))\" y1=\"\(num(y(fy)))\" x2=\"\(num(left + pw))\" y2=\"\(num(y(fy)))\" class=\"grid\"/>"
            s += "<text x=\"\(num(x(fx)))\" y=\"\(num(top + ph + 14))\" text-anchor=\"middle\" class=\"tick\">\(tick(fx))</text>"
            s += "<text x=\"\(num(left - 4))\" y=\"\(num(y(fy) + 3))\" text-anchor=\"end\" class=\"tick\">\(tick(fy))</text>"
        }
        s += "<text x=\"\(num(left + pw / 2))\" y=\"\(num(height - 6))\" text-anchor=\"middle\" class=\"axis\">\(htmlEscape(xLabel))</text>"
        s += "<text transform=\"translate(12 \(num(top + ph / 2))) rotate(-90)\" text-anchor=\"middle\" class=\"axis\">\(htmlEscape(yLabel))</text>"
        return s
    }

    func tick(_ v: Double) -> String {
        let a = abs(v)
        if a != 0 && (a >= 10000 || a < 0.01) { return String(format: "%.1e", v) }
        if v == v.rounded() { return String(format: "%.0f", v) }
        return String(format: a >= 10 ? "%.1f" : "%.2f", v)
    }

    /// A polyline through `pts`, dropping points that land on the same half pixel as the previous one.
    func polyline(_ pts: [(Double, Double)], color: String, dashed: Bool = false, width: Double = 1.6) -> String {
        var out = [String]()
        var last: (Double, Double)? = nil
        for (i, p) in pts.enumerated() where p.0.isFinite && p.1.isFinite {
            let px = (x(p.0) * 2).rounded() / 2, py = (y(p.1) * 2).rounded() / 2
            if let l = last, l.0 == px, l.1 == py, i != pts.count - 1 { continue }
            last = (px, py)
            out.append("\(num(px)),\(num(py))")
        }
        if out.isEmpty { return "" }
        return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(width)\"\(dashed ? " stroke-dasharray=\"4 3\"" : "") points=\"\(out.joined(separator: " "))\"/>"
    }

    /// A legend box in the plot's corner (`bottomRight` or top right).
    func legend(_ items: [(String, String)], bottomRight: Bool) -> String {
        guard !items.isEmpty else { return "" }
        let h = 13.0
        let w = min(pw - 8, Double((items.map(\.0.count).max() ?? 0) * 6 + 22))
        let x0 = left + pw - w - 4
        let y0 = bottomRight ? top + ph - Double(items.count) * h - 6 : top + 4
        var s = "<rect x=\"\(num(x0))\" y=\"\(num(y0))\" width=\"\(num(w))\" height=\"\(num(Double(items.count) * h + 4))\" class=\"legend\"/>"
        for (i, (name, c)) in items.enumerated() {
            let yy = y0 + 2 + Double(i) * h + h / 2
            s += "<line x1=\"\(num(x0 + 4))\" y1=\"\(num(yy))\" x2=\"\(num(x0 + 16))\" y2=\"\(num(yy))\" stroke=\"\(c)\" stroke-width=\"2.5\"/>"
            s += "<text x=\"\(num(x0 + 20))\" y=\"\(num(yy + 3.5))\" class=\"leg\">\(htmlEscape(name))</text>"
        }
        return s
    }
}

/// A line chart on [0, 1] × [0, 1] (ROC, PR, reliability).
func lineChart(_ title: String, xLabel: String, yLabel: String, series: [Series], diagonal: Bool, legendBottomRight: Bool) -> String {
    let f = Frame()
    var s = f.open(title, xLabel: xLabel, yLabel: yLabel)
    if diagonal { s += "<line x1=\"\(num(f.x(0)))\" y1=\"\(num(f.y(0)))\" x2=\"\(num(f.x(1)))\" y2=\"\(num(f.y(1)))\" class=\"diag\"/>" }
    for se in series { s += f.polyline(se.points, color: se.color, dashed: se.dashed) }
    s += f.legend(series.filter { !$0.name.isEmpty }.map { ($0.name, $0.color) }, bottomRight: legendBottomRight)
    return s + "</svg>"
}

/// A confusion-matrix heat map: cell colour by the row-normalised rate, cell text the count.
func heatMap(_ title: String, matrix: [[Int]], classes: [String]) -> String {
    let k = max(1, matrix.count)
    let cell = min(34.0, 300.0 / Double(k))
    let left = 56.0, top = 30.0
    let w = left + cell * Double(k) + 12, h = top + cell * Double(k) + 36
    var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\">"
    s += "<text x=\"\(num(w / 2))\" y=\"16\" text-anchor=\"middle\" class=\"title\">\(htmlEscape(title))</text>"
    for (i, row) in matrix.enumerated() {
        let total = max(1, row.reduce(0, +))
        for (j, c) in row.enumerated() {
            let r = Double(c) / Double(total)
            // White → dark blue.
            let shade = { (a: Double, b: Double) in Int((a + (b - a) * r).rounded()) }
            let fill = String(format: "#%02x%02x%02x", shade(255, 8), shade(255, 48), shade(255, 107))
            let x = left + Double(j) * cell, y = top + Double(i) * cell
            s += "<rect x=\"\(num(x))\" y=\"\(num(y))\" width=\"\(num(cell))\" height=\"\(num(cell))\" fill=\"\(fill)\" stroke=\"#ddd\"><title>true \(htmlEscape(i < classes.count ? classes[i] : "")), predicted \(htmlEscape(j < classes.count ? classes[j] : "")): \(c)</title></rect>"
            if c > 0 && cell >= 14 {
                s += "<text x=\"\(num(x + cell / 2))\" y=\"\(num(y + cell / 2 + 3.5))\" text-anchor=\"middle\" class=\"cell\" fill=\"\(r > 0.5 ? "#fff" : "#222")\">\(c)</text>"
            }
        }
        let label = i < classes.count ? classes[i] : ""
        s += "<text x=\"\(num(left - 4))\" y=\"\(num(top + Double(i) * cell + cell / 2 + 3.5))\" text-anchor=\"end\" class=\"tick\">\(htmlEscape(String(label.prefix(8))))</text>"
        s += "<text x=\"\(num(left + Double(i) * cell + cell / 2))\" y=\"\(num(top + cell * Double(k) + 12))\" text-anchor=\"middle\" class=\"tick\">\(htmlEscape(String(label.prefix(5))))</text>"
    }
    s += "<text x=\"\(num(left + cell * Double(k) / 2))\" y=\"\(num(h - 6))\" text-anchor=\"middle\" class=\"axis\">predicted</text>"
    s += "<text transform=\"translate(12 \(num(top + cell * Double(k) / 2))) rotate(-90)\" text-anchor=\"middle\" class=\"axis\">true</text>"
    return s + "</svg>"
}

/// Overlaid histograms of `series` values over `bins` equal bins of `range`; bar heights are fractions of each
/// series' total.
func histogram(_ title: String, xLabel: String, series: [(String, String, [Double])], range: (Double, Double), bins: Int = 20) -> String {
    let counts = series.map { (_, _, v) -> [Double] in
        var c = [Double](repeating: 0, count: bins)
        for x in v where x.isFinite {
            let t = range.1 > range.0 ? (x - range.0) / (range.1 - range.0) : 0.5
            c[min(bins - 1, max(0, Int(t * Double(bins))))] += 1
        }
        let total = max(1, c.reduce(0, +))
        return c.map { $0 / total }
    }
    let ymax = min(1, max(0.2, ((counts.flatMap { $0 }.max() ?? 0) * 1.05 / 0.2).rounded(.up) * 0.2))  // quarter ticks land on round numbers
    var f = Frame()
    f.xr = range; f.yr = (0, ymax)
    var s = f.open(title, xLabel: xLabel, yLabel: "fraction of rows")
    for (k, c) in counts.enumerated() {
        for (i, v) in c.enumerated() where v > 0 {
            let x0 = f.x(range.0 + (range.1 - range.0) * Double(i) / Double(bins))
            let x1 = f.x(range.0 + (range.1 - range.0) * Double(i + 1) / Double(bins))
            s += "<rect x=\"\(num(x0))\" y=\"\(num(f.y(v)))\" width=\"\(num(max(0.5, x1 - x0 - 0.5)))\" height=\"\(num(f.y(0) - f.y(v)))\" fill=\"\(series[k].1)\" fill-opacity=\"0.55\"/>"
        }
    }
    s += f.legend(series.map { ("\($0.0) (\($0.2.count))", $0.1) }, bottomRight: false)
    return s + "</svg>"
}

/// A scatter plot of (x, y) points with the line y = x (regression: predicted against true).
func scatter(_ title: String, xLabel: String, yLabel: String, points: [(Double, Double)], color: String, maxPoints: Int = 3000) -> String {
    let finite = points.filter { $0.0.isFinite && $0.1.isFinite }
    let lo = min(finite.map(\.0).min() ?? 0, finite.map(\.1).min() ?? 0)
    let hi = max(finite.map(\.0).max() ?? 1, finite.map(\.1).max() ?? 1)
    var f = Frame()
    f.xr = (lo, hi > lo ? hi : lo + 1); f.yr = f.xr
    var s = f.open(title, xLabel: xLabel, yLabel: yLabel)
    s += "<line x1=\"\(num(f.x(f.xr.0)))\" y1=\"\(num(f.y(f.xr.0)))\" x2=\"\(num(f.x(f.xr.1)))\" y2=\"\(num(f.y(f.xr.1)))\" class=\"diag\"/>"
    let step = max(1, finite.count / maxPoints)
    for i in stride(from: 0, to: finite.count, by: step) {
        s += "<circle cx=\"\(num(f.x(finite[i].0)))\" cy=\"\(num(f.y(finite[i].1)))\" r=\"1.8\" fill=\"\(color)\" fill-opacity=\"0.5\"/>"
    }
    return s + "</svg>"
}
