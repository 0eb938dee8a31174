// Phase timings of an evaluation, printed to standard error when the environment variable ONYX_EVAL_TIMING is
// set (used to profile release builds where perf is not available; see docs/eval.md).
import Foundation

public enum EvalTiming {
    public static let enabled = ProcessInfo.processInfo.environment["ONYX_EVAL_TIMING"] != nil
    /// Prints "timing: <phase> <seconds since start>" when enabled.
    public static func report(_ phase: String, since start: Date) {
        guard enabled else { return }
        FileHandle.standardError.write(Data(String(format: "timing: %-28@ %.4f s\n", phase as NSString, Date().timeIntervalSince(start)).utf8))
    }
}
