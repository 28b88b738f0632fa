import FerdModels
import FerdTensor
import FerdTraining
import Foundation
import XCTest
@testable import FerdRuntime

/// The Swift and the PyTorch engine on the same weights and batch: every method's logits, loss parts and
/// parameter gradients of one train-mode step agree (issue 13). The Swift model writes its weights, the torch
/// model (`python -m ferd_torch.crosscheck`) loads them strictly — so the state_dict keys agree too — and
/// computes the step in float32 and in float64. As in ParityTests, each float32 result is judged against the
/// float64 one: logits and losses to 1e-4 relative (to the largest magnitude), gradients to 1e-3 relative per
/// tensor or 4× PyTorch's own float32 error where that is larger (train-mode gradients are ill-conditioned:
/// ReLU, max-pool and batch-statistics decisions flip under float32 rounding). Skipped only without torch.
final class CrossEngineTests: XCTestCase {
    private static let transformer = TransformerShape(depth: 1, heads: 2, headDimension: 4, hiddenDimension: 8)

    /// A tiny configuration of `method`: 2 frames of 32², 2×2 tokens after layer3.
    private func tiny(_ method: ModelMethod) -> ModelConfiguration {
        ModelConfiguration(method: method, frames: 2, imageSize: 32,
                           widths: method == .gcaIAL ? [4, 4, 8, 8, 8] : [4, 4, 8, 8, 16], reduction: 4,
                           spatialTransformer: Self.transformer,
                           temporalTransformer: TransformerShape(depth: 2, heads: 2, headDimension: 4, hiddenDimension: 8))
    }

    func testGCAIALAgrees() throws {
        try crossCheck(tiny(.gcaIAL))
    }

    // MARK: - The step in both engines

    /// The largest difference and that difference relative to the largest magnitude of `exact`.
    private func difference(_ values: [Float], _ exact: [Float]) -> (absolute: Float, relative: Float) {
        let scale = exact.map(abs).max() ?? 0
        let error = zip(values, exact).map { abs($0 - $1) }.max() ?? 0
        return (error, scale > 0 ? error / scale : error)
    }

    private struct Worst {
        var name = ""
        var absolute: Float = 0
        var relative: Float = 0

        mutating func note(_ name: String, _ difference: (absolute: Float, relative: Float)) {
            absolute = max(absolute, difference.absolute)
            if difference.relative > relative { (self.name, relative) = (name, difference.relative) }
        }
    }

