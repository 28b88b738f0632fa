import FerdCluster
import FerdCollective
import FerdTestSupport
import FerdZeroMQ
import Foundation
import Logging
import XCTest
@testable import FerdRuntime

/// The gradient plane with the coordinator's keys: the hub is a CURVE server behind the allow-list, and members
/// encrypt the hub and ring links with their own keys.
final class EncryptedGradientTests: XCTestCase {
    private var directory: URL!
    private let logger = Logger(label: "ferd.encrypted-gradients")

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-curve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("workers"), withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The coordinator's keys with `allowed` workers on the allow-list; returns the workers' key pairs.
    private func keys(allowed: [String]) throws -> (CurveServerKeys, [String: CurveKeyPair]) {
        let server = try CurveKeyPair.generate()
        var workers: [String: CurveKeyPair] = [:]
        for name in allowed {
            let pair = try CurveKeyPair.generate()
            _ = try KeyFiles.save(pair, name: name, in: directory.appendingPathComponent("workers"))
            try? FileManager.default.removeItem(at: directory.appendingPathComponent("workers/\(name).key"))
            workers[name] = pair
        }
        return (CurveServerKeys(keyPair: server, allowListDirectory: directory.appendingPathComponent("workers")), workers)
    }

    private static func spec(_ hub: String, gang: UInt64, rank: Int, size: Int, topology: GangSpec.Topology,
                             curve: GangCurve?, timeout: Double = 5) -> GangSpec {
        GangSpec(gangID: gang, rank: rank, size: size, topology: topology, hubEndpoint: hub,
                 bucketBytes: 40_000, chunkBytes: 8_000, timeout: timeout, curve: curve)
    }

    func testAllowListedMembersReduceOverEncryptedHubAndRingLinks() throws {
        let (server, workers) = try keys(allowed: ["w0", "w1", "w2"])
        let plane = try ExperimentServer.startGradientHub("tcp://127.0.0.1:*", curve: server, insecure: false, logger: logger)
        defer { plane.stop() }
        let context = try ZMQContext()
        let hub = plane.hub.boundEndpoint, logger = logger
        for topology in [GangSpec.Topology.ring, .star] {
            let results = runOnThreads(3) { rank -> [Float] in
                let curve = GangCurve(keyPair: workers["w\(rank)"]!, hubPublicKey: server.keyPair.publicKey)
                let member = try GangMember(spec: Self.spec(hub, gang: topology == .ring ? 1 : 2, rank: rank, size: 3,
                                                            topology: topology, curve: curve),
                                            context: context, logger: logger, cancelled: { false })
                defer { member.close() }
                var values = (0..<20_000).map { Float($0 % 97) * Float(rank + 1) }
                try member.allReduce(&values, average: false)
                return values
            }
            for result in results {
                let values = try result.get()
                XCTAssertEqual(values[5], 5 * 6, "\(topology): 1 + 2 + 3 times the value")
                XCTAssertEqual(values[19_999], Float(19_999 % 97) * 6)
            }
        }
    }

    func testAWorkerNotOnTheAllowListCannotJoinAGang() throws {
        let (server, workers) = try keys(allowed: ["w0"])
        let plane = try ExperimentServer.startGradientHub("tcp://127.0.0.1:*", curve: server, insecure: false, logger: logger)
        defer { plane.stop() }
        let context = try ZMQContext()
        let hub = plane.hub.boundEndpoint, logger = logger
        let stranger = GangCurve(keyPair: try CurveKeyPair.generate(), hubPublicKey: server.keyPair.publicKey)
        let allowed = GangCurve(keyPair: workers["w0"]!, hubPublicKey: server.keyPair.publicKey)
        let results = runOnThreads(3) { rank -> [Float] in
            let curve: GangCurve? = switch rank {
            case 0: allowed
            case 1: stranger
            default: nil
            }
            let member = try GangMember(spec: Self.spec(hub, gang: 3, rank: min(rank, 1), size: 2, topology: .ring,
                                                        curve: curve, timeout: 1.5),
                                        context: context, logger: logger, cancelled: { false })
            defer { member.close() }
            var values: [Float] = [1, 2, 3]
            try member.allReduce(&values, average: false)
            return values
        }
        for (index, result) in results.enumerated() {
            XCTAssertThrowsError(try result.get(), "member \(index) must not complete a reduction") { error in
                XCTAssertNotNil(error as? GangError, "\(error)")
            }
        }
    }

    func testANonLoopbackHubNeedsKeysOrInsecure() throws {
        XCTAssertThrowsError(try ExperimentServer.startGradientHub("tcp://0.0.0.0:*", curve: nil, insecure: false, logger: logger)) {
            XCTAssertTrue("\($0)".contains("--keys"), "\($0)")
        }
        let (server, _) = try keys(allowed: [])
        let plane = try ExperimentServer.startGradientHub("tcp://0.0.0.0:*", curve: server, insecure: false, logger: logger)
        plane.stop()
    }
}
