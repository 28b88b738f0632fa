import Foundation
import Synchronization

/// A contiguous, row-major float32 tensor that takes part in reverse-mode automatic differentiation.
///
/// Tensors created by an operation while gradients are recorded remember how to send a gradient back to
/// their inputs. Calling ``backward()`` on a scalar result fills ``grad`` of every leaf tensor that
/// requires a gradient (the parameters). Under ``Autograd/withoutGradient(_:)`` nothing is recorded and
/// no gradient buffers are allocated.
public final class Tensor {
    /// The extent of each dimension, outermost first (NCHW for images).
    public let shape: [Int]
    /// The values, row-major.
    public var data: [Float]
    /// The accumulated gradient of the last ``backward()`` with respect to this tensor, or nil.
    public var grad: [Float]?
    /// Whether a gradient flows into this tensor.
    public let requiresGrad: Bool
    fileprivate var node: BackwardNode?

    /// A leaf tensor holding `data`; parameters pass `requiresGrad: true`.
    public init(shape: [Int], data: [Float], requiresGrad: Bool = false) {
        precondition(shape.reduce(1, *) == data.count,
                     "tensor shape \(shape) needs \(shape.reduce(1, *)) values, got \(data.count)")
        self.shape = shape
        self.data = data
        self.requiresGrad = requiresGrad
        self.node = nil
    }

