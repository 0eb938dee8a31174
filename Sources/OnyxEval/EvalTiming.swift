// Phase timings of an evaluation, printed to standard error when the environment variable ONYX_EVAL_TIMING is
// set (used to profile release builds where perf is not available; see docs/eval.md).
import Foundation

public enum EvalTiming {
    public static let enabled = ProcessInfo.processInfo.environment["ONYX_EVAL_TIMING"] != nil
    /// Prints "timing: <phase> <seconds since start> s (process CPU <s> s)" when enabled. The process CPU time
    /// (user + system, all threads, since the process started) is cumulative: the difference between two lines is
    /// the CPU a phase used, which stays meaningful on a loaded machine where wall times stretch.
    public static func report(_ phase: String, since start: Date) {
        guard enabled else { return }
        FileHandle.standardError.write(Data(String(format: "timing: %-28@ %.4f s (process CPU %.3f s)\n", phase as NSString,
                                                   Date().timeIntervalSince(start), processCPUSeconds()).utf8))
    }

    /// User + system CPU seconds of this process so far.
    public static func processCPUSeconds() -> Double {
        var u = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &u) == 0 else { return .nan }
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
    }
}
