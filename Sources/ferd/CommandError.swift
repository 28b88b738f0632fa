/// A failure the command line reports as `Error: <text>` with exit code 1 and no usage text: the
/// input was well-formed as arguments but wrong as data (a file, a shape, a value).
struct CommandError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
