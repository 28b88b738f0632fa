import FerdDigest
import XCTest

/// SHA-256 against the FIPS 180-2 examples (the million a's too), fed whole, in pieces and as any sequence.
final class SHA256Tests: XCTestCase {
    private func digest(_ text: String) -> String {
        var hash = SHA256()
        hash.update(text.utf8)
        return hash.hexDigest()
    }

    func testKnownAnswers() {
        XCTAssertEqual(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testPiecesGiveTheSameDigestAsTheWhole() {
        let bytes = (0..<1_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var whole = SHA256()
        whole.update(bytes)
        for split in [1, 55, 56, 63, 64, 65, 500] {
            var pieces = SHA256()
            pieces.update(bytes[..<split])
            pieces.update(bytes[split...])
            XCTAssertEqual(pieces.hexDigest(), whole.hexDigest(), "split at \(split)")
        }
    }

    func testLongMessageAndEveryKindOfSequenceAgree() {
        var million = SHA256()
        for _ in 0..<1_000 { million.update([UInt8](repeating: UInt8(ascii: "a"), count: 1_000)) }
        XCTAssertEqual(million.hexDigest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var array = SHA256(), slice = SHA256(), lazy = SHA256()
        array.update(bytes)
        slice.update(bytes[...])
        lazy.update(bytes.lazy.map { $0 })
        XCTAssertEqual(slice.hexDigest(), array.hexDigest())
        XCTAssertEqual(lazy.hexDigest(), array.hexDigest())
    }

    func testDigestCanBeReadMidStreamAndTheStreamGoesOn() {
        var hash = SHA256()
        hash.update("ab".utf8)
        XCTAssertEqual(hash.hexDigest(), digest("ab"))
        hash.update("c".utf8)
        XCTAssertEqual(hash.hexDigest(), digest("abc"))
    }

    func testFieldsCannotRunTogether() {
        var a = SHA256(), b = SHA256()
        a.update(field: "ab")
        a.update(field: "c")
        b.update(field: "a")
        b.update(field: "bc")
        XCTAssertNotEqual(a.hexDigest(), b.hexDigest())
        var field = SHA256()
        field.update(field: "ab")
        XCTAssertEqual(field.hexDigest(), digest("ab\u{0}"), "a field is its UTF-8 bytes and a 0 byte, as caches store it")
    }
}