    private func crossCheck(_ configuration: ModelConfiguration, file: StaticString = #filePath, line: UInt = #line) throws {
        let python: TorchPython
        do {
            python = try TorchPython.locate()
        } catch {
            throw XCTSkip("no Python with torch (\(error)); install python3-torch to compare the engines")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cross-engine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let settings = TrainingSettings(model: configuration, epochs: 1, batchSize: 2, seed: 3)
        let model = try ExpressionModels.make(configuration, seed: 5)
        let batch = 2, side = configuration.imageSize
        let shape = [batch, configuration.frames, 3, side, side]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let values = (0..<shape.reduce(1, *)).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24)
        }
        let targets = [1, 4]
        let files = ["settings", "weights", "batch", "out"].map { folder.appendingPathComponent($0) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(settings).write(to: files[0])
        try model.checkpoint().write(to: files[1])
        try SafetensorsFile(tensors: ["clips": StoredTensor(shape: shape, values: values)],
                            integerTensors: ["targets": StoredIntegerTensor(shape: [batch], values: targets.map(Int64.init))])
            .write(to: files[2])
        try runCrosscheck(python, settings: files[0], weights: files[1], batch: files[2], out: files[3])
        let torch = try SafetensorsFile.read(contentsOf: files[3])

        let output = try model(Tensor(shape: shape, data: values), training: true)
        let losses = try swiftLosses(output, settings: settings, targets: targets)
        var outputs: [String: [Float]] = ["logits": output.logits.data]
        for (index, head) in output.auxiliaryLogits.enumerated() { outputs["aux.\(index)"] = head.data }
        if let importance = output.importance { outputs["importance"] = importance.data }
        if let attention = output.regionAttention { outputs["region_attention"] = attention.data }
        for (name, value) in losses.parts { outputs["loss." + name] = [value] }
        XCTAssertEqual(Set(outputs.keys), Set(torch.tensors.keys.filter { !$0.hasPrefix("grad.") && !$0.hasPrefix("f64.") }),
                       "the engines report the same outputs and loss parts", file: file, line: line)
        losses.total.backward()

        var worstOutput = Worst(), worstGradient = Worst(), worstTorch = Worst()
        for (name, ours) in outputs.sorted(by: { $0.key < $1.key }) {
            guard let exact = torch.tensors["f64." + name], let float = torch.tensors[name] else { continue }
            let ferd = difference(ours, exact.values), pytorch = difference(float.values, exact.values)
            worstOutput.note(name, difference(ours, float.values))
            XCTAssertEqual(ours.count, exact.values.count, name, file: file, line: line)
            XCTAssertLessThanOrEqual(ferd.relative, max(1e-4, 4 * pytorch.relative),
                                     "\(name): Swift differs from float64 by \(ferd.relative) relative, PyTorch float32 by \(pytorch.relative)",
                                     file: file, line: line)
        }
        var compared = 0
        for name in model.store.names where model.store.roles[name] == .parameter {
            let tensor = try XCTUnwrap(model.store.tensors[name])
            guard let exact = torch.tensors["f64.grad." + name], let float = torch.tensors["grad." + name] else {
                XCTAssertNil(tensor.grad, "\(name) gets a gradient in Swift but none in PyTorch", file: file, line: line)
                continue
            }
            let ours = try XCTUnwrap(tensor.grad, "\(name) gets a gradient in PyTorch but none in Swift", file: file, line: line)
            let ferd = difference(ours, exact.values), pytorch = difference(float.values, exact.values)
            worstGradient.note(name, difference(ours, float.values))
            worstTorch.note(name, pytorch)
            XCTAssertLessThanOrEqual(ferd.relative, max(1e-3, 4 * pytorch.relative),
                                     "grad \(name): Swift differs from float64 by \(ferd.relative) relative, PyTorch float32 by \(pytorch.relative)",
                                     file: file, line: line)
            compared += 1
        }
        XCTAssertEqual(compared, torch.tensors.keys.filter { $0.hasPrefix("grad.") }.count, file: file, line: line)
        print("cross-engine \(configuration.method.rawValue): outputs and losses Swift vs PyTorch float32 max abs \(worstOutput.absolute), "
              + "max rel \(worstOutput.relative) (\(worstOutput.name)); \(compared) gradients max abs \(worstGradient.absolute), "
              + "max rel \(worstGradient.relative) (\(worstGradient.name)); PyTorch float32 vs float64 gradients max rel \(worstTorch.relative)")
    }

    /// The method's loss parts in the names of `ferd_torch.methods.losses`, and the total to differentiate.
    private func swiftLosses(_ output: ModelOutput, settings: TrainingSettings, targets: [Int]) throws
        -> (parts: [String: Float], total: Tensor) {
        switch settings.model.method {
        case .gcaIAL:
            let loss = output.loss(targets: targets, weights: settings.loss)
            var parts = ["ce": loss.crossEntropy, "ial": loss.intensityAware, "total": loss.total.item]
            parts["aux2"] = loss.auxiliary.count > 0 ? loss.auxiliary[0] : 0
            parts["aux3"] = loss.auxiliary.count > 1 ? loss.auxiliary[1] : 0
            return (parts, loss.total)
        default:
            throw XCTSkip("the Swift loss of \(settings.model.method.rawValue) is not merged yet")
        }
    }

    /// Runs `python -m ferd_torch.crosscheck`; fails with its standard error when it fails.
    private func runCrosscheck(_ python: TorchPython, settings: URL, weights: URL, batch: URL, out: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python.executable)
        process.arguments = ["-m", "ferd_torch.crosscheck", "--settings", settings.path, "--weights", weights.path,
                             "--batch", batch.path, "--out", out.path, "--float64"]
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../Engines/torch").standardizedFileURL.path
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CrosscheckFailure(status: process.terminationStatus, log: String(decoding: message, as: UTF8.self))
        }
    }

    private struct CrosscheckFailure: Error, CustomStringConvertible {
        let status: Int32
        let log: String
        var description: String { "python -m ferd_torch.crosscheck exited with status \(status):\n\(log)" }
    }
}
