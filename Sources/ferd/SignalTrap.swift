import Dispatch
import Foundation
import Synchronization

/// Turns the first SIGINT or SIGTERM into a polite stop request (the job finishes its step or epoch
/// and leaves a resumable state; `onStop` runs once) and the second into an immediate exit — or, when
/// `onSecond` is given, into a call of `onSecond` (an urgent but orderly stop) and only the third into
/// an immediate exit.
final class SignalTrap: Sendable {
    private final class Count: Sendable {
        let value = Atomic<Int>(0)
    }

    private let count = Count()
    private nonisolated(unsafe) var sources: [DispatchSourceSignal] = []

    init(firstMessage: String = "stopping after the current step (signal again to stop at once)",
         onStop: @escaping @Sendable () -> Void = {},
         secondMessage: String = "stopping now (signal again to exit at once)",
         onSecond: (@Sendable () -> Void)? = nil) {
        let count = self.count
        sources = [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                let seen = count.value.wrappingAdd(1, ordering: .relaxed).newValue
                if seen == 1 {
                    FileHandle.standardError.write(Data("\nferd: \(firstMessage)\n".utf8))
                    onStop()
                } else if seen == 2, let onSecond {
                    FileHandle.standardError.write(Data("\nferd: \(secondMessage)\n".utf8))
                    onSecond()
                } else {
                    exit(130)
                }
            }
            source.resume()
            return source
        }
    }

    /// Whether a stop was requested.
    var isRequested: Bool { count.value.load(ordering: .relaxed) > 0 }
}
