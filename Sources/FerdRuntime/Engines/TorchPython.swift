import Foundation

/// A Python interpreter that can import torch: the one `ferd worker --engine torch` spawns the engine with.
public struct TorchPython: Sendable, Equatable {
    /// The oldest torch the engine supports (Debian 12's python3-torch).
    public static let minimumTorch = (major: 1, minor: 13)

    /// The interpreter's path.
    public var executable: String
    /// `torch.__version__`, such as "1.13.1" or "2.5.1+cu121".
    public var torchVersion: String
    /// Whether `torch.cuda.is_available()` was true when probed.
    public var cudaAvailable: Bool
    /// The names of the visible CUDA devices, in index order.
    public var cudaDevices: [String]

    /// The folder that holds the `ferd_torch` package, added to `PYTHONPATH` when the engine is spawned from a
    /// checkout (an installed package is found without it).
    public static func packageRoot(near executable: URL = URL(fileURLWithPath: CommandLine.arguments[0])) -> URL? {
        var folder = executable.resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = folder.appendingPathComponent("Engines/torch")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("ferd_torch/__init__.py").path) {
                return candidate
            }
            folder.deleteLastPathComponent()
        }
        return nil
    }

    /// The interpreter at `path` if given, else the first of `$FERD_PYTHON`, the `python3` programs on `PATH` and
    /// `/usr/bin/python3` that imports torch ≥ 1.13. The error lists what was tried and how to install torch.
    public static func locate(_ path: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> TorchPython {
        var candidates: [String] = []
        if let path {
            candidates = [path]
        } else {
            if let configured = environment["FERD_PYTHON"], !configured.isEmpty { candidates.append(configured) }
            for folder in (environment["PATH"] ?? "").split(separator: ":") {
                candidates.append("\(folder)/python3")
            }
            candidates.append("/usr/bin/python3")
        }
        var tried: [String] = []
        var seen = Set<String>()
        for candidate in candidates where seen.insert(candidate).inserted {
            guard FileManager.default.isExecutableFile(atPath: candidate) else {
                if path != nil { tried.append("\(candidate): not an executable file") }
                continue
            }
            switch probe(candidate) {
            case .success(let python):
                guard python.meetsMinimum else {
                    tried.append("\(candidate): torch \(python.torchVersion) is older than \(minimumTorch.major).\(minimumTorch.minor)")
                    continue
                }
                return python
            case .failure(let reason):
                tried.append("\(candidate): \(reason)")
            }
        }
        throw EngineError.torchUnavailable(tried: tried.isEmpty ? ["no python3 on PATH"] : tried)
    }

    var meetsMinimum: Bool {
        let numbers = torchVersion.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard numbers.count == 2 else { return false }
        return (numbers[0], numbers[1]) >= (Self.minimumTorch.major, Self.minimumTorch.minor)
    }

    private static let probeScript = """
        import json, torch
        cuda = torch.cuda.is_available()
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
        print(json.dumps({"torch": torch.__version__, "cuda": cuda, "devices": names}))
        """

    private struct ProbeOutput: Decodable {
        var torch: String
        var cuda: Bool
        var devices: [String]
    }

    private static func probe(_ executable: String) -> Result<TorchPython, ProbeFailure> {
        let child = ChildProcess()
        let process = child.process
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", probeScript]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do {
            try child.run()
        } catch {
            return .failure(ProbeFailure("cannot run it (\(error.localizedDescription))"))
        }
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        guard process.terminationStatus == 0,
              let line = String(decoding: stdout, as: UTF8.self).split(separator: "\n").last,
              let decoded = try? JSONDecoder().decode(ProbeOutput.self, from: Data(line.utf8)) else {
            let message = String(decoding: stderr, as: UTF8.self).split(separator: "\n").last.map(String.init)
                ?? "exit status \(process.terminationStatus)"
            return .failure(ProbeFailure(message.contains("No module named 'torch'") ? "torch is not installed" : message))
        }
        return .success(TorchPython(executable: executable, torchVersion: decoded.torch, cudaAvailable: decoded.cuda,
                                    cudaDevices: decoded.devices))
    }

    private struct ProbeFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
