import Dispatch
import Foundation
import Synchronization

/// Turns the first SIGINT or SIGTERM into a polite stop request (the job finishes its step or epoch
/// and leaves a resumable state; `onStop` runs once) and the second into an immediate exit.
final class SignalTrap: Sendable {
    private final class Count: Sendable {
        let value = Atomic<Int>(0)
    }

    private let count = Count()
    private nonisolated(unsafe) var sources: [DispatchSourceSignal] = []

    init(onStop: @escaping @Sendable () -> Void = {}) {
        let count = self.count
        sources = [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                if count.value.wrappingAdd(1, ordering: .relaxed).newValue == 1 {
                    FileHandle.standardError.write(Data("\nferd: stopping after the current step (signal again to stop at once)\n".utf8))
                    onStop()
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
