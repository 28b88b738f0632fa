import FerdDashboard
import XCTest

/// Reading request heads: bytes arriving in pieces, limits, malformed requests; and `--bind` addresses.
final class HTTPRequestReaderTests: XCTestCase {
    private func read(_ text: String, limit: Int = 8 * 1024) -> HTTPRequestReader.State {
        var reader = HTTPRequestReader(limit: limit)
        return reader.append(Array(text.utf8))
    }

    func testAHeadArrivingInPieces() {
        var reader = HTTPRequestReader()
        XCTAssertEqual(reader.append(Array("GET /updates?version=ab-1".utf8)), .needMore)
        XCTAssertEqual(reader.append(Array("2&x=%3Cb%3E+c HTTP/1.1\r\nHost: 127.0.0.1:80".utf8)), .needMore)
        XCTAssertEqual(reader.append(Array("80\r\nAccept: */*\r\n\r\n".utf8)),
                       .complete(HTTPRequest(method: "GET", path: "/updates", query: ["version": "ab-12", "x": "<b> c"],
                                             host: "127.0.0.1:8080")))
    }

    func testBareLineFeedsAndHTTP10() {
        XCTAssertEqual(read("HEAD / HTTP/1.0\n\n"), .complete(HTTPRequest(method: "HEAD", path: "/")))
    }

    func testAnOversizedHeadIsRefused() {
        guard case let .invalid(response) = read("GET / HTTP/1.1\r\nX-Pad: " + String(repeating: "a", count: 200),
                                                 limit: 128) else { return XCTFail("accepted") }
        XCTAssertEqual(response.status, 431)
        guard case let .invalid(complete) = read("GET / HTTP/1.1\r\nX-Pad: " + String(repeating: "a", count: 200) + "\r\n\r\n",
                                                 limit: 128) else { return XCTFail("accepted") }
        XCTAssertEqual(complete.status, 431)
    }

    func testMalformedRequestsAreRefusedWithAReason() {
        for (text, status) in [("garbage\r\n\r\n", 400), ("get / HTTP/1.1\r\n\r\n", 400), ("GET / HTTP/2\r\n\r\n", 505),
                               ("GET http://x/ HTTP/1.1\r\n\r\n", 400), ("GET / HTTP/1.1\r\nno colon\r\n\r\n", 400),
                               ("GET /%zz HTTP/1.1\r\n\r\n", 400)] {
            guard case let .invalid(response) = read(text) else { return XCTFail("accepted \(text)") }
            XCTAssertEqual(response.status, status, text)
            XCTAssertFalse(response.text.isEmpty)
        }
    }

    func testBindAddresses() throws {
        XCTAssertEqual(try BindAddress(parsing: "127.0.0.1:8080"), BindAddress(host: "127.0.0.1", port: 8080))
        XCTAssertEqual(try BindAddress(parsing: "localhost:0"), BindAddress(host: "localhost", port: 0))
        XCTAssertEqual(try BindAddress(parsing: "[::1]:9000"), BindAddress(host: "::1", port: 9000))
        XCTAssertEqual(BindAddress(host: "::1", port: 9000).description, "[::1]:9000")
        for text in ["8080", "127.0.0.1", "127.0.0.1:http", ":8080", "127.0.0.1:70000", "::1:8080", "[::1]8080"] {
            XCTAssertThrowsError(try BindAddress(parsing: text), text) { error in
                XCTAssertTrue("\(error)".contains("--bind \"\(text)\""), "\(error)")
                XCTAssertTrue("\(error)".contains("127.0.0.1:8080"), "\(error)")
            }
        }
    }

    func testLoopbackAddresses() {
        for address in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"] {
            XCTAssertTrue(BindAddress.isLoopback(numericAddress: address), address)
        }
        for address in ["0.0.0.0", "::", "10.0.0.1", "::ffff:10.0.0.1", "fe80::1", "128.0.0.1"] {
            XCTAssertFalse(BindAddress.isLoopback(numericAddress: address), address)
        }
    }
}
