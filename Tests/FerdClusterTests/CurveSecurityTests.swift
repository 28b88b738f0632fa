import FerdZeroMQ
import Logging
import XCTest
@testable import FerdCluster

final class CurveSecurityTests: XCTestCase {
    func testKeyPairsAreZ85AndDistinct() throws {
        let first = try CurveKeyPair.generate()
        let second = try CurveKeyPair.generate()
        XCTAssertEqual(first.publicKey.utf8.count, 40)
        XCTAssertEqual(first.secretKey.utf8.count, 40)
        XCTAssertNotEqual(first, second)
    }

    func testKeyFilesRoundTripWithPrivateSecretFile() throws {
        let directory = try temporaryDirectory()
        let pair = try CurveKeyPair.generate()
        let paths = try KeyFiles.save(pair, name: "worker-1", in: directory)
        let mode = try FileManager.default.attributesOfItem(atPath: paths.secret.path)[.posixPermissions] as? NSNumber
        XCTAssertEqual(mode?.intValue, 0o600)
        XCTAssertEqual(try KeyFiles.load(name: "worker-1", in: directory), pair)
        XCTAssertEqual(KeyFiles.publicKeys(in: directory), [pair.publicKey])
    }

    func testSecretKeyReadableByOthersIsRefused() throws {
        let directory = try temporaryDirectory()
        let paths = try KeyFiles.save(try CurveKeyPair.generate(), name: "open", in: directory)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: paths.secret.path)
        XCTAssertThrowsError(try KeyFiles.load(name: "open", in: directory)) { error in
            XCTAssertEqual(error as? KeyFiles.Failure, .tooOpen(path: paths.secret.path, mode: 0o644))
            XCTAssertTrue("\(error)".contains("chmod 600"))
        }
    }

    func testMalformedKeyFileIsReported() throws {
        let directory = try temporaryDirectory()
        let file = directory.appendingPathComponent("bad.pub")
        try "short".write(to: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try KeyFiles.readKey(file)) { error in
            XCTAssertEqual(error as? KeyFiles.Failure, .malformed(path: file.path))
        }
        XCTAssertTrue(KeyFiles.publicKeys(in: directory).isEmpty)
    }

    func testBindPolicyRequiresKeysOrInsecureBeyondLoopback() throws {
        for endpoint in ["tcp://127.0.0.1:5555", "tcp://127.1.2.3:*", "tcp://localhost:5555", "tcp://[::1]:5555",
                         "ipc:///tmp/ferd.sock", "inproc://coordinator"] {
            XCTAssertTrue(BindPolicy.isLoopback(endpoint), endpoint)
            XCTAssertNoThrow(try BindPolicy.check(endpoint: endpoint, hasKeys: false, insecure: false))
        }
        for endpoint in ["tcp://*:5555", "tcp://0.0.0.0:5555", "tcp://10.0.0.7:5555", "tcp://eth0:5555",
                         "tcp://127.0.0.1.example.com:5555", "tcp://127.0.0.256:1"] {
            XCTAssertFalse(BindPolicy.isLoopback(endpoint), endpoint)
            XCTAssertThrowsError(try BindPolicy.check(endpoint: endpoint, hasKeys: false, insecure: false)) { error in
                XCTAssertTrue("\(error)".contains(endpoint))
            }
            XCTAssertNoThrow(try BindPolicy.check(endpoint: endpoint, hasKeys: true, insecure: false))
            XCTAssertNoThrow(try BindPolicy.check(endpoint: endpoint, hasKeys: false, insecure: true))
        }
    }

    func testZAPHandlerLetsInOnlyAllowListedKeys() throws {
        let allowList = try temporaryDirectory()
        let server = try CurveKeyPair.generate()
        let known = try CurveKeyPair.generate()
        try KeyFiles.save(known, name: "known", in: allowList)
        let context = try ZMQContext()
        let zap = try ZAPHandler(context: context, allowListDirectory: allowList, logger: Logger(label: "test"))
        defer { zap.stop() }
        let router = try ZMQSocket(context, type: .router)
        try router.setLinger(milliseconds: 0)
        try router.setCurveServer(secretKey: server.secretKey)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()

        // Bounded waits that end as soon as the event happens, so that a loaded machine only makes this slower.
        let stranger = try client(context, endpoint: endpoint, server: server, keys: try CurveKeyPair.generate())
        try stranger.send([Array("from stranger".utf8)])
        try waitUntil(timeout: 20) { zap.decisions.rejected >= 1 }
        XCTAssertFalse(try router.poll(timeoutMilliseconds: 300), "the stranger's message got through")
        XCTAssertEqual(zap.decisions.rejected, 1)
        XCTAssertEqual(zap.decisions.accepted, 0)

        let friend = try client(context, endpoint: endpoint, server: server, keys: known)
        try friend.send([Array("from friend".utf8)])
        XCTAssertTrue(try router.poll(timeoutMilliseconds: 20_000), "the friend's message never arrived")
        XCTAssertEqual(try router.receive()?.last, Array("from friend".utf8))
        try waitUntil(timeout: 20) { zap.decisions.accepted >= 1 }
        XCTAssertEqual(zap.decisions.accepted, 1)
        XCTAssertEqual(zap.decisions.rejected, 1)
        XCTAssertFalse(try router.poll(timeoutMilliseconds: 100), "the stranger's message got through")
        stranger.close()
        friend.close()
        router.close()
    }

    func testMalformedZAPRequestIsAnsweredWithAnError() {
        let reply = ZAPHandler.answer([Array("2.0".utf8)], allowed: [], logger: Logger(label: "test"))
        XCTAssertNil(reply.accepted)
        XCTAssertEqual(reply.frames[2], Array("400".utf8))
    }

    private func client(_ context: ZMQContext, endpoint: String, server: CurveKeyPair,
                        keys: CurveKeyPair) throws -> ZMQSocket {
        let socket = try ZMQSocket(context, type: .dealer)
        try socket.setLinger(milliseconds: 0)
        try socket.setCurveClient(serverKey: server.publicKey, keyPair: keys)
        try socket.connect(endpoint)
        return socket
    }
}

/// Polls `condition` every 10 ms until it holds; fails the test if it still does not after `timeout` seconds.
func waitUntil(timeout: Double, file: StaticString = #filePath, line: UInt = #line,
               _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while try !condition() {
        guard Date() < deadline else {
            return XCTFail("condition not met within \(timeout) s", file: file, line: line)
        }
        Thread.sleep(forTimeInterval: 0.01)
    }
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-cluster-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
