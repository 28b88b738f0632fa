import Dispatch

/// Seconds on a clock that never jumps (uptime), for timeouts and durations: the one clock of ferd's pure cores'
/// shells. Wall-clock dates (for the leaderboard) come from `Date`.
public enum MonotonicClock {
    /// Seconds since an arbitrary start, increasing.
    public static func seconds() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }
}
