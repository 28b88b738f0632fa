import FerdZeroMQ
import Foundation

/// Reads and writes CURVE keys as files: `<name>.key` holds the secret key (mode 0600) and `<name>.pub`
/// the public key, each as one line of Z85 text.
public enum KeyFiles {
    /// Why a key file could not be used.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case unreadable(path: String, reason: String)
        case malformed(path: String)
        /// The secret key file may be read by other users.
        case tooOpen(path: String, mode: Int)
        case unwritable(path: String, reason: String)

        public var description: String {
            switch self {
            case let .unreadable(path, reason): "cannot read key file \(path): \(reason)"
            case let .malformed(path): "\(path) does not hold a 40-character Z85 CURVE key"
            case let .tooOpen(path, mode):
                "secret key file \(path) has mode \(String(mode, radix: 8)); run `chmod 600 \(path)`"
            case let .unwritable(path, reason): "cannot write key file \(path): \(reason)"
            }
        }
    }

    /// Writes `pair` as `<name>.key` and `<name>.pub` in `directory` and returns the two paths.
    @discardableResult
    public static func save(_ pair: CurveKeyPair, name: String,
                            in directory: URL) throws(Failure) -> (secret: URL, public: URL) {
        let secret = directory.appendingPathComponent("\(name).key")
        let publicFile = directory.appendingPathComponent("\(name).pub")
        try write(pair.secretKey, to: secret, mode: 0o600)
        try write(pair.publicKey, to: publicFile, mode: 0o644)
        return (secret, publicFile)
    }

    /// Reads the pair saved under `name` in `directory`; the secret file must not be readable by others.
    public static func load(name: String, in directory: URL) throws(Failure) -> CurveKeyPair {
        let secret = directory.appendingPathComponent("\(name).key")
        let mode = try permissions(of: secret)
        guard mode & 0o077 == 0 else { throw .tooOpen(path: secret.path, mode: mode) }
        return CurveKeyPair(publicKey: try readKey(directory.appendingPathComponent("\(name).pub")),
                            secretKey: try readKey(secret))
    }

    /// Reads one key file.
    public static func readKey(_ file: URL) throws(Failure) -> String {
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw .unreadable(path: file.path, reason: error.localizedDescription)
        }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard key.utf8.count == CurveKeyPair.z85Length else { throw .malformed(path: file.path) }
        return key
    }

    /// The public keys of every `*.pub` file in `directory`; unreadable or malformed files are skipped.
    public static func publicKeys(in directory: URL) -> Set<String> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return Set(names.filter { $0.hasSuffix(".pub") }.compactMap { name in
            try? readKey(directory.appendingPathComponent(name))
        })
    }

    private static func write(_ key: String, to file: URL, mode: Int) throws(Failure) {
        let created = FileManager.default.createFile(atPath: file.path, contents: Data((key + "\n").utf8),
                                                     attributes: [.posixPermissions: mode])
        guard created else { throw .unwritable(path: file.path, reason: "could not create the file") }
        do {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file.path)
        } catch {
            throw .unwritable(path: file.path, reason: error.localizedDescription)
        }
    }

    private static func permissions(of file: URL) throws(Failure) -> Int {
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
            return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0
        } catch {
            throw .unreadable(path: file.path, reason: error.localizedDescription)
        }
    }
}
