#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The POSIX socket calls of the server: a listening TCP socket and the connections it accepts.
enum Sockets {
    #if canImport(Glibc)
    static let stream = Int32(SOCK_STREAM.rawValue)
    static let sendFlags = Int32(MSG_NOSIGNAL)
    #else
    static let stream = SOCK_STREAM
    static let sendFlags: Int32 = 0
    #endif

    /// A socket listening on `address` (its port filled in when it was 0), and the numeric address it listens on.
    static func openListener(on address: BindAddress, allowPublic: Bool,
                       backlog: Int32 = 64) throws(DashboardError) -> (descriptor: Int32, bound: BindAddress, numeric: String) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = stream
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(address.host, String(address.port), &hints, &list)
        guard code == 0, let first = list else {
            throw .unresolvableHost(address.host, reason: String(cString: gai_strerror(code)))
        }
        defer { freeaddrinfo(list) }
        let numeric = numericHost(first.pointee.ai_addr, first.pointee.ai_addrlen)
        guard allowPublic || BindAddress.isLoopback(numericAddress: numeric) else {
            throw .notLoopback(address, resolved: numeric)
        }
        let descriptor = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard descriptor >= 0 else { throw .cannotListen(address, reason: errorText()) }
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let error = errno == EADDRINUSE ? DashboardError.addressInUse(address) : .cannotListen(address, reason: errorText())
            close(descriptor)
            throw error
        }
        guard listen(descriptor, backlog) == 0 else {
            let reason = errorText()
            close(descriptor)
            throw .cannotListen(address, reason: reason)
        }
        return (descriptor, BindAddress(host: address.host, port: boundPort(descriptor) ?? address.port), numeric)
    }

    /// Waits up to `milliseconds` for a connection and accepts it; nil when none came.
    static func nextConnection(_ descriptor: Int32, waitingMilliseconds milliseconds: Int32) -> Int32? {
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&request, 1, milliseconds) > 0 else { return nil }
        let connection = accept(descriptor, nil, nil)
        return connection >= 0 ? connection : nil
    }

    /// Makes reads and writes on `descriptor` give up after `seconds`.
    static func setTimeouts(_ descriptor: Int32, seconds: Double) {
        var time = timeval(tv_sec: Int(seconds), tv_usec: .init((seconds - seconds.rounded(.down)) * 1e6))
        let size = socklen_t(MemoryLayout<timeval>.size)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &time, size)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &time, size)
        #if canImport(Darwin)
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
    }

    /// What a read gave.
    enum Received {
        case bytes(ArraySlice<UInt8>)
        /// The peer closed the connection, or it failed.
        case closed
        /// Nothing arrived within the socket's timeout.
        case timedOut
    }

    /// Up to `buffer.count` bytes.
    static func receive(_ descriptor: Int32, into buffer: inout [UInt8]) -> Received {
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count > 0 { return .bytes(buffer[..<count]) }
        return count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? .timedOut : .closed
    }

    /// Writes all of `bytes`; false when the peer went away or the write timed out.
    @discardableResult
    static func write(_ descriptor: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress! + offset, $0.count - offset, sendFlags) }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    /// Ends the connection: says no more will be sent, then reads (for at most a second, at most 1 MiB) what the
    /// client still sends, such as a body nobody asked for, so that closing does not reset the connection before
    /// the client has read the response.
    static func finish(_ descriptor: Int32) {
        shutdown(descriptor, Int32(SHUT_WR))
        setTimeouts(descriptor, seconds: 1)
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var drained = 0
        while drained < 1 << 20, case let .bytes(bytes) = receive(descriptor, into: &buffer) {
            drained += bytes.count
        }
        close(descriptor)
    }

    private static func numericHost(_ address: UnsafeMutablePointer<sockaddr>?, _ length: socklen_t) -> String {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(address, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { return "?" }
        return host.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    private static func boundPort(_ descriptor: Int32) -> UInt16? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { return nil }
        return withUnsafePointer(to: &storage) { pointer -> UInt16? in
            switch Int32(pointer.pointee.ss_family) {
            case AF_INET: pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            case AF_INET6: pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            default: nil
            }
        }
    }

    private static func errorText() -> String {
        String(cString: strerror(errno))
    }
}
