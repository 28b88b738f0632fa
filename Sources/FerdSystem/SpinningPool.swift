import CProcessorHints
import Dispatch
import Foundation
import Synchronization

/// The threads of ``Parallel``'s loops: the calling thread and `Threading.count − 1` workers that, after a
/// loop, spin for a short while before they sleep. A training step runs hundreds of parallel loops, tens of
/// microseconds apart; `concurrentPerform` wakes a sleeping thread for each, and that wake-up (tens of
/// microseconds, more on a loaded virtual machine) was a loop's whole length for the small operations. OpenMP
/// runtimes, which PyTorch's loops run on, spin the same way.
///
/// One loop at a time: a loop started while another runs (from another thread, or inside a loop's body) goes
/// to `concurrentPerform`, so nesting and concurrent callers work as before.
final class SpinningPool: @unchecked Sendable {
    static let shared = SpinningPool()
    /// How long an idle worker spins for the next loop before it sleeps.
    static let spinNanoseconds: UInt64 = 300_000
    /// The largest iteration count the pool takes (the index fields' width); larger loops go to `concurrentPerform`.
    static let maximumIterations = 1 << 19

    /// The current loop in one word, so that a worker's claim of an index and the loop it belongs to are read
    /// together: generation (bits 40–63), iteration count (bits 20–39), next unclaimed index (bits 0–19).
    private let state = Atomic<UInt64>(0)
    /// Iterations of the current loop that have finished.
    private let finished = Atomic<Int>(0)
    /// Workers (by index) allowed to take part in the current loop: the loop's `threads − 1`.
    private let participants = Atomic<Int>(0)
    /// Held by the thread running a loop on the pool.
    private let running = Atomic<Bool>(false)
    /// The current loop's body; written before its generation is published, cleared after it finished.
    private var body: ((Int) -> Void)?
    /// Grown while `running` is held; workers are never removed.
    private var workers: [Worker] = []

    private final class Worker: Sendable {
        let index: Int
        let parked = Atomic<Bool>(false)
        let wake = DispatchSemaphore(value: 0)
        init(index: Int) { self.index = index }
    }

    /// `body(i)` for every i in `0..<iterations`, on up to `threads` threads (the caller included); returns
    /// when all have finished. Which thread runs which index is not fixed.
    func perform(iterations: Int, threads: Int, _ body: (Int) -> Void) {
        guard iterations > 1, threads > 1 else {
            for index in 0..<iterations { body(index) }
            return
        }
        guard iterations <= Self.maximumIterations,
              running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            withoutActuallyEscaping(body) { body in
                let shared = UncheckedSendable(body)
                DispatchQueue.concurrentPerform(iterations: iterations) { shared.value($0) }
            }
            return
        }
        defer { running.store(false, ordering: .releasing) }
        while workers.count < threads - 1 { startWorker(index: workers.count) }
        withoutActuallyEscaping(body) { body in
            self.body = body
            finished.store(0, ordering: .relaxed)
            participants.store(threads - 1, ordering: .relaxed)
            let generation = (state.load(ordering: .relaxed) >> 40) &+ 1
            state.store(generation << 40 | UInt64(iterations) << 20, ordering: .sequentiallyConsistent)
            for worker in workers.prefix(threads - 1) where worker.parked.exchange(false, ordering: .sequentiallyConsistent) {
                worker.wake.signal()
            }
            takePart()
            var spins = 0
            while finished.load(ordering: .acquiring) < iterations {
                ferd_spin_pause()
                spins += 1
                if spins & 1023 == 0 { sched_yield() }
            }
            self.body = nil
        }
    }

    /// Claims and runs indices of the current loop until none is left.
    private func takePart() {
        while true {
            let claim = state.wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue
            let index = Int(claim & 0xF_FFFF), iterations = Int(claim >> 20 & 0xF_FFFF)
            guard index < iterations else { return }
            body!(index)
            finished.wrappingAdd(1, ordering: .releasing)
        }
    }

    private func startWorker(index: Int) {
        let worker = Worker(index: index)
        workers.append(worker)
        let thread = Thread { [self] in run(worker) }
        thread.name = "ferd-compute-\(index + 1)"
        thread.start()
    }

    /// A worker's life: wait for a new generation (spinning, then asleep), take part if it is one of the
    /// loop's participants, repeat.
    private func run(_ worker: Worker) {
        var seen = state.load(ordering: .acquiring) >> 40
        while true {
            var spins = 0, spinStart: UInt64 = 0
            while state.load(ordering: .acquiring) >> 40 == seen {
                ferd_spin_pause()
                spins += 1
                guard spins & 255 == 0 else { continue }
                let now = DispatchTime.now().uptimeNanoseconds
                if spinStart == 0 {
                    spinStart = now
                } else if now - spinStart > Self.spinNanoseconds {
                    park(worker, seen: seen)
                    spins = 0
                    spinStart = 0
                }
            }
            seen = state.load(ordering: .acquiring) >> 40
            if worker.index < participants.load(ordering: .acquiring) { takePart() }
        }
    }

    /// Sleeps until the caller of a new loop wakes this worker, unless that loop was published meanwhile.
    private func park(_ worker: Worker, seen: UInt64) {
        worker.parked.store(true, ordering: .sequentiallyConsistent)
        if state.load(ordering: .sequentiallyConsistent) >> 40 != seen,
           worker.parked.exchange(false, ordering: .sequentiallyConsistent) {
            return
        }
        // Either nothing new was published, or its caller took the flag and signals (or has signalled).
        worker.wake.wait()
    }
}
