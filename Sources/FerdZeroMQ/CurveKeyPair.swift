import CZeroMQ

/// A CURVE key pair in Z85 text (40 characters each), as made by `zmq_curve_keypair`.
public struct CurveKeyPair: Equatable, Sendable {
    /// Characters of a Z85-encoded 32-byte key.
    public static let z85Length = 40

    public var publicKey: String
    public var secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh random key pair.
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: z85Length + 1)
        var secretKey = [CChar](repeating: 0, count: z85Length + 1)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else {
            throw ZMQError("zmq_curve_keypair", endpoint: nil)
        }
        return CurveKeyPair(publicKey: z85String(publicKey), secretKey: z85String(secretKey))
    }

    /// The Z85 text of a 32-byte binary key, as ZAP requests carry it.
    public static func z85(binaryKey: [UInt8]) -> String? {
        guard binaryKey.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: z85Length + 1)
        guard zmq_z85_encode(&text, binaryKey, binaryKey.count) != nil else { return nil }
        return z85String(text)
    }

    private static func z85String(_ text: [CChar]) -> String {
        String(decoding: text.prefix(z85Length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
