import FerdZeroMQ
import Foundation
import Logging

/// Authenticates CURVE clients for every socket of a context (the ZAP protocol, RFC 27): a REP socket bound
/// to `inproc://zeromq.zap.01`, served on its own thread, lets in only clients whose public key is in a
/// `*.pub` file of the allow-list directory. The directory is read on every request, so adding or
/// removing a worker's key takes effect for its next connection.
public final class ZAPHandler: @unchecked Sendable {
    static let endpoint = "inproc://zeromq.zap.01"

    private let stopSignal = StopSignal()
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var counts = (accepted: 0, rejected: 0)

    /// Binds the handler in `context` and starts serving; returns once it is bound, so that no connection
    /// is ever accepted unauthenticated.
    public init(context: ZMQContext, allowListDirectory: URL, logger: Logger) throws(ZMQError) {
        let bound = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var bindError: ZMQError?
        let thread = Thread { [stopSignal, finished, weak self] in
            defer { finished.signal() }
            let socket: ZMQSocket
            do throws(ZMQError) {
                socket = try ZMQSocket(context, type: .reply)
                try socket.setLinger(milliseconds: 0)
                try socket.bind(Self.endpoint)
            } catch {
                bindError = error
                bound.signal()
                return
            }
            bound.signal()
            Self.serve(socket, allowList: allowListDirectory, until: stopSignal, logger: logger) { accepted in
                self?.count(accepted: accepted)
            }
            socket.close()
        }
        thread.name = "ferd-zap"
        thread.start()
        bound.wait()
        if let bindError {
            finished.wait()
            throw bindError
        }
    }

    /// Requests answered so far: clients let in and clients turned away.
    public var decisions: (accepted: Int, rejected: Int) {
        lock.withLock { counts }
    }

    /// Stops serving and waits for the thread to end; call before the context is terminated.
    public func stop() {
        guard !stopSignal.isStopped else { return }
        stopSignal.stop()
        finished.wait()
    }

    private func count(accepted: Bool) {
        lock.withLock {
            if accepted { counts.accepted += 1 } else { counts.rejected += 1 }
        }
    }

    private static func serve(_ socket: ZMQSocket, allowList: URL, until stop: StopSignal, logger: Logger,
                              decided: (Bool) -> Void) {
        while !stop.isStopped {
            do throws(ZMQError) {
                guard try socket.poll(timeoutMilliseconds: 50), let request = try socket.receive() else { continue }
                let reply = answer(request, allowed: KeyFiles.publicKeys(in: allowList), logger: logger)
                try socket.send(reply.frames)
                if let accepted = reply.accepted { decided(accepted) }
            } catch {
                if error.contextTerminated { return }
                logger.error("ZAP handler failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The reply to one ZAP request, and whether it let the client in (nil for a malformed request).
    static func answer(_ request: [[UInt8]], allowed: Set<String>,
                       logger: Logger) -> (frames: [[UInt8]], accepted: Bool?) {
        let version = Array("1.0".utf8)
        guard request.count >= 6, request[0] == version else {
            logger.warning("malformed ZAP request", metadata: ["frames": "\(request.count)"])
            return ([version, request.count > 1 ? request[1] : [], Array("400".utf8),
                     Array("malformed ZAP request".utf8), [], []], nil)
        }
        let requestID = request[1]
        let address = String(decoding: request[3], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        guard mechanism == "CURVE", request.count >= 7, let key = CurveKeyPair.z85(binaryKey: request[6]) else {
            logger.warning("rejected a client without a CURVE key",
                           metadata: ["address": "\(address)", "mechanism": "\(mechanism)"])
            return ([version, requestID, Array("400".utf8), Array("CURVE required".utf8), [], []], false)
        }
        guard allowed.contains(key) else {
            logger.warning("rejected a worker whose public key is not in the allow-list",
                           metadata: ["address": "\(address)", "key": "\(key)"])
            return ([version, requestID, Array("400".utf8), Array("unknown public key".utf8), [], []], false)
        }
        logger.info("accepted worker key", metadata: ["address": "\(address)", "key": "\(key)"])
        return ([version, requestID, Array("200".utf8), Array("OK".utf8), Array(key.utf8), []], true)
    }
}
