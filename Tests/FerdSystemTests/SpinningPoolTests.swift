import Dispatch
import FerdSystem
import Foundation
import Synchronization
import XCTest

/// `Parallel.perform` on the spinning pool: every index runs exactly once and the call returns only when all
/// have, whether the workers are spinning or asleep, whatever the thread count, for loops inside loops and
/// for several callers at once.
final class SpinningPoolTests: XCTestCase {
    private var threadsBefore = 1
    override func setUp() { threadsBefore = Threading.count }
    override func tearDown() { Threading.setCount(threadsBefore) }

    /// Runs `iterations` indices and checks that each ran once and all had finished when the call returned.
    private func checkLoop(_ iterations: Int, file: StaticString = #filePath, line: UInt = #line) {
        let counts = UnsafeMutableBufferPointer<Atomic<Int>>.allocate(capacity: max(1, iterations))
        for i in 0..<max(1, iterations) { (counts.baseAddress! + i).initialize(to: Atomic(0)) }
        defer { counts.deallocate() }
        let shared = UncheckedSendable(counts)
        Parallel.perform(iterations) { index in
            if index % 3 == 0 { usleep(50) }
            shared.value[index].wrappingAdd(1, ordering: .relaxed)
        }
        for i in 0..<iterations where counts[i].load(ordering: .relaxed) != 1 {
            XCTFail("index \(i) of \(iterations) ran \(counts[i].load(ordering: .relaxed)) times", file: file, line: line)
            return
        }
    }

    func testEveryIndexRunsOnceForManyLoopsAndThreadCounts() {
        for threads in [1, 2, 3, 4] {
            Threading.setCount(threads)
            for iterations in [0, 1, 2, 3, 5, 8, 17, 64, 1000] {
                for _ in 0..<20 { checkLoop(iterations) }
            }
        }
    }

    /// Past the spin time the workers sleep; the next loop wakes them (or runs without them) and completes.
    func testLoopsAfterTheWorkersFellAsleep() {
        Threading.setCount(2)
        for _ in 0..<20 {
            usleep(2_000)
            checkLoop(4)
        }
    }

    /// A loop inside a loop's body, and loops started from several threads at once, all complete.
    func testNestedAndConcurrentLoops() {
        Threading.setCount(2)
        let total = Atomic<Int>(0)
        Parallel.perform(4) { _ in
            Parallel.perform(5) { _ in total.wrappingAdd(1, ordering: .relaxed) }
        }
        XCTAssertEqual(total.load(ordering: .relaxed), 20)
        total.store(0, ordering: .relaxed)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<50 {
                Parallel.perform(3) { _ in total.wrappingAdd(1, ordering: .relaxed) }
            }
        }
        XCTAssertEqual(total.load(ordering: .relaxed), 4 * 50 * 3)
    }
}