    /// A leaf tensor of zeros.
    public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)), requiresGrad: requiresGrad)
    }

    /// A leaf tensor with every value equal to `value`.
    public convenience init(repeating value: Float, shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, data: [Float](repeating: value, count: shape.reduce(1, *)), requiresGrad: requiresGrad)
    }

    /// A scalar (shape `[]`).
    public convenience init(scalar: Float) {
        self.init(shape: [], data: [scalar])
    }

    private init(shape: [Int], data: [Float], node: BackwardNode?) {
        self.shape = shape
        self.data = data
        self.requiresGrad = node != nil
        self.node = node
    }

    /// The number of values.
    public var count: Int { data.count }
    /// The number of dimensions.
    public var rank: Int { shape.count }
    /// Whether this tensor was made by the user rather than by an operation.
    public var isLeaf: Bool { node == nil }
    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item needs a one-element tensor, shape is \(shape)")
        return data[0]
    }

    /// Builds the result of an operation. When gradients are recorded and an input requires one,
    /// `backward` is kept and later called with the gradient of the result; it must add its
    /// contribution into the inputs with ``accumulateGrad(_:)``.
    public static func result(shape: [Int], data: [Float], inputs: [Tensor],
                              backward: @escaping (_ gradient: [Float]) -> Void) -> Tensor {
        Heap.configured
        if Autograd.isRecording && inputs.contains(where: { $0.requiresGrad }) {
            return Tensor(shape: shape, data: data,
                          node: BackwardNode(inputs: inputs, section: Profiler.currentSection, apply: backward))
        }
        return Tensor(shape: shape, data: data, node: nil)
    }

    /// Adds `contribution` to ``grad``, allocating it on first use. Does nothing when no gradient flows here.
    public func accumulateGrad(_ contribution: [Float]) {
        guard requiresGrad else { return }
        precondition(contribution.count == count)
        if grad == nil {
            grad = contribution
            return
        }
        grad!.withUnsafeMutableBufferPointer { g in
            contribution.withUnsafeBufferPointer { c in
                Kernels.addInPlace(g, c)
            }
        }
    }

    /// Lets `body` add into ``grad`` in place, allocating zeros on first use (zeroed by all threads). Does
    /// nothing when no gradient flows here.
    public func withGradBuffer(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        guard requiresGrad else { return }
        if grad == nil { grad = Kernels.zeros(count) }
        grad!.withUnsafeMutableBufferPointer { body($0) }
    }

    /// Lets `body` add its contribution into ``grad`` or, on first use, write it into a fresh buffer that
    /// nobody zeroed: `overwrite` tells which, and with `overwrite` the body must write every element
    /// (a GEMM with β = 0 instead of 1). Does nothing when no gradient flows here.
    func withGradTarget(_ body: (_ buffer: UnsafeMutableBufferPointer<Float>, _ overwrite: Bool) -> Void) {
        guard requiresGrad else { return }
        guard grad != nil else {
            grad = Kernels.uninitialized(count) { body($0, true) }
            return
        }
        grad!.withUnsafeMutableBufferPointer { body($0, false) }
    }

    /// Back-propagates from this one-element tensor: afterwards every leaf parameter that contributed
    /// holds d(self)/d(parameter) in ``grad`` (added to what was there). The recorded graph is released.
    public func backward() {
        run(seed: scalarSeed, hooked: false, announce: { _ in }, ready: { _ in })
    }

    /// Like ``backward()``, and calls `onLeafGradientReady` with each leaf requiring a gradient that the
    /// graph reaches as soon as no further contribution can reach it: right after the last operation
    /// (in processing order) that has the leaf as an input, so its ``grad`` is final during the call.
    /// Each such leaf is passed exactly once; the call order is the one ``backward(announcing:onLeafGradientReady:)``
    /// announces.
    public func backward(onLeafGradientReady: (Tensor) -> Void) {
        run(seed: scalarSeed, hooked: true, announce: { _ in }, ready: onLeafGradientReady)
    }

    /// Like ``backward(onLeafGradientReady:)``, and first, before any gradient is computed, calls
    /// `announcing` with every leaf that `onLeafGradientReady` will be called with, in that order. The
    /// order depends only on the structure of the recorded graph.
    public func backward(announcing: ([Tensor]) -> Void, onLeafGradientReady: (Tensor) -> Void) {
        run(seed: scalarSeed, hooked: true, announce: announcing, ready: onLeafGradientReady)
    }

    /// The gradient a backward pass starts from, d(self)/d(self) = 1, for a one-element tensor.
    private var scalarSeed: [Float] {
        precondition(count == 1, "backward() needs a one-element tensor, shape is \(shape)")
        return [1]
    }

    /// Back-propagates `seed`, the gradient of some loss with respect to this tensor, through the recorded graph.
    private func run(seed: [Float], hooked: Bool, announce: ([Tensor]) -> Void, ready: (Tensor) -> Void) {
        guard requiresGrad else { return }
        if node == nil {
            if hooked { announce([self]) }
            accumulateGrad(seed)
            if hooked { ready(self) }
            return
        }
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (tensor, expanded) = stack.popLast() {
            if expanded {
                order.append(tensor)
                continue
            }
            guard visited.insert(ObjectIdentifier(tensor)).inserted else { continue }
            stack.append((tensor, true))
            for input in tensor.node?.inputs ?? [] where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        order.reverse()
        let readyAt = hooked ? Self.leavesReady(processing: order, announce: announce) : []
        accumulateGrad(seed)
        for (step, tensor) in order.enumerated() {
            guard let node = tensor.node else { continue }
            if let gradient = tensor.grad {
                Profiler.backward(in: node.section) { node.apply(gradient) }
            }
            tensor.grad = nil
            tensor.node = nil
            if hooked { for leaf in readyAt[step] { ready(leaf) } }
        }
    }

    /// For each position of `order` (the processing order), the leaves whose last consumer is there, in
    /// input order; `announce` receives them all, flattened.
    private static func leavesReady(processing order: [Tensor], announce: ([Tensor]) -> Void) -> [[Tensor]] {
        var lastUse: [ObjectIdentifier: Int] = [:]
        for (step, tensor) in order.enumerated() {
            for input in tensor.node?.inputs ?? [] where input.requiresGrad && input.node == nil {
                lastUse[ObjectIdentifier(input)] = step
            }
        }
        var ready = [[Tensor]](repeating: [], count: order.count)
        for (step, tensor) in order.enumerated() {
            for input in tensor.node?.inputs ?? [] where input.node == nil {
                let id = ObjectIdentifier(input)
                if lastUse[id] == step {
                    ready[step].append(input)
                    lastUse[id] = nil
                }
            }
        }
        announce(ready.flatMap { $0 })
        return ready
    }

    /// A leaf copy of this tensor's values that records nothing.
    public func detached() -> Tensor {
        Tensor(shape: shape, data: data)
    }

    /// The result of `body` without the intermediate values its operations record: the backward pass
    /// runs `body` again, with ``Autograd/isRecomputing`` set, and back-propagates through that second run
    /// (activation checkpointing). The memory of `body`'s activations is held only while it runs, at the
    /// cost of one more forward pass. `body` must compute the same values when run again (no random
    /// draws), and the tensors it uses from outside must be leaves (parameters, buffers, inputs that need
    /// no gradient); batch norm moves its running statistics (and its layer counts the batch) on the first
    /// run only.
    public static func recomputed(_ body: @escaping () -> Tensor) -> Tensor {
        guard Autograd.isRecording else { return body() }
        let firstSerial = BackwardNode.serials.load(ordering: .relaxed)
        let first = body()
        guard first.node != nil else { return first }
        let section = Profiler.currentSection, shape = first.shape
        let node = BackwardNode(inputs: first.recordedLeaves(since: firstSerial), section: nil) { gradient in
            var again: Tensor?
            Profiler.backward(in: section) { again = Autograd.$recomputing.withValue(true, operation: body) }
            precondition(again!.shape == shape, "Tensor.recomputed: the body's second run gave shape \(again!.shape), its first \(shape)")
            again!.run(seed: gradient, hooked: false, announce: { _ in }, ready: { _ in })
        }
        return Tensor(shape: first.shape, data: first.data, node: node)
    }

    /// The leaves requiring a gradient that the graph recorded since node `serial` reaches; stops with a
    /// precondition failure at an older node (a tensor computed before ``recomputed(_:)``'s body ran).
    private func recordedLeaves(since serial: UInt64) -> [Tensor] {
        var leaves: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack = [self]
        while let tensor = stack.popLast() {
            for input in tensor.node?.inputs ?? [] where input.requiresGrad && visited.insert(ObjectIdentifier(input)).inserted {
                guard let node = input.node else {
                    leaves.append(input)
                    continue
                }
                precondition(node.serial >= serial,
                             "Tensor.recomputed: the body uses a tensor \(input.shape) computed before it ran; compute it inside the body or detach it")
                stack.append(input)
            }
        }
        return leaves
    }
}

