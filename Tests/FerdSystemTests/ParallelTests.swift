import Dispatch
import FerdSystem
import Synchronization
import XCTest

/// The parallel loops cover every index exactly once, split work the same way every run, and the clock only
/// moves forward.
final class ParallelTests: XCTestCase {
    func testForRangeCoversEveryIndexOnceInDisjointChunks() {
        for count in [0, 1, 7, 40_000, 100_003] {
            let seen = Mutex([Int](repeating: 0, count: count))
            Parallel.forRange(count) { range in
                seen.withLock { for i in range { $0[i] += 1 } }
            }
            XCTAssertEqual(seen.withLock { $0 }, [Int](repeating: 1, count: count), "count \(count)")
        }
    }

    func testForEachItemGivesEachWorkerAFixedStride() {
        let owners = Mutex([Int](repeating: -1, count: 50))
        Parallel.forEachItem(50, workers: 3) { worker, item in owners.withLock { $0[item] = worker } }
        XCTAssertEqual(owners.withLock { $0 }, (0..<50).map { $0 % 3 })
    }

    func testMapKeepsOrderAndWorkersAreBounded() {
        XCTAssertEqual(Parallel.map(1000, workers: 4) { $0 * $0 }, (0..<1000).map { $0 * $0 })
        XCTAssertEqual(Parallel.workers(for: 0), 1)
        XCTAssertEqual(Parallel.workers(for: 100, limit: 3), 3)
        XCTAssertEqual(Parallel.workers(for: 2, limit: 8), 2)
    }

    func testThreadingCountIsAtLeastOne() {
        let before = Threading.count
        defer { Threading.setCount(before) }
        Threading.setCount(0)
        XCTAssertEqual(Threading.count, 1)
        Threading.setCount(3)
        XCTAssertEqual(Threading.count, 3)
    }

    func testTheMonotonicClockNeverGoesBack() {
        var last = MonotonicClock.seconds()
        for _ in 0..<1000 {
            let now = MonotonicClock.seconds()
            XCTAssertGreaterThanOrEqual(now, last)
            last = now
        }
    }
}
