/// A problem with a data file: which file (and line, if any), what is wrong, and how to fix it.
public struct DataError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file or folder at fault.
    public var file: String
    /// The 1-based line in `file`, when the problem is on one line.
    public var line: Int?
    /// What is wrong.
    public var problem: String
    /// What the user can do about it.
    public var fix: String

    public init(file: String, line: Int? = nil, problem: String, fix: String) {
        self.file = file
        self.line = line
        self.problem = problem
        self.fix = fix
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return "\(place): \(problem). Fix: \(fix)"
    }
}
