import Foundation
@testable import Onyx

/// Locates committed fixtures (Tests/OnyxTests/Fixtures, copied into the test bundle).
enum Fixtures {
    static let root: URL = {
        if let u = Bundle.module.url(forResource: "Fixtures", withExtension: nil) { return u }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }()
    static func url(_ path: String) -> URL { root.appendingPathComponent(path) }
    static func path(_ path: String) -> String { url(path).path }
}

/// Max absolute difference between two float tensors of equal shape (infinity when shapes differ).
func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Double {
    guard a.shape == b.shape else { return .infinity }
    var m = 0.0
    for i in 0..<a.count { m = max(m, abs(a.doubleValue(at: i) - b.doubleValue(at: i))) }
    return m
}
