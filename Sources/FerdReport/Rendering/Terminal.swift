import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the text format may lay out and decorate its output.
public struct TextStyle: Sendable, Equatable {
    /// Columns available; tables shrink their text columns to fit.
    public var width: Int
    /// Whether best values are set in bold with ANSI escapes.
    public var bold: Bool

    public init(width: Int = 100, bold: Bool = false) {
        self.width = width
        self.bold = bold
    }

    /// The style for output to `descriptor`: its terminal width (TIOCGWINSZ), else `COLUMNS`, else 100;
    /// bold only on a terminal whose `TERM` is not dumb and when `NO_COLOR` is not set.
    public static func detect(descriptor: Int32 = STDOUT_FILENO,
                              environment: [String: String] = ProcessInfo.processInfo.environment) -> TextStyle {
        let isTerminal = isatty(descriptor) == 1
        var size = winsize()
        let measured = isTerminal && ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0
            ? Int(size.ws_col) : nil
        let width = measured ?? environment["COLUMNS"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil } ?? 100
        let term = environment["TERM"] ?? ""
        let bold = isTerminal && !term.isEmpty && term != "dumb" && (environment["NO_COLOR"] ?? "").isEmpty
        return TextStyle(width: width, bold: bold)
    }
}
