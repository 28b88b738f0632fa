import FerdZeroMQ
import XCTest

/// CURVE on a loopback pair: a client that knows the server's public key gets through, one with another key
/// does not (libzmq drops the handshake, nothing is delivered).
final class CurveHandshakeTests: XCTestCase {
    private func server(_ context: ZMQContext, keys: CurveKeyPair) throws -> (ZMQSocket, String) {
        let socket = try ZMQSocket(context, type: .pull)
        try socket.setLinger(milliseconds: 0)
        try socket.setCurveServer(secretKey: keys.secretKey)
        try socket.bind("tcp://127.0.0.1:*")
        return (socket, try socket.lastEndpoint())
    }

    private func client(_ context: ZMQContext, serverKey: String, endpoint: String) throws -> ZMQSocket {
        let socket = try ZMQSocket(context, type: .push)
        try socket.setLinger(milliseconds: 0)
        try socket.setCurveClient(serverKey: serverKey, keyPair: try CurveKeyPair.generate())
        try socket.connect(endpoint)
        return socket
    }

    func testAClientWithTheServersKeyIsHeard() throws {
        let context = try ZMQContext()
        let keys = try CurveKeyPair.generate()
        let (pull, endpoint) = try server(context, keys: keys)
        let push = try client(context, serverKey: keys.publicKey, endpoint: endpoint)
        try push.send([Array("hello".utf8)])
        XCTAssertTrue(try pull.poll(timeoutMilliseconds: 5_000))
        XCTAssertEqual(try pull.receive(), [Array("hello".utf8)])
    }

    func testAClientWithAnotherServerKeyIsNotHeard() throws {
        let context = try ZMQContext()
        let (pull, endpoint) = try server(context, keys: try CurveKeyPair.generate())
        let push = try client(context, serverKey: try CurveKeyPair.generate().publicKey, endpoint: endpoint)
        try push.send([Array("intruder".utf8)])
        XCTAssertFalse(try pull.poll(timeoutMilliseconds: 500))
    }

    func testKeysAreFortyZ85CharactersAndMalformedOnesAreRefused() throws {
        let keys = try CurveKeyPair.generate()
        XCTAssertEqual(keys.publicKey.count, 40)
        XCTAssertEqual(keys.secretKey.count, 40)
        XCTAssertNotEqual(keys.publicKey, keys.secretKey)
        let socket = try ZMQSocket(try ZMQContext(), type: .pull)
        XCTAssertThrowsError(try socket.setCurveServer(secretKey: "too short")) { error in
            XCTAssertTrue("\(error)".contains("ZMQ_CURVE_SECRETKEY"), "\(error)")
        }
    }
}
