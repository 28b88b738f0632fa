/// Why a report cannot be produced; the message says what to do instead.
public enum ReportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The database holds no experiment.
    case emptyDatabase(path: String)
    /// No experiment has this name or id.
    case unknownExperiment(String, available: [String])
    /// A `--pivot` name matches no parameter of the grid.
    case unknownParameter(String, available: [String])
    /// `--pivot` was not two different parameter names.
    case invalidPivot(String)

    public var description: String {
        switch self {
        case let .emptyDatabase(path):
            "\(path) holds no experiment yet: run `ferd coordinator` with a config first"
        case let .unknownExperiment(name, available):
            "no experiment named or numbered \"\(name)\"; the database has: \(available.joined(separator: ", "))"
        case let .unknownParameter(name, available):
            "no grid parameter \"\(name)\"; the grid has: "
                + (available.isEmpty ? "no parameters" : available.joined(separator: ", "))
        case let .invalidPivot(text):
            "--pivot \"\(text)\" must name two different parameters, e.g. --pivot lambda,reduction"
        }
    }
}
