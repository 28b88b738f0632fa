import Foundation
import Synchronization
import XCTest
@testable import FerdRuntime

final class ChildProcessTests: XCTestCase {
    /// Children that exit at once, started and waited for on several threads at the same time (as the members of a
    /// gang on one worker are), are each seen to exit with their own status.
    func testFastExitsAreSeenFromManyThreads() {
        let statuses = Mutex([Int: Int32]())
        DispatchQueue.concurrentPerform(iterations: 24) { index in
            let child = ChildProcess()
            child.process.executableURL = URL(fileURLWithPath: "/bin/sh")
            child.process.arguments = ["-c", "exit \(index % 5)"]
            do {
                try child.run()
            } catch {
                return
            }
            child.waitUntilExit()
            statuses.withLock { $0[index] = child.process.terminationStatus }
        }
        XCTAssertEqual(statuses.withLock { $0 }, Dictionary(uniqueKeysWithValues: (0..<24).map { ($0, Int32($0 % 5)) }))
    }

    func testAChildThatCannotStartIsNotWaitedFor() {
        let child = ChildProcess()
        child.process.executableURL = URL(fileURLWithPath: "/nonexistent/program")
        XCTAssertThrowsError(try child.run())
        child.waitUntilExit()
    }
}
