/// A message body that can read and write itself and check its own fields.
protocol WireBody {
    init(from reader: inout ByteReader) throws(ProtocolError)
    func write(to writer: inout ByteWriter) throws(ProtocolError)
    /// Checks the semantic rules of docs/PROTOCOL.md; run before encoding and after decoding.
    func validate() throws(ProtocolError)
}

extension ByteReader {
    /// Reads a presence byte (0 or 1) and, when present, the value.
    mutating func readOptional<Value>(
        field: String, _ read: (inout ByteReader) throws(ProtocolError) -> Value
    ) throws(ProtocolError) -> Value? {
        try readBool(field: field) ? try read(&self) : nil
    }
}

extension ByteWriter {
    /// Writes a presence byte and, when present, the value.
    mutating func writeOptional<Value>(
        _ value: Value?, _ write: (inout ByteWriter, Value) throws(ProtocolError) -> Void
    ) throws(ProtocolError) {
        writeBool(value != nil)
        if let value { try write(&self, value) }
    }
}
