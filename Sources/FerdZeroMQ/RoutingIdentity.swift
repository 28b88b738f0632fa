/// How ferd names the peer behind a ROUTER routing identity in logs and the leaderboard.
public enum RoutingIdentity {
    /// The identity's UTF-8 text (a worker's id), or `0x` and hex digits when it is not UTF-8 text (libzmq's
    /// generated identities) or could be mistaken for such a name.
    public static func name(_ identity: [UInt8]) -> String {
        if let text = String(validating: identity, as: UTF8.self), !text.isEmpty, !text.hasPrefix("0x"),
           text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) {
            return text
        }
        return "0x" + identity.map { hexDigits[Int($0 >> 4)] + hexDigits[Int($0 & 0xf)] }.joined()
    }

    private static let hexDigits = (0..<16).map { String($0, radix: 16) }
}
