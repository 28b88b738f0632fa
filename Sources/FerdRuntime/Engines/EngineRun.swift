import FerdTraining
import Foundation

/// One event an engine printed on stdout (docs/ENGINES.md, contract version 1).
public enum EngineEvent: Equatable, Sendable {
    case started(contract: Int, description: String, startEpoch: Int)
    case progress(epoch: Int, phase: String, batch: Int, batches: Int, loss: Double?)
    case checkpoint(epoch: Int, file: String)
    case epoch(EngineEpoch)
    case stopped(afterEpoch: Int)
    case done(epochs: Int)
    case failed(reason: String, kind: String, retryable: Bool)

    /// The contract version this worker speaks.
    public static let contractVersion = 1
    /// The longest line read from an engine; a longer one is a broken engine.
    public static let maximumLineBytes = 1 << 20

    /// Decodes one stdout line; the error says what is wrong with it.
    public static func decode(_ line: String) throws(EngineLineError) -> EngineEvent {
        guard line.utf8.count <= maximumLineBytes else { throw EngineLineError("a line of \(line.utf8.count) bytes (at most \(maximumLineBytes))") }
        let fields: EngineLine
        do {
            fields = try JSONDecoder().decode(EngineLine.self, from: Data(line.utf8))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw EngineLineError("\"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type")
        } catch let DecodingError.keyNotFound(key, _) {
            throw EngineLineError("no \"\(key.stringValue)\" field")
        } catch {
            throw EngineLineError("not a JSON object")
        }
        func required<Value>(_ value: Value?, _ key: String) throws(EngineLineError) -> Value {
            guard let value else { throw EngineLineError("\(fields.event) without \"\(key)\"") }
            return value
        }
        switch fields.event {
        case "started":
            let description = [("engine", fields.engine), ("version", fields.version), ("torch", fields.torch),
                               ("device", fields.device), ("device_name", fields.device_name)]
                .compactMap { key, value in value.map { "\(key) \($0)" } }.joined(separator: ", ")
            return .started(contract: try required(fields.contract, "contract"), description: description,
                            startEpoch: fields.start_epoch ?? 1)
        case "progress":
            return .progress(epoch: try required(fields.epoch, "epoch"), phase: fields.phase ?? "train",
                             batch: try required(fields.batch, "batch"), batches: try required(fields.batches, "batches"),
                             loss: fields.loss)
        case "checkpoint":
            let file = try required(fields.file, "file")
            guard !file.isEmpty else { throw EngineLineError("checkpoint with an empty \"file\"") }
            return .checkpoint(epoch: try required(fields.epoch, "epoch"), file: file)
        case "epoch":
            let counts = try required(fields.confusion, "confusion")
            guard counts.allSatisfy({ $0.allSatisfy { $0 >= 0 } }) else { throw EngineLineError("confusion holds a negative count, not a count") }
            guard let matrix = ConfusionMatrix(counts: counts) else {
                throw EngineLineError("confusion is not a square matrix of counts")
            }
            return .epoch(EngineEpoch(epoch: try required(fields.epoch, "epoch"), trainLoss: try required(fields.train_loss, "train_loss"),
                                      learningRate: fields.learning_rate ?? 0, seconds: fields.seconds ?? 0,
                                      confusion: matrix, relabels: fields.relabels))
        case "stopped":
            return .stopped(afterEpoch: try required(fields.after_epoch, "after_epoch"))
        case "done":
            return .done(epochs: try required(fields.epochs, "epochs"))
        case "failed":
            return .failed(reason: fields.reason ?? "no reason given", kind: fields.kind ?? "internal",
                           retryable: fields.retryable ?? true)
        default:
            throw EngineLineError("unknown event \"\(fields.event)\"")
        }
    }
}

/// The fields an event line may carry, as the contract names them.
private struct EngineLine: Decodable {
    var event: String
    var contract: Int?
    var engine: String?
    var version: String?
    var torch: String?
    var device: String?
    var device_name: String?
    var start_epoch: Int?
    var epoch: Int?
    var phase: String?
    var batch: Int?
    var batches: Int?
    var loss: Double?
    var file: String?
    var train_loss: Double?
    var learning_rate: Double?
    var seconds: Double?
    var confusion: [[Int]]?
    var relabels: RelabelReport?
    var after_epoch: Int?
    var epochs: Int?
    var reason: String?
    var kind: String?
    var retryable: Bool?
}

/// What an engine reported for one epoch; UAR and WAR come from ferd's own `ConfusionMatrix`.
public struct EngineEpoch: Equatable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var learningRate: Double
    public var seconds: Double
    public var confusion: ConfusionMatrix
    /// SCN's relabelling in the epoch (`"relabels"`, as in metrics.jsonl); nil when the engine sent none.
    public var relabels: RelabelReport?
}

/// Why an engine's line was refused.
public struct EngineLineError: Error, CustomStringConvertible, Equatable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The worker's side of one engine process, free of processes, files and clocks: feed it the engine's lines
/// and the passing time, carry out the actions it returns, and ask it for the outcome when the process ends.
///
/// It checks the contract (version, epoch order, matrix size), computes each epoch's report with ferd's
/// metrics, decides the best epoch as the Swift trainer does (strictly better than every earlier one), and
/// declares the engine hung after `timeout` seconds without a line.
public struct EngineRun: Sendable {
    /// What the shell must do.
    public enum Action: Equatable, Sendable {
        /// An epoch ended: store its report and, if the engine wrote one, turn `checkpoint` into the run
        /// folder's resume (and, when `isBest`, best) checkpoint before announcing the epoch.
        case epoch(EpochReport, isBest: Bool, checkpoint: String?, history: [EpochReport])
        case progress(epoch: Int, phase: String, batch: Int, batches: Int, loss: Double?)
        case log(String)
        /// Stop the engine now (it broke the contract or hung); the outcome says why.
        case kill
    }

