import Foundation
import XCTest
@testable import FerdRuntime

/// How a torch worker finds its Python and checks its devices; every refusal names what was tried and the fix.
final class TorchPythonTests: XCTestCase {
    private func fakePython(printing json: String) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fake-python-\(UUID().uuidString)")
        try "#!/bin/sh\necho '\(json)'\n".write(to: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
        return file.path
    }

    func testAMissingInterpreterIsNamedWithTheInstallHint() {
        XCTAssertThrowsError(try TorchPython.locate("/nonexistent/python3")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("/nonexistent/python3: not an executable file"), text)
            XCTAssertTrue(text.contains("apt-get install python3-torch") && text.contains("--python"), text)
        }
    }

    func testAnOldTorchIsRefusedAndANewOneAccepted() throws {
        let old = try fakePython(printing: #"{"torch": "1.12.1", "cuda": false, "devices": []}"#)
        XCTAssertThrowsError(try TorchPython.locate(old)) { error in
            XCTAssertTrue("\(error)".contains("torch 1.12.1 is older than 1.13"), "\(error)")
        }
        let current = try fakePython(printing: #"{"torch": "2.5.1+cu121", "cuda": true, "devices": ["H200", "H200"]}"#)
        let python = try TorchPython.locate(current)
        XCTAssertEqual(python.torchVersion, "2.5.1+cu121")
        XCTAssertEqual(python.cudaDevices.count, 2)
        let searched = try TorchPython.locate(environment: ["FERD_PYTHON": current, "PATH": "/nonexistent"])
        XCTAssertEqual(searched.executable, current, "$FERD_PYTHON comes first")
    }

    func testDevicesAreCheckedAgainstWhatTorchSees() throws {
        let cpuOnly = TorchPython(executable: "/usr/bin/python3", torchVersion: "2.5.1", cudaAvailable: false, cudaDevices: [])
        XCTAssertThrowsError(try TorchWorkerOptions.resolve(python: cpuOnly, device: .cuda, requested: nil, threads: 0)) { error in
            XCTAssertTrue("\(error)".contains("--device cpu"), "\(error)")
        }
        XCTAssertEqual(try TorchWorkerOptions.resolve(python: cpuOnly, device: .cpu, requested: nil, threads: 2).gpus, [])
        let box = TorchPython(executable: "/opt/py", torchVersion: "2.5.1", cudaAvailable: true, cudaDevices: ["H200", "H200"])
        XCTAssertEqual(try TorchWorkerOptions.resolve(python: box, device: .cuda, requested: nil, threads: 0).gpus, [0, 1])
        XCTAssertThrowsError(try TorchWorkerOptions.resolve(python: box, device: .cuda, requested: [3], threads: 0)) { error in
            XCTAssertEqual(error as? EngineError, .noSuchGPU(index: 3, available: 2))
            XCTAssertTrue("\(error)".contains("this machine has 2 (0…1)"), "\(error)")
        }
        let options = try TorchWorkerOptions.resolve(python: box, device: .cuda, requested: [1], threads: 0)
        XCTAssertEqual(options.backendDescription, "cuda:1 (H200; torch 2.5.1)")
    }
}
