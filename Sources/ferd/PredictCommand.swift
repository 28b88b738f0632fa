import ArgumentParser
import FerdData
import FerdModels
import FerdTensor
import Foundation
import Logging

/// `ferd predict`: the class probabilities and logits of one clip under a checkpoint.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Print the 7 class probabilities and logits of each clip given.",
        discussion: """
        CLIP is a folder of .jpg frames from any layout (T frames are taken as the test split takes them, in \
        segments of --frames-per-segment frames, and resized to the model's frame size), a single .jpg image \
        (a RAF-DB aligned face: a 1-frame clip, repeated to T frames), or a safetensors file holding one float tensor of shape \
        (T, 3, H, W) with values in [0, 1] (16×112×112 for the paper preset, 8×56×56 for small). \
        Repeat --input for several clips (with --json, one line per clip). A frame that cannot be decoded \
        completely stops the command with its file named; --skip-bad skips that clip with a warning instead.
        """)

    @Option(help: "Model weights (.safetensors) from ferd or from the reference PyTorch code.")
    var checkpoint: String

    @Option(help: "The clip to classify; repeat for several clips.")
    var input: [String]

    @Option(help: "Model preset when the checkpoint does not say: paper or small.")
    var preset: PresetName?

    @Option(help: "Attention kind when the checkpoint does not say: gca, se or none.")
    var attention: AttentionKind?

    @Option(help: "Consecutive frames per sampled segment: 1 (DFEW, GCA+IAL), 2 for models trained with 8×2 sampling (FERV39k, Former-DFER's and STT's recipes).")
    var framesPerSegment = 1

    @Flag(help: "Print JSON for machines.")
    var json = false

    @Flag(name: .customLong("skip-bad"),
          help: "Skip a clip folder that is missing, empty or has a frame that cannot be decoded, with a warning.")
    var skipBad = false

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        guard !input.isEmpty else { throw ValidationError("give the clip to classify with --input CLIP") }
        guard framesPerSegment >= 1 else { throw ValidationError("--frames-per-segment must be at least 1") }
    }

    func run() throws {
        LogSetup.bootstrap(default: .warning)
        let logger = Logger(label: "ferd.predict")
        if let threads { Threading.setCount(threads) }
        let weights = try SafetensorsFile.read(contentsOf: URL(fileURLWithPath: checkpoint))
        var fallback = preset?.configuration
        if let attention {
            fallback = fallback ?? (try? ModelConfiguration.describing(weights, fallback: nil))
            fallback?.attention = attention
        }
        let model = try ExpressionModels.load(weights, fallback: fallback)
        var predicted = 0
        for path in input {
            let clip: Tensor
            do {
                clip = try ClipInput.load(path, for: model.configuration, framesPerSegment: framesPerSegment)
            } catch let error as DataError where skipBad {
                logger.warning("skipped clip \(path) (--skip-bad): \(error)")
                continue
            } catch let error as DataError {
                throw CommandError(error.description)
            }
            let logits = try Autograd.withoutGradient { try model(clip, training: false).logits }
            let probabilities = logits.softmax()
            try PredictionPrinter(json: json).print(logits: logits.data, probabilities: probabilities.data, source: path)
            predicted += 1
        }
        guard predicted > 0 else {
            throw CommandError("every clip was skipped (see the warnings above); give at least one clip whose frames decode")
        }
    }
}

extension AttentionKind: ExpressibleByArgument {}

/// Reads a clip for the model.
enum ClipInput {
    /// A (1, T, 3, H, W) batch from a folder of frames (a missing folder or a frame that cannot be decoded
    /// throws its `DataError`) or from a safetensors file holding one float tensor (T, 3, H, W) in [0, 1].
    static func load(_ path: String, for configuration: ModelConfiguration, framesPerSegment: Int) throws -> Tensor {
        let expected = [configuration.frames, 3, configuration.imageSize, configuration.imageSize]
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let isImage = ["jpg", "jpeg"].contains(URL(fileURLWithPath: path).pathExtension.lowercased())
        if exists && (isDirectory.boolValue || isImage) {
            guard configuration.frames % framesPerSegment == 0 else {
                throw CommandError("--frames-per-segment \(framesPerSegment) does not divide the model's \(configuration.frames) frames; use a divisor")
            }
            let sampler = ClipSampler(segments: configuration.frames / framesPerSegment, framesPerSegment: framesPerSegment)
            let values = try ClipFolder.load(path, sampler: sampler, size: configuration.imageSize)
            return Tensor(shape: [1] + expected, data: values)
        }
        let file = try SafetensorsFile.read(contentsOf: URL(fileURLWithPath: path))
        guard file.tensors.count == 1, let (name, stored) = file.tensors.first else {
            throw CommandError("\(path): expected exactly one float tensor of shape \(expected), found \(file.tensors.count)")
        }
        let shape = stored.shape.first == 1 && stored.shape.count == 5 ? Array(stored.shape.dropFirst()) : stored.shape
        guard shape == expected else {
            throw CommandError("\(path): tensor '\(name)' has shape \(stored.shape); this model takes \(expected) (frames, RGB, height, width)")
        }
        if let outside = stored.values.first(where: { !(0...1).contains($0) }) {
            throw CommandError("\(path): tensor '\(name)' holds \(outside); frames must be RGB values scaled to [0, 1]")
        }
        return Tensor(shape: [1] + expected, data: stored.values)
    }
}

/// Prints a prediction as an aligned table or as JSON.
struct PredictionPrinter {
    let json: Bool

    func print(logits: [Float], probabilities: [Float], source: String) throws {
        let classes = Emotion.allCases
        let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
        if json {
            let object: [String: Any] = [
                "input": source,
                "prediction": classes[best].description,
                "classes": classes.map(\.description),
                "probabilities": probabilities.map(Double.init),
                "logits": logits.map(Double.init),
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            Swift.print(String(decoding: data, as: UTF8.self))
            return
        }
        Swift.print("\(source): \(classes[best].description)")
        for (index, emotion) in classes.enumerated() {
            let marker = index == best ? "▶" : " "
            let name = emotion.description.padding(toLength: 9, withPad: " ", startingAt: 0)
            Swift.print("\(marker) \(name) " + String(format: "%6.2f%%  logit %8.4f", probabilities[index] * 100, logits[index]))
        }
    }
}
