/// Every message of the ferd protocol.
public enum Message: Equatable, Sendable {
    case hello(Hello)
    case ready(Ready)
    case assign(Assignment)
    case heartbeat(Heartbeat)
    case metric(MetricReport)
    case result(ResultReport)
    case fail(FailureReport)
    case cancel(Cancellation)
    case ack(Acknowledgement)
    case chunk(Chunk)
    case chunkCredit(ChunkCredit)
    /// Orderly goodbye; from the coordinator it also means "you are not registered, send HELLO again".
    case bye

    /// The type byte this message carries in its header.
    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .ready: .ready
        case .assign: .assign
        case .heartbeat: .heartbeat
        case .metric: .metric
        case .result: .result
        case .fail: .fail
        case .cancel: .cancel
        case .ack: .ack
        case .chunk: .chunk
        case .chunkCredit: .chunkCredit
        case .bye: .bye
        }
    }
}
