import FerdModels
import FerdTraining
import XCTest
@testable import FerdRuntime

/// The worker's side of the engine contract without processes: lines in, actions and outcomes out.
final class EngineRunTests: XCTestCase {
    private let settings = TrainingSettings(model: .small, epochs: 2, batchSize: 2, bestBy: .uar)

    private func confusion(correct: Int) -> String {
        let rows = (0..<7).map { row in (0..<7).map { column in row == column ? (row < correct ? 3 : 0) : (row >= correct && column == 0 ? 3 : 0) } }
        return "[" + rows.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
    }

    private func epochLine(_ epoch: Int, correct: Int) -> String {
        #"{"event":"epoch","epoch":\#(epoch),"train_loss":1.5,"learning_rate":0.001,"seconds":2,"confusion":\#(confusion(correct: correct))}"#
    }

    private let started = #"{"event":"started","contract":1,"engine":"ferd-torch","start_epoch":1}"#

    func testEpochsAreScoredByFerdAndTheBestIsTheStrictlyBetterOne() {
        var run = EngineRun(settings: settings, timeout: 60, at: 0)
        XCTAssertEqual(run.receive(started, at: 1), [.log("engine started (engine ferd-torch)")])
        XCTAssertEqual(run.receive(#"{"event":"checkpoint","epoch":1,"file":"engine-epoch-1.safetensors"}"#, at: 2), [])
        guard case let .epoch(first, isBest, checkpoint, _)? = run.receive(epochLine(1, correct: 4), at: 3).first else {
            return XCTFail("no epoch action")
        }
        XCTAssertTrue(isBest)
        XCTAssertEqual(checkpoint, "engine-epoch-1.safetensors")
        XCTAssertEqual(first.uar, 4.0 / 7.0, accuracy: 1e-12, "UAR computed by ferd's ConfusionMatrix")
        guard case let .epoch(second, secondIsBest, none, history)? = run.receive(epochLine(2, correct: 4), at: 4).first else {
            return XCTFail("no epoch action")
        }
        XCTAssertFalse(secondIsBest, "an equal score is not better (as in the Swift trainer)")
        XCTAssertNil(none)
        XCTAssertEqual(history.map(\.epoch), [1, 2])
        XCTAssertEqual(second.war, first.war)
        XCTAssertEqual(run.receive(#"{"event":"done","epochs":2}"#, at: 5), [])
        XCTAssertEqual(run.finished(status: 0, stderrTail: []), .completed(history: run.history, best: first))
    }

    func testAnEpochsRelabelsReachTheReport() {
        var run = EngineRun(settings: settings, timeout: 60, at: 0)
        _ = run.receive(started, at: 0)
        let fromTo = "[" + (0..<7).map { row in "[" + (0..<7).map { row == 1 && $0 == 4 ? "2" : "0" }.joined(separator: ",") + "]" }
            .joined(separator: ",") + "]"
        let line = epochLine(1, correct: 4).dropLast()
            + #","relabels":{"changed":2,"from_to":\#(fromTo),"relabelled_by_class":[0,2,0,0,0,0,0]}}"#
        guard case let .epoch(report, _, _, _)? = run.receive(String(line), at: 1).first else { return XCTFail("no epoch action") }
        XCTAssertEqual(report.relabels?.changed, 2)
        XCTAssertEqual(report.relabels?.changes[1][4], 2)
        XCTAssertEqual(report.relabels?.relabelledByClass, [0, 2, 0, 0, 0, 0, 0])
        guard case let .epoch(plain, _, _, _)? = run.receive(epochLine(2, correct: 4), at: 2).first else { return XCTFail("no epoch action") }
        XCTAssertNil(plain.relabels, "an epoch without the field has none")
    }

    func testBrokenContractKillsTheEngineAndQuotesTheLine() {
        var run = EngineRun(settings: settings, timeout: 60, at: 0)
        _ = run.receive(started, at: 0)
        XCTAssertEqual(run.receive("Traceback (most recent call last):", at: 1), [.kill])
        guard case let .failed(reason, retryable) = run.finished(status: -9, stderrTail: ["boom"]) else { return XCTFail() }
        XCTAssertTrue(reason.contains("breaks the engine contract") && reason.contains("\"Traceback"), reason)
        XCTAssertTrue(reason.hasSuffix("engine log:\nboom"), reason)
        XCTAssertTrue(retryable)
    }

    func testContractChecks() {
        func failure(_ lines: [String], _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
            var run = EngineRun(settings: settings, timeout: 60, at: 0)
            for text in lines { _ = run.receive(text, at: 0) }
            guard case let .failed(reason, _) = run.finished(status: 1, stderrTail: []) else { return XCTFail(file: file, line: line) }
            XCTAssertTrue(reason.contains(expected), reason, file: file, line: line)
        }
        failure([#"{"event":"started","contract":2}"#], "speaks engine contract 2")
        failure([epochLine(1, correct: 2)], "before \"started\"")
        failure([started, epochLine(2, correct: 2)], "reported epoch 2 after epoch 0")
        failure([started, #"{"event":"epoch","epoch":1,"train_loss":1,"confusion":[[1,2],[3,4]]}"#], "2×2 confusion matrix for 7 classes")
        failure([started, #"{"event":"epoch","epoch":1,"train_loss":1,"confusion":[[1,-2]]}"#], "not a count")
        failure([started, #"{"event":"teleport"}"#], "unknown event \"teleport\"")
        failure([started, epochLine(1, correct: 2), #"{"event":"done","epochs":2}"#], "said done after 1 of 2 epochs")
        failure([started, #"{"event":"failed","reason":"CUDA out of memory at batch 40","kind":"out_of_memory","retryable":false}"#],
                "out_of_memory: CUDA out of memory at batch 40")
        failure([started], "exited with status 1 after 0 of 2 epochs without saying why")
    }

    func testSilenceLongerThanTheTimeoutIsAHang() {
        var run = EngineRun(settings: settings, timeout: 30, at: 100)
        XCTAssertEqual(run.tick(at: 129), [])
        _ = run.receive(started, at: 129)
        XCTAssertEqual(run.tick(at: 158), [])
        XCTAssertEqual(run.tick(at: 160), [.kill])
        guard case let .failed(reason, retryable) = run.finished(status: -9, stderrTail: []) else { return XCTFail() }
        XCTAssertTrue(reason.contains("printed nothing for 30 s"), reason)
        XCTAssertTrue(retryable)
    }

    func testAResumedRunContinuesAfterItsHistory() {
        var first = EngineRun(settings: settings, timeout: 60, at: 0)
        _ = first.receive(started, at: 0)
        _ = first.receive(epochLine(1, correct: 5), at: 0)
        var resumed = EngineRun(settings: settings, history: first.history, timeout: 60, at: 0)
        XCTAssertEqual(resumed.receive(started, at: 0), [.kill], "the engine must start after the resumed epochs")
        var correct = EngineRun(settings: settings, history: first.history, timeout: 60, at: 0)
        _ = correct.receive(#"{"event":"started","contract":1,"start_epoch":2}"#, at: 0)
        guard case let .epoch(_, isBest, _, _)? = correct.receive(epochLine(2, correct: 3), at: 0).first else { return XCTFail() }
        XCTAssertFalse(isBest, "the resumed history's better epoch 1 stays the best")
        _ = correct.receive(#"{"event":"done","epochs":2}"#, at: 0)
        guard case let .completed(_, best) = correct.finished(status: 0, stderrTail: []) else { return XCTFail() }
        XCTAssertEqual(best.epoch, 1)
    }

    func testStoppedOnRequest() {
        var run = EngineRun(settings: settings, timeout: 60, at: 0)
        _ = run.receive(started, at: 0)
        _ = run.receive(epochLine(1, correct: 2), at: 0)
        _ = run.receive(#"{"event":"stopped","after_epoch":1}"#, at: 0)
        XCTAssertEqual(run.finished(status: 0, stderrTail: []), .stopped(history: run.history))
    }
}
