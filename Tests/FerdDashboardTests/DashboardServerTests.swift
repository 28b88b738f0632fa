import FerdDashboard
import FerdLeaderboard
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The server over real sockets on loopback, with a plain HTTP client.
final class DashboardServerTests: DashboardTestCase {
    private var servers: [DashboardServer] = []

    override func tearDownWithError() throws {
        servers.forEach { $0.stop() }
        servers = []
        try super.tearDownWithError()
    }

    /// A server on an ephemeral loopback port, serving on its own thread.
    func startServer(pollTimeout: Double = 20, bind: String = "127.0.0.1:0", allowPublic: Bool = false) throws -> DashboardServer {
        let server = try DashboardServer(databasePath: databasePath,
                                         options: .init(bind: try BindAddress(parsing: bind), allowPublic: allowPublic,
                                                        pollTimeout: pollTimeout, watchInterval: 0.05),
                                         logger: logger)
        servers.append(server)
        Thread { server.run() }.start()
        return server
    }

    func testServesThePageOnTheEphemeralPortItReports() throws {
        let server = try startServer()
        XCTAssertNotEqual(server.address.port, 0)
        XCTAssertFalse(server.isPublic)
        let answer = try RawHTTP.exchange(port: server.address.port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.headers["content-type"], "text/html; charset=utf-8")
        XCTAssertEqual(answer.headers["content-length"], "\(answer.body.utf8.count)")
        XCTAssertTrue(answer.body.contains("<td class=\"right\">2/6</td>"), answer.body)
        let head = try RawHTTP.exchange(port: server.address.port, "HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body, "")
        XCTAssertEqual(head.headers["content-length"], answer.headers["content-length"])
    }

    func testRefusesWritesUnknownPathsAndOversizedRequests() throws {
        let port = try startServer().address.port
        let post = try RawHTTP.exchange(port: port, "POST /updates HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}")
        XCTAssertEqual(post.status, 405)
        XCTAssertEqual(post.headers["allow"], "GET, HEAD")
        XCTAssertEqual(try RawHTTP.exchange(port: port, "GET /nothing HTTP/1.1\r\n\r\n").status, 404)
        XCTAssertEqual(try RawHTTP.exchange(port: port, "GET / HTTP/1.1\r\nX: \(String(repeating: "y", count: 20_000))\r\n\r\n")
            .status, 431)
        XCTAssertEqual(try RawHTTP.exchange(port: port, "GET / HTTP/1.1\r\nHost: rebound.example\r\n\r\n").status, 403)
    }

    func testALongPollIsAnsweredWhenAnEpochIsStored() throws {
        let server = try startServer()
        let fragment = try RawHTTP.exchange(port: server.address.port, "GET /fragment HTTP/1.1\r\n\r\n")
        let version = try XCTUnwrap(fragment.headers["x-ferd-version"])
        let answered = expectation(description: "long poll answered")
        let result = Box<RawHTTP.Answer?>(nil)
        Thread {
            result.value = try? RawHTTP.exchange(port: server.address.port, "GET /updates?version=\(version) HTTP/1.1\r\n\r\n")
            answered.fulfill()
        }.start()
        try waitUntil { server.pollsWaiting == 1 }
        try storeEpoch(3, of: trials[0], in: try writer())
        wait(for: [answered], timeout: 10)
        let answer = try XCTUnwrap(result.value)
        XCTAssertEqual(answer.status, 200)
        XCTAssertNotEqual(answer.body, version + "\n")
        let updated = try RawHTTP.exchange(port: server.address.port, "GET /fragment HTTP/1.1\r\n\r\n")
        XCTAssertEqual(updated.headers["x-ferd-version"].map { $0 + "\n" }, answer.body)
        XCTAssertTrue(updated.body.contains("<td class=\"right\">3/6</td>"))
    }

    func testAClientThatStallsMidHeadIsAnswered408() throws {
        let server = try DashboardServer(databasePath: databasePath,
                                         options: .init(bind: BindAddress(host: "127.0.0.1", port: 0), requestTimeout: 0.3),
                                         logger: logger)
        servers.append(server)
        Thread { server.run() }.start()
        XCTAssertEqual(try RawHTTP.exchange(port: server.address.port, "GET / HTTP/1.1\r\nHost: 127.0").status, 408)
    }

    func testALongPollWithoutChangeEndsWith204() throws {
        let server = try startServer(pollTimeout: 0.3)
        let version = try XCTUnwrap(try RawHTTP.exchange(port: server.address.port, "GET /fragment HTTP/1.1\r\n\r\n")
            .headers["x-ferd-version"])
        let start = Date()
        XCTAssertEqual(try RawHTTP.exchange(port: server.address.port, "GET /updates?version=\(version) HTTP/1.1\r\n\r\n")
            .status, 204)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.25)
    }

    func testAPortInUseIsNamedWithTheFix() throws {
        let first = try startServer()
        XCTAssertThrowsError(try startServer(bind: "127.0.0.1:\(first.address.port)")) { error in
            XCTAssertEqual(error as? DashboardError, .addressInUse(BindAddress(host: "127.0.0.1", port: first.address.port)))
            XCTAssertTrue("\(error)".contains("already in use"), "\(error)")
            XCTAssertTrue("\(error)".contains("port 0"), "\(error)")
        }
    }

    func testAPublicAddressNeedsTheFlag() throws {
        XCTAssertThrowsError(try startServer(bind: "0.0.0.0:0")) { error in
            XCTAssertTrue("\(error)".contains("--public"), "\(error)")
            XCTAssertTrue("\(error)".contains("no authentication"), "\(error)")
        }
        let server = try startServer(bind: "0.0.0.0:0", allowPublic: true)
        XCTAssertTrue(server.isPublic)
        XCTAssertEqual(try RawHTTP.exchange(port: server.address.port, "GET / HTTP/1.1\r\nHost: lab.example\r\n\r\n").status, 200)
    }

    func testAMissingDatabaseIsNotCreated() throws {
        try FileManager.default.removeItem(atPath: databasePath)
        XCTAssertThrowsError(try startServer())
        XCTAssertFalse(FileManager.default.fileExists(atPath: databasePath))
    }
}

/// A mutable value shared with a thread in a test.
final class Box<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// Polls `condition` every 20 ms for up to `seconds`.
func waitUntil(seconds: Double = 20, _ condition: () -> Bool, file: StaticString = #filePath, line: UInt = #line) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        guard Date() < deadline else {
            XCTFail("condition not met in \(seconds) s", file: file, line: line)
            throw XCTSkip("gave up waiting")
        }
        Thread.sleep(forTimeInterval: 0.02)
    }
}

/// A plain HTTP/1.1 client over a POSIX socket: sends a request as written and reads the answer to the end.
enum RawHTTP {
    struct Answer {
        var status: Int
        /// Lower-cased names.
        var headers: [String: String]
        var body: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func exchange(port: UInt16, _ request: String, timeout: Double = 30) throws -> Answer {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket failed") }
        defer { close(descriptor) }
        var time = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect to port \(port) failed") }
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            received += buffer[..<count]
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure(description: "no HTTP answer: \(text)") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        guard let status = lines.first.flatMap({ Int($0.split(separator: " ")[1]) }) else {
            throw Failure(description: "no status line: \(text)")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Answer(status: status, headers: headers, body: String(text[split.upperBound...]))
    }
}
