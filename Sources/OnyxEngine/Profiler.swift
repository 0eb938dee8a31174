import Foundation

/// Per-operator timing, on when the environment variable ONYX_PROFILE is set: the executor adds each step's
/// wall time under its op type (`ONYX_PROFILE=node`: under each node's name, or its first output's when it has
/// none), and a table sorted by total time is printed to standard error at exit.
final class OpProfiler: @unchecked Sendable {
    // Safety of `@unchecked Sendable`: `totals` is only touched under `lock`.
    static let shared = OpProfiler()
    static let enabled: Bool = ProcessInfo.processInfo.environment["ONYX_PROFILE"] != nil
    static let perNode: Bool = ProcessInfo.processInfo.environment["ONYX_PROFILE"] == "node"
    private let lock = NSLock()
    private var totals: [String: (ns: UInt64, calls: Int)] = [:]
    private var registered = false

    /// The profile row of a node: its op type, with group and kernel shape for convolutions.
    static func key(_ n: Node) -> String {
        if perNode { return "\(n.name.isEmpty ? n.outputs.first ?? "" : n.name) (\(n.opType))" }   // unnamed: first output
        guard n.opType.hasSuffix("Conv") else { return n.opType }
        var k = n.opType
        if case .int(let g)? = n.attributes["group"], g > 1 { k += " g\(g)" }
        if case .ints(let ks)? = n.attributes["kernel_shape"] { k += " k\(ks.map(String.init).joined(separator: "x"))" }
        if case .ints(let st)? = n.attributes["strides"], st.contains(where: { $0 > 1 }) { k += " s\(st[0])" }
        return k
    }

    func add(_ op: String, _ ns: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        totals[op, default: (0, 0)].ns += ns
        totals[op, default: (0, 0)].calls += 1
        if !registered {
            registered = true
            atexit { OpProfiler.shared.report() }
        }
    }

    func report() {
        lock.lock()
        defer { lock.unlock() }
        let all = totals.values.reduce(0) { $0 + $1.ns }
        var s = "op profile (total \(all / 1_000_000) ms):\n"
        for (op, v) in totals.sorted(by: { $0.value.ns > $1.value.ns }) {
            s += String(format: "  %-28@ %9.2f ms %5.1f%% %7d calls\n", op as NSString, Double(v.ns) / 1e6,
                        all > 0 ? 100 * Double(v.ns) / Double(all) : 0, v.calls)
        }
        FileHandle.standardError.write(Data(s.utf8))
    }
}
