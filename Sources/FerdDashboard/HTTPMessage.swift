import Foundation

/// A request as the dashboard reads it: the method, the path and the query of its target, and the Host header.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The target's path, percent-decoded, e.g. `/updates`.
    public var path: String
    /// The target's query parameters, percent-decoded; a repeated name keeps its last value.
    public var query: [String: String]
    /// The Host header, if the request had one.
    public var host: String?

    public init(method: String, path: String, query: [String: String] = [:], host: String? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.host = host
    }
}

/// A response: status, headers and body; `bytes(forHead:)` writes it as HTTP/1.1 (always `Connection: close`).
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    /// Header fields in order; `Content-Length` and `Connection` are added when written.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A plain-text response (errors, versions), with a newline after `text`.
    public static func text(_ status: Int, _ text: String, headers: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")] + headers,
                     body: Array((text + "\n").utf8))
    }

    /// The value of the first header named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The status line, headers and, unless the request was HEAD, the body.
    public func bytes(forHead head: Bool = false) -> [UInt8] {
        var lines = ["HTTP/1.1 \(status) \(Self.reason(status))"]
        lines += headers.map { "\($0.name): \($0.value)" }
        lines += ["Content-Length: \(body.count)", "Connection: close", "", ""]
        return Array(lines.joined(separator: "\r\n").utf8) + (head ? [] : body)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 204: "No Content"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }

    public static func == (lhs: HTTPResponse, rhs: HTTPResponse) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body && lhs.headers.map(\.name) == rhs.headers.map(\.name)
            && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }
}

/// Reads a request's head (request line and header fields) from bytes as they arrive, up to a size limit; the
/// body, if any, is never read (the dashboard only serves GET and HEAD and closes every connection).
public struct HTTPRequestReader: Sendable {
    /// Where reading stands.
    public enum State: Sendable, Equatable {
        /// The head is not complete yet.
        case needMore
        case complete(HTTPRequest)
        /// The request cannot be served; answer with this response and close.
        case invalid(HTTPResponse)
    }

    /// The longest head accepted (request line and all header fields).
    public let limit: Int
    private var buffer: [UInt8] = []

    public init(limit: Int = 8 * 1024) {
        self.limit = limit
    }

    /// Adds bytes read from the connection.
    public mutating func append(_ bytes: some Sequence<UInt8>) -> State {
        buffer += bytes
        guard let end = Self.headEnd(buffer) else {
            return buffer.count > limit
                ? .invalid(.text(431, "the request head is longer than \(limit) bytes; send a shorter request"))
                : .needMore
        }
        guard end <= limit else {
            return .invalid(.text(431, "the request head is longer than \(limit) bytes; send a shorter request"))
        }
        return Self.parse(String(decoding: buffer[..<end], as: UTF8.self))
    }

    /// The index just past the blank line that ends the head (CRLF CRLF, or a bare LF LF).
    static func headEnd(_ bytes: [UInt8]) -> Int? {
        var index = 0
        while index < bytes.count {
            if bytes[index] == 10 {
                if index + 1 < bytes.count, bytes[index + 1] == 10 { return index + 2 }
                if index + 2 < bytes.count, bytes[index + 1] == 13, bytes[index + 2] == 10 { return index + 3 }
            }
            index += 1
        }
        return nil
    }

    static func parse(_ head: String) -> State {
        let lines = head.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        guard let requestLine = lines.first else { return .invalid(.text(400, "empty request")) }
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            return .invalid(.text(400, "malformed request line; expected e.g. GET / HTTP/1.1"))
        }
        guard parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0" else {
            return .invalid(.text(505, "\(parts[2]) is not supported; use HTTP/1.1"))
        }
        guard parts[1].hasPrefix("/") else {
            return .invalid(.text(400, "the request target must be a path such as /, not \(parts[1])"))
        }
        var host: String?
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else {
                return .invalid(.text(400, "malformed header line; expected Name: value"))
            }
            if line[..<colon].lowercased() == "host" {
                host = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        let target = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let path = target[0].removingPercentEncoding else {
            return .invalid(.text(400, "the request path is not valid percent-encoding"))
        }
        var query: [String: String] = [:]
        if target.count == 2 {
            for pair in target[1].split(separator: "&") {
                let field = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let decode = { (text: String) in text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
                guard let name = decode(field[0]), let value = decode(field.count == 2 ? field[1] : "") else {
                    return .invalid(.text(400, "the request query is not valid percent-encoding"))
                }
                query[name] = value
            }
        }
        return .complete(HTTPRequest(method: parts[0], path: path, query: query, host: host))
    }
}
