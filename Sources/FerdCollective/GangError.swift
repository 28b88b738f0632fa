/// Why a gang operation failed. The messages name the gang, the ranks involved and what to check.
public enum GangError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The spec is unusable (rank outside 0..<size, non-positive timeout or bucket size).
    case invalidSpec(String)
    /// Not every member joined within the timeout.
    case rendezvousTimeout(gangID: UInt64, rank: Int, missingRanks: [Int], seconds: Double, hub: String)
    /// A peer sent nothing (not even a heartbeat) for `seconds` while this member waited for it.
    case peerSilent(gangID: UInt64, rank: Int, peer: Int, seconds: Double)
    /// The hub sent nothing for `seconds` while this member waited for it.
    case hubSilent(gangID: UInt64, rank: Int, hub: String, seconds: Double)
    /// Another member failed, or the hub gave up on the gang; `reason` says why.
    case aborted(gangID: UInt64, rank: Int, reason: String)
    /// The attempt was cancelled while this member waited.
    case cancelled(gangID: UInt64, rank: Int)
    /// The members disagree (sizes, order of calls) or a peer sent a frame out of sequence.
    case protocolViolation(gangID: UInt64, rank: Int, detail: String)
    /// The caller used the member wrongly (offer outside a step, wrong size, twice).
    case misuse(String)
    /// A socket operation failed.
    case transport(gangID: UInt64, rank: Int, detail: String)
    /// The member was closed.
    case closed(gangID: UInt64, rank: Int)

    public var description: String {
        switch self {
        case .invalidSpec(let detail):
            return "invalid gang spec: \(detail)"
        case .rendezvousTimeout(let gang, let rank, let missing, let seconds, let hub):
            let list = missing.map(String.init).joined(separator: ", ")
            return "gang \(gang) rank \(rank): rank(s) \(list) did not join at the hub \(hub) within "
                + "\(format(seconds)) s; check that their workers started and can reach the hub"
        case .peerSilent(let gang, let rank, let peer, let seconds):
            return "gang \(gang) rank \(rank): rank \(peer) was silent for \(format(seconds)) s; it crashed, hangs "
                + "or cannot reach this member (check its log and that ringBindAddress is reachable); the step fails"
        case .hubSilent(let gang, let rank, let hub, let seconds):
            return "gang \(gang) rank \(rank): the hub at \(hub) was silent for \(format(seconds)) s; "
                + "check that the coordinator runs and is reachable"
        case .aborted(let gang, let rank, let reason):
            return "gang \(gang) rank \(rank): the gang was aborted: \(reason)"
        case .cancelled(let gang, let rank):
            return "gang \(gang) rank \(rank): cancelled"
        case .protocolViolation(let gang, let rank, let detail):
            return "gang \(gang) rank \(rank): members out of step: \(detail); every member must make the same "
                + "calls with the same sizes"
        case .misuse(let detail):
            return "gang member misused: \(detail)"
        case .transport(let gang, let rank, let detail):
            return "gang \(gang) rank \(rank): \(detail)"
        case .closed(let gang, let rank):
            return "gang \(gang) rank \(rank): the member is closed"
        }
    }
}

private func format(_ seconds: Double) -> String {
    String(Double((seconds * 10).rounded()) / 10)
}
