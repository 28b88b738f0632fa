import FerdTensor
import Foundation

/// SCN's relabelled training labels of one trial, by clip ID: the dataset's label and the one training now uses.
/// Only clips relabelled at least once are held; every other clip keeps its dataset label. Test batches never
/// consult it. It is saved in the resume checkpoint and, in a gang, identical on every member.
public struct LabelStore: Sendable, Equatable, Codable {
    /// One relabelled clip: its label in the dataset and its current label.
    public struct Entry: Sendable, Equatable, Codable {
        public var original: Int
        public var current: Int
    }

    /// One replacement: `clipID`'s label went from `from` to `to`.
    public struct Change: Sendable, Equatable, Codable {
        public var clipID: String
        public var from: Int
        public var to: Int
    }

    public private(set) var entries: [String: Entry] = [:]

    public init() {}

    /// The labels training uses for a batch: each clip's current label, else the batch's.
    public func labels(for clipIDs: [String], dataset: [Int]) -> [Int] {
        zip(clipIDs, dataset).map { id, label in entries[id]?.current ?? label }
    }

    /// SCN's relabelling of one batch (its `train.py`): with p = softmax(logits) of each clip, wherever
    /// max p − p[y] > `margin` the clip's label becomes argmax p. `targets` are the labels the step trained on
    /// (from ``labels(for:dataset:)``), `dataset` the batch's own. Returns the changes, in batch order.
    public static func relabel(clipIDs: [String], targets: [Int], logits: [Float], classes: Int, margin: Float) -> [Change] {
        var changes: [Change] = []
        for (row, (id, target)) in zip(clipIDs, targets).enumerated() {
            let scores = logits[(row * classes)..<((row + 1) * classes)]
            let top = scores.max()!
            let exponentials = scores.map { exp($0 - top) }
            let sum = exponentials.reduce(0, +)
            let probabilities = exponentials.map { $0 / sum }
            let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
            if probabilities[best] - probabilities[target] > margin {
                changes.append(Change(clipID: id, from: target, to: best))
            }
        }
        return changes
    }

    /// Applies `changes` in order (a clip not yet held had its dataset label as `from`).
    public mutating func apply(_ changes: [Change]) {
        for change in changes {
            entries[change.clipID] = Entry(original: entries[change.clipID]?.original ?? change.from, current: change.to)
        }
    }

    /// The epoch's report: the changes by label before (rows) and after (columns), and the clips held whose
    /// label differs from the dataset's, by dataset class.
    public func report(changes: [Change], classes: Int) -> RelabelReport {
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for change in changes where change.from < classes && change.to < classes { matrix[change.from][change.to] += 1 }
        var differing = [Int](repeating: 0, count: classes)
        for entry in entries.values where entry.current != entry.original && entry.original < classes {
            differing[entry.original] += 1
        }
        return RelabelReport(changed: changes.count, changes: matrix, relabelledByClass: differing)
    }
}

/// What SCN's relabelling did in one epoch (`EpochReport.relabels`, JSON `"relabels"`).
public struct RelabelReport: Sendable, Codable, Equatable {
    /// Labels replaced in the epoch (a clip replaced in two epochs counts in each).
    public var changed: Int
    /// The epoch's replacements: `changes[from][to]`, by the label before and after (JSON `from_to`).
    public var changes: [[Int]]
    /// Training clips whose label differs from the dataset's after the epoch, by dataset class, in label order
    /// (JSON `relabelled_by_class`).
    public var relabelledByClass: [Int]

    enum CodingKeys: String, CodingKey {
        case changed
        case changes = "from_to"
        case relabelledByClass = "relabelled_by_class"
    }

    public init(changed: Int, changes: [[Int]], relabelledByClass: [Int]) {
        self.changed = changed
        self.changes = changes
        self.relabelledByClass = relabelledByClass
    }
}
