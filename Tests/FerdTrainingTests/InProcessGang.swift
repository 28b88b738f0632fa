import FerdTestSupport
import FerdTraining
import Foundation

/// Why an in-process gang call failed.
struct InProcessGangError: Error, CustomStringConvertible {
    let description: String
}

/// A gang whose members are threads of this process: every collective call is a round in which each
/// member deposits its contribution and all receive every member's, indexed by rank. Sums and means
/// are float32, accumulated in rank order (``combine(_:average:)``), so a test can reproduce them.
final class InProcessGang: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var round = 0
    private var deposits: [Any?]
    private var published: [Any] = []
    private var abandoned: String?

    init(size: Int) {
        self.size = size
        deposits = Array(repeating: nil, count: size)
    }

    /// The members, one per rank; `perturb` may change what one member's `finishStep` writes.
    func members(perturb: ((_ rank: Int, _ index: Int, inout [Float]) -> Void)? = nil) -> [InProcessMember] {
        (0..<size).map { InProcessMember(rank: $0, gang: self, perturb: perturb) }
    }

    /// Makes every waiting and later round throw (a member has left).
    func abandon(_ reason: String) {
        condition.lock()
        abandoned = reason
        condition.broadcast()
        condition.unlock()
    }

    /// Deposits `value` for `rank` and returns every member's deposit of this round.
    func exchange<Value>(_ rank: Int, _ value: Value) throws -> [Value] {
        condition.lock()
        defer { condition.unlock() }
        if let abandoned { throw InProcessGangError(description: abandoned) }
        let mine = round
        deposits[rank] = value
        if deposits.allSatisfy({ $0 != nil }) {
            published = deposits.map { $0! }
            deposits = Array(repeating: nil, count: size)
            round += 1
            condition.broadcast()
        } else {
            while round == mine {
                if let abandoned { throw InProcessGangError(description: abandoned) }
                guard condition.wait(until: Date().addingTimeInterval(60)) || round != mine else {
                    throw InProcessGangError(description: "rank \(rank) waited 60 s for the others")
                }
            }
        }
        guard let values = published as? [Value] else {
            throw InProcessGangError(description: "the members made different calls in round \(mine)")
        }
        return values
    }

    /// The element-wise sum of `contributions` in rank order, divided by their number when `average`: the
    /// reference's arithmetic (``ShardAveragingReference/combine(_:average:)``).
    static func combine(_ contributions: [[Float]], average: Bool) -> [Float] {
        ShardAveragingReference.combine(contributions, average: average)
    }
}

/// One member of an ``InProcessGang``. It also checks the trainer's side of the protocol: gradients are
/// offered once each, in the order announced, with the announced sizes.
final class InProcessMember: GangCommunicator, @unchecked Sendable {
    let rank: Int
    private let gang: InProcessGang
    private let perturb: ((Int, Int, inout [Float]) -> Void)?
    private var sizes: [Int] = []
    private var offered: [[Float]] = []
    /// Steps finished.
    private(set) var steps = 0

    init(rank: Int, gang: InProcessGang, perturb: ((Int, Int, inout [Float]) -> Void)?) {
        self.rank = rank
        self.gang = gang
        self.perturb = perturb
    }

    var size: Int { gang.size }

    func beginStep(sizes: [Int]) throws {
        guard offered.count == self.sizes.count else { throw InProcessGangError(description: "a step began before the last finished") }
        self.sizes = sizes
        offered = []
    }

    func offer(_ index: Int, _ gradient: UnsafeBufferPointer<Float>) throws {
        guard index == offered.count, index < sizes.count, gradient.count == sizes[index] else {
            throw InProcessGangError(description: "rank \(rank) offered \(index) (\(gradient.count) values) out of order")
        }
        offered.append(Array(gradient))
    }

    func finishStep(_ write: (Int, UnsafeBufferPointer<Float>) -> Void) throws {
        guard offered.count == sizes.count else {
            throw InProcessGangError(description: "rank \(rank) finished a step with \(offered.count) of \(sizes.count) gradients")
        }
        let all = try gang.exchange(rank, offered)
        guard all.allSatisfy({ $0.map(\.count) == sizes }) else {
            throw InProcessGangError(description: "the members began the step with different sizes")
        }
        for index in sizes.indices {
            var average = InProcessGang.combine(all.map { $0[index] }, average: true)
            perturb?(rank, index, &average)
            average.withUnsafeBufferPointer { write(index, $0) }
        }
        steps += 1
    }

    func allReduce(_ values: inout [Float], average: Bool) throws {
        values = InProcessGang.combine(try gang.exchange(rank, values), average: average)
    }

    func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        try gang.exchange(rank, bytes)
    }
}
