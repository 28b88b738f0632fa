extension GangProtocol {
    /// The jobs of a member once it has joined, as `GangProtocol` runs them: the queue, the running jobs and
    /// their progress, the hub results and ring segments not yet taken, and each job's traffic and time.
    ///
    /// Jobs run in submission order and complete in it. The star sends a bucket's chunks to the hub and, while
    /// their results come back in the order sent, already the next bucket's (at most two in flight). The ring
    /// cuts a bucket into pieces of at most k chunks, each into k segments, and runs reduce-scatter then
    /// all-gather on every piece; a segment arriving before its job has started (the left neighbour may be
    /// ahead) is held until the job takes it. Frames are taken in arrival order and each must be exactly the
    /// one the job expects, or the members are out of step.
    struct Exchanges: Sendable {
        /// A hub result or ring segment not yet taken by a job; `bytes` is empty for float payloads (the shell
        /// keeps those).
        private struct Arrival: Sendable {
            var frame: FrameHeader
            var bytes: [UInt8]
        }

        /// A started job.
        private struct Running: Sendable {
            let id: Int
            let startedAt: Double
            let inStep: Bool
            var progress: Progress
        }

        /// How far a started job is.
        private enum Progress: Sendable {
            /// Star: the chunks are with the hub; `received` of their `parts` results are in.
            case starReduce(count: Int, step: UInt64, bucket: UInt32, parts: Int, received: Int)
            /// Star: the GATHER is with the hub, which answers with every member's block.
            case starGather(step: UInt64)
            case ringReduce(RingReduce)
            /// Ring: the blocks gathered so far, and the step whose block is awaited.
            case ringGather(step: UInt64, blocks: [[UInt8]], index: Int)
            /// Ring: every segment is through since `since`; libzmq still holds some of the values lent to it.
            case returningValues(since: Double)

            var source: Source? {
                switch self {
                case .starReduce, .starGather: .hub
                case .ringReduce, .ringGather: .left
                case .returningValues: nil
                }
            }
        }

        /// Where a ring reduction is: the piece that starts at `pieceStart` (the `part`-th), its `phase`
        /// (0 reduce-scatter, 1 all-gather) and the step within the phase.
        private struct RingReduce: Sendable {
            let count: Int
            let average: Bool
            let step: UInt64
            let bucket: UInt32
            var pieceStart = 0
            var part: UInt32 = 0
            var phase = 0
            var index = 0
        }

        let spec: GangSpec
        private var queued: [(id: Int, job: Job)] = []
        /// Started jobs, oldest first.
        private var running: [Running] = []
        private var heldFromHub: [Arrival] = []
        private var heldFromLeft: [Arrival] = []
        /// Traffic since the last completion, or since the running jobs started.
        private var counters = GangStatistics.Counters()
        /// When the last job completed, or the first running one started.
        private var lastCompletion = 0.0

        init(spec: GangSpec) {
            self.spec = spec
        }

        /// True when no job is queued or running.
        var isIdle: Bool { queued.isEmpty && running.isEmpty }

        var awaiting: Awaiting {
            guard let head = running.first else { return .jobs }
            if case .returningValues = head.progress { return .lentValues }
            return .frames
        }

        /// Whom the running jobs wait for: results from the hub, segments from the left neighbour, or, since
        /// `lentValuesSince`, libzmq's sends to the right neighbour.
        var waits: (hub: Bool, left: Bool, lentValuesSince: Double?) {
            var waits: (hub: Bool, left: Bool, lentValuesSince: Double?) = (false, false, nil)
            for job in running {
                switch job.progress {
                case .starReduce, .starGather: waits.hub = true
                case .ringReduce, .ringGather: waits.left = true
                case .returningValues(let since): waits.lentValuesSince = since
                }
            }
            return waits
        }

        mutating func submit(_ job: Job, id: Int) {
            queued.append((id, job))
        }

        /// Counts an accepted frame's bytes into the traffic of the job it arrives during.
        mutating func countReceived(_ frame: FrameHeader) {
            counters.bytesReceived += FrameHeader.size + Int(frame.payloadLength)
        }

        /// Holds a hub result or ring segment until a job takes it.
        mutating func hold(_ frame: FrameHeader, bytes: [UInt8], from source: Source) {
            switch source {
            case .hub: heldFromHub.append(Arrival(frame: frame, bytes: bytes))
            case .left: heldFromLeft.append(Arrival(frame: frame, bytes: bytes))
            }
        }

        /// libzmq gave back the values lent: the finished ring job completes.
        mutating func valuesReturned(at time: Double, into actions: inout [Action]) {
            guard case .returningValues? = running.first?.progress else { return }
            completeOldest(at: time, into: &actions)
        }

        /// Starts what may start and gives the held frames to the jobs waiting for them, until neither is
        /// possible; returns the error when a frame is not the one its job expects.
        mutating func advance(at time: Double, into actions: inout [Action]) -> GangError? {
            while true {
                if let next = queued.first, mayStart(next.job) {
                    queued.removeFirst()
                    start(next.job, id: next.id, at: time, into: &actions)
                } else if !heldFromHub.isEmpty, running.first?.progress.source == .hub {
                    if let error = take(heldFromHub.removeFirst(), at: time, into: &actions) { return error }
                } else if !heldFromLeft.isEmpty, running.first?.progress.source == .left {
                    if let error = take(heldFromLeft.removeFirst(), at: time, into: &actions) { return error }
                } else {
                    return nil
                }
            }
        }

        // MARK: starting

        /// A job starts when nothing runs; a star bucket also while one other star bucket awaits its results.
        private func mayStart(_ job: Job) -> Bool {
            guard let head = running.first else { return true }
            guard running.count == 1, case .starReduce = head.progress, case .reduce = job else { return false }
            return true
        }

        private mutating func start(_ job: Job, id: Int, at time: Double, into actions: inout [Action]) {
            if running.isEmpty {
                counters = GangStatistics.Counters()
                lastCompletion = time
            }
            switch job {
            case let .reduce(count, _, _, _, inStep) where spec.size == 1 || count == 0:
                complete(id, startedAt: time, inStep: inStep, at: time, into: &actions)
            case let .gather(bytes, _) where spec.size == 1:
                complete(id, startedAt: time, inStep: false, gathered: [bytes], at: time, into: &actions)
            case let .reduce(count, average, step, bucket, inStep):
                let progress: Progress
                switch spec.topology {
                case .star:
                    let chunk = spec.chunkElements
                    let parts = (count + chunk - 1) / chunk
                    let flags = average ? FrameHeader.Flags.average : 0
                    for part in 0..<parts {
                        let range = (part * chunk)..<min(count, (part + 1) * chunk)
                        send(dataHeader(.reduce, step: step, bucket: bucket, part: UInt32(part), flags: flags,
                                        payloadLength: range.count * spec.precision.bytesPerElement),
                             .values(job: id, offset: range.lowerBound, count: range.count, tracked: false), to: .hub,
                             into: &actions)
                    }
                    progress = .starReduce(count: count, step: step, bucket: bucket, parts: parts, received: 0)
                case .ring:
                    let reduce = RingReduce(count: count, average: average, step: step, bucket: bucket)
                    sendSegment(of: reduce, job: id, into: &actions)
                    progress = .ringReduce(reduce)
                }
                running.append(Running(id: id, startedAt: time, inStep: inStep, progress: progress))
            case let .gather(bytes, step):
                let progress: Progress
                switch spec.topology {
                case .star:
                    send(dataHeader(.gather, step: step, payloadLength: bytes.count), .bytes(bytes), to: .hub,
                         into: &actions)
                    progress = .starGather(step: step)
                case .ring:
                    var blocks = [[UInt8]](repeating: [], count: spec.size)
                    blocks[spec.rank] = bytes
                    sendBlock(of: blocks, step: step, index: 0, into: &actions)
                    progress = .ringGather(step: step, blocks: blocks, index: 0)
                }
                running.append(Running(id: id, startedAt: time, inStep: false, progress: progress))
            }
        }

        // MARK: taking frames

        /// Gives a held frame to the oldest running job, which waits for its source.
        private mutating func take(_ arrival: Arrival, at time: Double, into actions: inout [Action]) -> GangError? {
            let frame = arrival.frame
            let job = running[0]
            switch job.progress {
            case let .starReduce(count, step, bucket, parts, received):
                let chunk = spec.chunkElements
                let part = Int(frame.part)
                let elements = part < parts ? min(count, (part + 1) * chunk) - part * chunk : 0
                guard frame.type == .reduced, frame.step == step, frame.bucket == bucket, part < parts,
                      Int(frame.payloadLength) == elements * spec.precision.bytesPerElement else {
                    return outOfStep("expected the result of exchange \(step) bucket \(bucket), got \(frame.type) of "
                                     + "exchange \(frame.step) bucket \(frame.bucket) part \(frame.part)")
                }
                actions.append(.storeResult(job: job.id, offset: part * chunk, count: elements))
                running[0].progress = .starReduce(count: count, step: step, bucket: bucket, parts: parts,
                                                  received: received + 1)
                if received + 1 == parts { completeOldest(at: time, into: &actions) }
            case let .starGather(step):
                guard frame.type == .gathered, frame.step == step, let blocks = try? Payload.decodeBlocks(arrival.bytes),
                      blocks.count == spec.size else {
                    return outOfStep("expected the allGather of exchange \(step), got \(frame.type) of \(frame.step)")
                }
                completeOldest(at: time, gathered: blocks, into: &actions)
            case .ringReduce(var reduce):
                let length = pieceLength(of: reduce)
                let (_, received) = ringStep(reduce.index, phase: reduce.phase)
                let segment = self.segment(received, of: length)
                if let error = expectSegment(frame, step: reduce.step, bucket: reduce.bucket, part: reduce.part,
                                             segment: received, flags: reduce.phase == 0 ? 0 : FrameHeader.Flags.gatherPhase,
                                             bytes: segment.count * spec.precision.bytesPerElement) {
                    return error
                }
                let combination: Combination
                if reduce.phase == 1 {
                    combination = .copy
                } else if reduce.index == spec.size - 2 {
                    combination = .addDividing(by: reduce.average ? Float(spec.size) : 1)
                } else {
                    combination = .add
                }
                actions.append(.combine(job: job.id, offset: reduce.pieceStart + segment.lowerBound, count: segment.count,
                                        combination))
                reduce.index += 1
                if reduce.index == spec.size - 1 {
                    reduce.index = 0
                    reduce.phase += 1
                }
                if reduce.phase == 2 {
                    reduce.pieceStart += length
                    reduce.part += 1
                    reduce.phase = 0
                    guard reduce.pieceStart < reduce.count else {
                        running[0].progress = .returningValues(since: time)
                        return nil
                    }
                }
                sendSegment(of: reduce, job: job.id, into: &actions)
                running[0].progress = .ringReduce(reduce)
            case .ringGather(let step, var blocks, let index):
                let (_, received) = gatherStep(index)
                if let error = expectSegment(frame, step: step, bucket: 0, part: 0, segment: received,
                                             flags: FrameHeader.Flags.bytes, bytes: nil) {
                    return error
                }
                blocks[received] = arrival.bytes
                guard index + 1 < spec.size - 1 else {
                    completeOldest(at: time, gathered: blocks, into: &actions)
                    return nil
                }
                sendBlock(of: blocks, step: step, index: index + 1, into: &actions)
                running[0].progress = .ringGather(step: step, blocks: blocks, index: index + 1)
            case .returningValues:
                break
            }
            return nil
        }

        /// The error when a ring frame is not the segment the job waits for.
        private func expectSegment(_ frame: FrameHeader, step: UInt64, bucket: UInt32, part: UInt32, segment: Int,
                                   flags: UInt8, bytes: Int?) -> GangError? {
            let expected = frame.step == step && frame.bucket == bucket && frame.part == part
                && Int(frame.segment) == segment && frame.flags == flags && frame.precision == spec.precision
                && (bytes == nil || Int(frame.payloadLength) == bytes)
            guard !expected else { return nil }
            return outOfStep("expected segment \(segment) of exchange \(step) bucket \(bucket) part \(part) "
                             + "(\(bytes.map { "\($0) bytes" } ?? "bytes")) from rank \(spec.leftRank), got segment "
                             + "\(frame.segment) of exchange \(frame.step) bucket \(frame.bucket) part \(frame.part) "
                             + "(\(frame.payloadLength) bytes) from rank \(frame.rank)")
        }

        private func outOfStep(_ detail: String) -> GangError {
            .protocolViolation(gangID: spec.gangID, rank: spec.rank, detail: detail)
        }

        /// The oldest running job is done.
        private mutating func completeOldest(at time: Double, gathered: [[UInt8]]? = nil, into actions: inout [Action]) {
            let job = running.removeFirst()
            complete(job.id, startedAt: job.startedAt, inStep: job.inStep, gathered: gathered, at: time, into: &actions)
        }

        /// Job `id` is done: its traffic since the last completion and its time not overlapped with the previous
        /// job go to its caller.
        private mutating func complete(_ id: Int, startedAt: Double, inStep: Bool, gathered: [[UInt8]]? = nil,
                                       at time: Double, into actions: inout [Action]) {
            counters.communicationSeconds = time - max(startedAt, lastCompletion)
            lastCompletion = time
            actions.append(.complete(job: id, Completion(counters: counters, inStep: inStep, gathered: gathered)))
            counters = GangStatistics.Counters()
        }

        // MARK: sending

        private mutating func send(_ header: FrameHeader, _ payload: Outgoing, to destination: Destination,
                                   into actions: inout [Action]) {
            counters.bytesSent += FrameHeader.size + Int(header.payloadLength)
            actions.append(.send(header, payload, to: destination))
        }

        /// The ring segment the reduction sends now: the first of a piece from the values, every later one from
        /// the values (float32, the same bytes as summed or received) or from the last combine (float16).
        private mutating func sendSegment(of reduce: RingReduce, job: Int, into actions: inout [Action]) {
            let (sent, _) = ringStep(reduce.index, phase: reduce.phase)
            let segment = self.segment(sent, of: pieceLength(of: reduce))
            let first = reduce.phase == 0 && reduce.index == 0
            let payload: Outgoing = first || spec.precision == .float32
                ? .values(job: job, offset: reduce.pieceStart + segment.lowerBound, count: segment.count, tracked: true)
                : .combined
            send(dataHeader(.ring, step: reduce.step, bucket: reduce.bucket, part: reduce.part, segment: UInt32(sent),
                            flags: reduce.phase == 0 ? 0 : FrameHeader.Flags.gatherPhase,
                            payloadLength: segment.count * spec.precision.bytesPerElement),
                 payload, to: .right, into: &actions)
        }

        private mutating func sendBlock(of blocks: [[UInt8]], step: UInt64, index: Int, into actions: inout [Action]) {
            let (sent, _) = gatherStep(index)
            send(dataHeader(.ring, step: step, segment: UInt32(sent), flags: FrameHeader.Flags.bytes,
                            payloadLength: blocks[sent].count),
                 .bytes(blocks[sent]), to: .right, into: &actions)
        }

        /// The header of one of this member's data frames.
        private func dataHeader(_ type: FrameType, step: UInt64, bucket: UInt32 = 0, part: UInt32 = 0,
                                segment: UInt32 = 0, flags: UInt8 = 0, payloadLength: Int) -> FrameHeader {
            FrameHeader(type: type, precision: spec.precision, flags: flags, gangID: spec.gangID, step: step,
                        bucket: bucket, part: part, segment: segment, rank: UInt16(spec.rank),
                        gangSize: UInt16(spec.size), payloadLength: UInt32(payloadLength))
        }

        // MARK: schedules

        /// The elements of the piece a ring reduction is at: at most k chunks.
        private func pieceLength(of reduce: RingReduce) -> Int {
            min(spec.size * spec.chunkElements, reduce.count - reduce.pieceStart)
        }

        /// Segment `index` of a piece of `length` elements, relative to its start.
        private func segment(_ index: Int, of length: Int) -> Range<Int> {
            (index * length / spec.size)..<((index + 1) * length / spec.size)
        }

        /// The segments a ring step moves: in `phase` 0 (reduce-scatter) or 1 (all-gather), step `j` of k − 1
        /// sends segment `sent` to the right and receives segment `received` from the left. Segment s is summed
        /// along s, s+1, …, s−1 and finished by rank s−1, which then passes the final values around.
        func ringStep(_ j: Int, phase: Int) -> (sent: Int, received: Int) {
            let k = spec.size
            let sent = phase == 0 ? (spec.rank - j + 2 * k) % k : (spec.rank + 1 - j + 2 * k) % k
            return (sent, (sent + k - 1) % k)
        }

        /// The step of an all-gather of byte blocks around the ring: step `j` sends block `sent`, receives
        /// `received`.
        func gatherStep(_ j: Int) -> (sent: Int, received: Int) {
            let sent = (spec.rank - j + spec.size) % spec.size
            return (sent, (sent + spec.size - 1) % spec.size)
        }
    }
}
