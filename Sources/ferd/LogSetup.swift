import Foundation
import Logging

/// Sends library logs to standard error at a level that suits the command (the long-running
/// services log `info`, the interactive commands only `warning`); `FERD_LOG_LEVEL` overrides it.
enum LogSetup {
    static func bootstrap(default level: Logger.Level) {
        let chosen = ProcessInfo.processInfo.environment["FERD_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = chosen
            return handler
        }
    }
}
