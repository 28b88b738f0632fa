import Foundation
#if canImport(Glibc)
import Glibc
#endif
import FerdCollective
import FerdZeroMQ
import Logging
import XCTest

final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value { lock.withLock { stored } }

    func update(_ change: (inout Value) -> Void) { lock.withLock { change(&stored) } }
}

/// A hub on loopback with a fresh context, for one test.
final class HubFixture: @unchecked Sendable {
    let context: ZMQContext
    let hub: GradientHub
    let logger: Logger

    init(logger: Logger = Logger(label: "ferd.collective.tests")) throws {
        self.logger = logger
        context = try ZMQContext()
        hub = try GradientHub(endpoint: "tcp://127.0.0.1:*", context: context, logger: logger)
    }

    func spec(gang: UInt64, rank: Int, size: Int, topology: GangSpec.Topology,
              precision: GangSpec.Precision = .float32, bucketBytes: Int = 40_000, chunkBytes: Int = 8_000,
              timeout: Double = 5, ringBindAddress: String = "tcp://127.0.0.1:*") -> GangSpec {
        GangSpec(gangID: gang, rank: rank, size: size, topology: topology, precision: precision,
                 hubEndpoint: hub.boundEndpoint, bucketBytes: bucketBytes, chunkBytes: chunkBytes, timeout: timeout,
                 ringBindAddress: ringBindAddress)
    }

    /// A loopback endpoint with a port that was free a moment ago (asked of the kernel with a plain socket, which,
    /// unlike a ZeroMQ socket, is closed by the time this returns).
    func freeEndpoint() throws -> String {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(descriptor, generic, length) == 0 && getsockname(descriptor, generic, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return "tcp://127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
    }

    func member(_ spec: GangSpec, cancelled: @escaping @Sendable () -> Bool = { false }) throws -> GangMember {
        try GangMember(spec: spec, context: context, logger: logger, cancelled: cancelled)
    }

    deinit { hub.stop() }
}

/// Deterministic values in [-1, 1) for a rank and tensor.
func gradient(rank: Int, tensor: Int, count: Int) -> [Float] {
    var state = UInt64(rank + 1) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(tensor + 1) &* 0xBF58_476D_1CE4_E5B9
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Double(state >> 40) / Double(1 << 24) * 2 - 1)
    }
}

/// Keeps the text of every warning a logger emits.
struct WarningRecorder: LogHandler {
    let warnings: Locked<[String]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .warning

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        warnings.update { $0.append("\(event.message)") }
    }
}
