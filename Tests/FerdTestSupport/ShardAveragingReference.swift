import FerdData
import FerdModels
import FerdTensor
import FerdTraining

/// What a data-parallel gang of `size` members must compute, worked out in one process: from the same initial
/// parameters, for every batch each shard's loss and gradient in turn (each shard with its own batch-norm
/// running statistics, as on its member), the gradients averaged with ``combine(_:average:)`` (float32, rank
/// order, then ÷ size), one SGD step; after each epoch the running statistics averaged the same way and the
/// epoch loss the mean over the steps of the shards' averaged loss. Both the in-process gang
/// (FerdTrainingTests) and real `GangMember`s (FerdCollectiveTests) are compared with it bit for bit.
public struct ShardAveragingReference {
    /// Loss of each shard at each step: [step][rank].
    public var shardLosses: [[Float]]
    public var epochLosses: [Double]
    /// Every parameter and float buffer after training, by `state_dict` name.
    public var state: [String: [Float]]
    public var counters: [String: Int64]
    /// Each shard's float buffers just before the last epoch's averaging: [rank][name].
    public var buffersBeforeAveraging: [[String: [Float]]]

    /// Trains `settings.epochs` epochs of `data`'s training batches split over `size` shards. `averaging`
    /// replaces ``combine(_:average:)`` for the gradients (each parameter's shard gradients in rank order),
    /// for a test that models another reduction, such as one rounding to float16.
    public init(size: Int, settings: TrainingSettings, data: BatchProvider,
                averaging: (([[Float]]) -> [Float])? = nil) throws {
        let model = try GCAIALModel(configuration: settings.model, seed: settings.seed)
        let store = model.store
        let bufferNames = store.names.filter { store.roles[$0] == .buffer }
        var optimizer = SGD(learningRate: settings.learningRate, momentum: settings.momentum, weightDecay: settings.weightDecay)
        var shardBuffers = Array(repeating: bufferNames.map { store.tensors[$0]!.data }, count: size)
        var shardCounters = Array(repeating: store.counters, count: size)
        shardLosses = []
        epochLosses = []
        buffersBeforeAveraging = []
        for epoch in 0..<settings.epochs {
            optimizer.learningRate = settings.schedule.rate(base: settings.learningRate, epoch: epoch)
            var lossesOfEpoch: [[Float]] = []
            for next in try data.trainBatches(epoch: epoch) {
                let batch = try next.get()
                var gradients: [[[Float]?]] = []
                var losses: [Float] = []
                for rank in 0..<size {
                    for (name, values) in zip(bufferNames, shardBuffers[rank]) { store.tensors[name]!.data = values }
                    store.counters = shardCounters[rank]
                    let part = batch.selecting(ClipShard(rank: rank, count: size))
                    let loss = try model(Tensor(shape: part.shape, data: part.values), training: true)
                        .loss(targets: part.labels, weights: settings.loss).total
                    loss.backward()
                    gradients.append(model.parameters.map(\.grad))
                    for parameter in model.parameters { parameter.grad = nil }
                    shardBuffers[rank] = bufferNames.map { store.tensors[$0]!.data }
                    shardCounters[rank] = store.counters
                    losses.append(loss.item)
                }
                for (index, parameter) in model.parameters.enumerated() where gradients[0][index] != nil {
                    let shards = gradients.map { $0[index]! }
                    parameter.grad = averaging?(shards) ?? Self.combine(shards, average: true)
                }
                optimizer.step(model.parameters)
                shardLosses.append(losses)
                lossesOfEpoch.append(losses)
            }
            buffersBeforeAveraging = shardBuffers.map { Dictionary(uniqueKeysWithValues: zip(bufferNames, $0)) }
            let averaged = bufferNames.indices.map { b in Self.combine(shardBuffers.map { $0[b] }, average: true) }
            shardBuffers = Array(repeating: averaged, count: size)
            for (name, values) in zip(bufferNames, averaged) { store.tensors[name]!.data = values }
            store.counters = shardCounters[0]
            let stepMeans = lossesOfEpoch.map { Self.combine($0.map { [$0] }, average: true)[0] }
            epochLosses.append(stepMeans.reduce(0.0) { $0 + Double($1) } / Double(stepMeans.count))
        }
        state = store.tensors.mapValues(\.data)
        counters = store.counters
    }

    /// The element-wise sum of `contributions` in rank order (float32), divided by their number when `average`.
    public static func combine(_ contributions: [[Float]], average: Bool) -> [Float] {
        var result = contributions[0]
        for contribution in contributions.dropFirst() {
            precondition(contribution.count == result.count, "members contributed different sizes")
            for i in result.indices { result[i] += contribution[i] }
        }
        if average {
            let count = Float(contributions.count)
            for i in result.indices { result[i] /= count }
        }
        return result
    }
}