    /// How the engine ended, once its process has exited.
    public enum Outcome: Equatable, Sendable {
        case completed(history: [EpochReport], best: EpochReport)
        /// Stopped on request (SIGTERM) after the epochs in `history`.
        case stopped(history: [EpochReport])
        case failed(reason: String, retryable: Bool)
    }

    public let settings: TrainingSettings
    public let timeout: Double
    public private(set) var history: [EpochReport]
    private var started = false
    private var lastLine: Double
    private var checkpoints: [Int: String] = [:]
    private var ending: Outcome?

    /// A run that continues after `history` (the epochs of a resume checkpoint), started at `time`.
    public init(settings: TrainingSettings, history: [EpochReport] = [], timeout: Double, at time: Double) {
        self.settings = settings
        self.history = history
        self.timeout = timeout
        lastLine = time
    }

    /// Handles one line of the engine's stdout.
    public mutating func receive(_ line: String, at time: Double) -> [Action] {
        lastLine = time
        guard ending == nil else { return [] }
        let event: EngineEvent
        do {
            event = try EngineEvent.decode(line)
        } catch {
            return breach("printed a line that breaks the engine contract (\(error)): \(Self.quote(line))")
        }
        switch event {
        case let .started(contract, description, startEpoch):
            guard contract == EngineEvent.contractVersion else {
                return breach("speaks engine contract \(contract), this worker \(EngineEvent.contractVersion); run matching ferd and ferd_torch versions", retryable: false)
            }
            guard startEpoch == history.count + 1 else {
                return breach("starts at epoch \(startEpoch) but the resume checkpoint holds \(history.count) epochs")
            }
            started = true
            return [.log("engine started (\(description))")]
        case let .progress(epoch, phase, batch, batches, loss):
            return started ? [.progress(epoch: epoch, phase: phase, batch: batch, batches: batches, loss: loss)] : []
        case let .checkpoint(epoch, file):
            checkpoints[epoch] = file
            return []
        case let .epoch(reported):
            guard started else { return breach("reported an epoch before \"started\"") }
            guard reported.epoch == history.count + 1 else {
                return breach("reported epoch \(reported.epoch) after epoch \(history.count)")
            }
            guard reported.confusion.classes == settings.model.classes else {
                return breach("reported a \(reported.confusion.classes)×\(reported.confusion.classes) confusion matrix for \(settings.model.classes) classes")
            }
            guard reported.trainLoss.isFinite else { return breach("reported a training loss of \(reported.trainLoss)") }
            let report = EpochReport(epoch: reported.epoch, trainLoss: reported.trainLoss, learningRate: reported.learningRate,
                                     seconds: reported.seconds, matrix: reported.confusion, relabels: reported.relabels)
            let isBest = history.allSatisfy { report.score(settings.bestBy) > $0.score(settings.bestBy) }
            history.append(report)
            return [.epoch(report, isBest: isBest, checkpoint: checkpoints.removeValue(forKey: report.epoch), history: history)]
        case let .stopped(afterEpoch):
            guard afterEpoch == history.count else {
                return breach("stopped after epoch \(afterEpoch) but reported \(history.count)")
            }
            ending = .stopped(history: history)
            return []
        case let .done(epochs):
            guard epochs == settings.epochs, history.count == settings.epochs, let best = bestEpoch else {
                return breach("said done after \(history.count) of \(settings.epochs) epochs")
            }
            ending = .completed(history: history, best: best)
            return []
        case let .failed(reason, kind, retryable):
            ending = .failed(reason: "\(kind): \(reason)", retryable: retryable)
            return []
        }
    }

    /// Checks for a hung engine.
    public mutating func tick(at time: Double) -> [Action] {
        guard ending == nil, time - lastLine > timeout else { return [] }
        ending = .failed(reason: "the engine printed nothing for \(Int(timeout)) s (engine_timeout) and was stopped as hung", retryable: true)
        return [.kill]
    }

    /// The outcome once the process exited with `status` (negative: killed by signal −status); `stderrTail` is
    /// the last lines of its log.
    public func finished(status: Int32, stderrTail: [String]) -> Outcome {
        let log = stderrTail.isEmpty ? "" : "; engine log:\n" + stderrTail.joined(separator: "\n")
        switch ending {
        case .completed?, .stopped?:
            if status == 0 { return ending! }
            return .failed(reason: "the engine exited with \(Self.describe(status)) after it ended its run\(log)", retryable: true)
        case let .failed(reason, retryable)?:
            return .failed(reason: reason + log, retryable: retryable)
        case nil:
            return .failed(reason: "the engine exited with \(Self.describe(status)) after \(history.count) of \(settings.epochs) epochs without saying why\(log)",
                           retryable: true)
        }
    }

    /// The best epoch by the settings' metric (on a tie, the earliest).
    public var bestEpoch: EpochReport? {
        history.max { a, b in
            a.score(settings.bestBy) < b.score(settings.bestBy) || (a.score(settings.bestBy) == b.score(settings.bestBy) && a.epoch > b.epoch)
        }
    }

    private mutating func breach(_ problem: String, retryable: Bool = true) -> [Action] {
        ending = .failed(reason: "the engine \(problem)", retryable: retryable)
        return [.kill]
    }

    private static func quote(_ line: String) -> String {
        line.count > 200 ? "\"\(line.prefix(200))…\"" : "\"\(line)\""
    }

    private static func describe(_ status: Int32) -> String {
        status < 0 ? "signal \(-status)" : "status \(status)"
    }
}
