/// Traffic and timing of a gang member: for the last finished step and in total since it was created.
public struct GangStatistics: Sendable, Equatable {
    /// Counts over a span of time.
    public struct Counters: Sendable, Equatable {
        /// Bytes this member sent (headers and payloads).
        public var bytesSent = 0
        /// Bytes this member received, heartbeats included.
        public var bytesReceived = 0
        /// Seconds the communication thread spent on exchanges.
        public var communicationSeconds = 0.0
        /// Seconds `finishStep` blocked waiting for the exchange (communication not hidden by the backward pass).
        public var exposedWaitSeconds = 0.0

        public init() {}

        static func + (lhs: Counters, rhs: Counters) -> Counters {
            var sum = lhs
            sum.bytesSent += rhs.bytesSent
            sum.bytesReceived += rhs.bytesReceived
            sum.communicationSeconds += rhs.communicationSeconds
            sum.exposedWaitSeconds += rhs.exposedWaitSeconds
            return sum
        }
    }

    /// The last step (beginStep through finishStep).
    public var lastStep = Counters()
    /// Everything, allReduce and allGather included.
    public var total = Counters()
    /// Steps finished.
    public var steps = 0

    public init() {}
}
