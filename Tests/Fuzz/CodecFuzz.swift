/// libFuzzer entry point for the wire codec: compiled together with Sources/FerdCluster/Protocol by
/// run-codec-fuzz.sh. Decoding must never trap, and whatever decodes must re-encode to an equal message.
@_cdecl("LLVMFuzzerTestOneInput")
public func codecFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let frame = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard let message = try? Message.decode(frame) else { return 0 }
    do {
        let again = try Message.decode(try message.encode())
        precondition(again == message, "re-encoded \(message.type.name) decodes differently")
    } catch {
        preconditionFailure("decoded \(message.type.name) does not round-trip: \(error)")
    }
    return 0
}
