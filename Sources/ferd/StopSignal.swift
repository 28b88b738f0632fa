import Dispatch
import Foundation
import Synchronization

/// Turns the first SIGINT or SIGTERM into a polite stop request (the job finishes its step and leaves
/// a resumable checkpoint) and the second into an immediate exit.
final class StopSignal: Sendable {
    private final class Count: Sendable {
        let value = Atomic<Int>(0)
    }

    private let count = Count()
    private nonisolated(unsafe) var sources: [DispatchSourceSignal] = []

    init() {
        let count = self.count
        sources = [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                if count.value.wrappingAdd(1, ordering: .relaxed).newValue == 1 {
                    FileHandle.standardError.write(Data("\nferd: stopping after this step (signal again to stop at once)\n".utf8))
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
