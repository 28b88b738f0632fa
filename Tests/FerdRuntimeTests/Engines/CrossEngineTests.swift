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

    /// A tiny configuration of `method`: 2 frames of 32², 2×2 tokens after layer3, no drop-path.
    private func tiny(_ method: ModelMethod, sttAttention: STTAttention = .spaceTime) -> ModelConfiguration {
        ModelConfiguration(method: method, frames: 2, imageSize: 32,
                           widths: method == .gcaIAL ? [4, 4, 8, 8, 8] : [4, 4, 8, 8, 16], reduction: 4,
                           spatialTransformer: Self.transformer,
                           temporalTransformer: TransformerShape(depth: 2, heads: 2, headDimension: 4, hiddenDimension: 8),
                           sttAttention: sttAttention, dropPath: 0)
    }

    func testGCAIALAgrees() throws {
        try crossCheck(tiny(.gcaIAL))
    }

    func testSCNAgrees() throws {
        // β 0.5 of 4 frames: 2 in each group; δ1 0.9 keeps the rank term active.
        try crossCheck(tiny(.scn), methodLoss: MethodLossSettings(scn: SCNLossSettings(rankFraction: 0.5, rankMargin: 0.9)))
    }

    func testRANAgrees() throws {
        // δ 0.5 keeps the region-biased term active for every frame.
        try crossCheck(tiny(.ran), methodLoss: MethodLossSettings(ran: RANLossSettings(margin: 0.5)))
    }

    func testFormerDFERAgrees() throws {
        try crossCheck(tiny(.formerDFER))
    }

    func testSTTAgrees() throws {
        try crossCheck(tiny(.stt), methodLoss: MethodLossSettings(stt: STTLossSettings(compactWeight: 0.5)))
        try crossCheck(tiny(.stt, sttAttention: .joint))
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

    private func crossCheck(_ configuration: ModelConfiguration, methodLoss: MethodLossSettings = .defaults,
                            file: StaticString = #filePath, line: UInt = #line) throws {
        let python: TorchPython
        do {
            python = try TorchPython.locate()
        } catch {
            throw XCTSkip("no Python with torch (\(error)); install python3-torch to compare the engines")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cross-engine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let settings = TrainingSettings(model: configuration, epochs: 1, batchSize: 2, methodLoss: methodLoss, seed: 3)
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

        var worstOutput = Worst(), worstGradient = Worst(), worstTorch = Worst(), worstConditioned = Worst()
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
            if pytorch.relative < 1e-3 { worstConditioned.note(name, difference(ours, float.values)) }
            XCTAssertLessThanOrEqual(ferd.relative, max(1e-3, 4 * pytorch.relative),
                                     "grad \(name): Swift differs from float64 by \(ferd.relative) relative, PyTorch float32 by \(pytorch.relative)",
                                     file: file, line: line)
            compared += 1
        }
        XCTAssertEqual(compared, torch.tensors.keys.filter { $0.hasPrefix("grad.") }.count, file: file, line: line)
        print("cross-engine \(configuration.method.rawValue)\(configuration.method == .stt ? " \(configuration.sttAttention.rawValue)" : ""): outputs and losses Swift vs PyTorch float32 max abs \(worstOutput.absolute), "
              + "max rel \(worstOutput.relative) (\(worstOutput.name)); \(compared) gradients max abs \(worstGradient.absolute), "
              + "max rel \(worstGradient.relative) (\(worstGradient.name)), \(worstConditioned.relative) (\(worstConditioned.name)) where "
              + "PyTorch's float32 gradient is within 1e-3 of float64; PyTorch float32 vs float64 gradients max rel \(worstTorch.relative) "
              + "(\(worstTorch.name))")
    }

    /// The method's loss parts (named as `ferd_torch.methods.losses` names them) and the total to differentiate.
    private func swiftLosses(_ output: ModelOutput, settings: TrainingSettings, targets: [Int]) throws
        -> (parts: [String: Float], total: Tensor) {
        let loss = try output.objective(method: settings.model.method, targets: targets, weights: settings.loss,
                                        methodLoss: settings.methodLoss)
        var parts = Dictionary(uniqueKeysWithValues: loss.parts.map { ($0.name, $0.value) })
        parts["total"] = loss.total.item
        return (parts, loss.total)
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
