/// What the trainer needs from the other members of a data-parallel gang (docs/DATA-PARALLEL.md).
///
/// Every member calls the same methods in the same order with buffers of the same sizes; each call returns
/// the same values on every member, bit for bit, so replicas that apply them stay identical. A call throws
/// when a member is gone, silent for too long, or the attempt was cancelled; the trainer then stops.
///
/// One training step: `beginStep(sizes:)` with the element counts of the gradients in the order they will
/// become final during the backward pass, `offer(_:_:)` for each of them as soon as it is final (an
/// implementation may start sending while the rest of the backward pass runs), then `finishStep(_:)`, which
/// waits for the averages and hands each one back by index.
public protocol GangCommunicator: AnyObject {
    /// This member's position in the gang, 0..<size.
    var rank: Int { get }
    /// The number of members.
    var size: Int { get }
    /// Begins a step whose gradients have these element counts, in the order they will be offered.
    func beginStep(sizes: [Int]) throws
    /// The gradient at `index` of the step's order is final; the values are copied before this returns.
    func offer(_ index: Int, _ gradient: UnsafeBufferPointer<Float>) throws
    /// Waits until every offered gradient has been averaged over the members and calls `write` once per
    /// index with the average (valid only during the call).
    func finishStep(_ write: (Int, UnsafeBufferPointer<Float>) -> Void) throws
    /// Replaces `values` with their element-wise mean (`average`) or sum over the members, in place.
    func allReduce(_ values: inout [Float], average: Bool) throws
    /// Every member's `bytes`, indexed by rank.
    func allGather(_ bytes: [UInt8]) throws -> [[UInt8]]
}