/// What an operation remembers for the backward pass.
private final class BackwardNode {
    /// How many nodes were ever made, in every thread: a node's ``serial`` orders it after every node made before it.
    static let serials = Atomic<UInt64>(0)

    let inputs: [Tensor]
    /// The profiler section that recorded it, when profiling.
    let section: String?
    let apply: ([Float]) -> Void
    let serial: UInt64

    init(inputs: [Tensor], section: String?, apply: @escaping ([Float]) -> Void) {
        self.inputs = inputs
        self.section = section
        self.apply = apply
        serial = Self.serials.add(1, ordering: .relaxed).oldValue
    }
}

/// Switches gradient recording on and off for a scope (PyTorch's `no_grad`).
public enum Autograd {
    @TaskLocal static var recording = true

    @TaskLocal static var recomputing = false

    /// Whether operations currently record what the backward pass needs.
    public static var isRecording: Bool { recording }

    /// Whether operations run a second time for ``Tensor/recomputed(_:)``'s backward pass: state the first
    /// run already moved (batch norm's running statistics) stays as it is.
    public static var isRecomputing: Bool { recomputing }

    /// Runs `body` in inference mode: nothing is recorded, no gradient buffer is allocated.
    public static func withoutGradient<T>(_ body: () throws -> T) rethrows -> T {
        try $recording.withValue(false, operation: body)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = data.prefix(8).map { String(format: "%.5g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(preview)\(count > 8 ? ", …" : "")])"
    }
}
