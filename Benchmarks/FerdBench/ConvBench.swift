import ArgumentParser
import FerdTensor
import Foundation

/// The 3×3 convolutions of the paper model at batch 2 (32 frames; 30 frame pairs in layer4), each timed
/// alone: forward, and backward (input and weight gradients), as effective GFLOP/s, i.e. the im2col
/// GEMM FLOPs over the time, to set against the sgemm peak. Winograd layers do fewer FLOPs than that.
struct ConvLayers: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv-layers", abstract: "Forward and backward GFLOP/s of the paper model's 3×3 convolutions.")
    @Option(help: "Threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Timed repetitions per layer (median).") var repeats = 3

    /// (name, frames, input channels, side, output channels, stride).
    static let layers = [
        ("stem conv1", 32, 3, 112, 64, 2), ("stem conv2", 32, 64, 56, 64, 1), ("layer1 conv", 32, 64, 28, 64, 1),
        ("layer2 conv1", 32, 64, 28, 128, 2), ("layer2 conv2", 32, 128, 14, 128, 1),
        ("layer3 conv1", 32, 128, 14, 256, 2), ("layer3 conv2", 32, 256, 7, 256, 1),
        ("layer4 conv1", 30, 256, 7, 256, 2), ("layer4 conv", 30, 256, 4, 256, 1),
    ]

    func run() {
        Threading.setCount(threads)
        var rows: [[String: Any]] = []
        for (name, frames, channels, side, outChannels, stride) in Self.layers {
            var generator = SeededGenerator(seed: 3)
            let x = Tensor.normal(shape: [frames, channels, side, side], requiresGrad: channels > 3, using: &generator)
            let w = Tensor.normal(shape: [outChannels, channels, 3, 3], std: 0.1, requiresGrad: true, using: &generator)
            let outSide = (side + 2 - 3) / stride + 1
            let flops = 2 * Double(frames * outSide * outSide) * Double(outChannels * channels * 9)
            var y = x.conv2d(weight: w, stride: stride, padding: 1)
            let projection = Tensor.normal(shape: y.shape, using: &generator)
            let forward = time(repeats: repeats) { y = x.conv2d(weight: w, stride: stride, padding: 1) }
            let backward = time(repeats: repeats) {
                x.grad = nil
                w.grad = nil
                (x.conv2d(weight: w, stride: stride, padding: 1) * projection).sum().backward()
            }
            let backwardPasses: Double = channels > 3 ? 2 : 1
            // The timed backward includes a forward pass and the product with the projection.
            let backwardSeconds = max(1e-9, backward.median - forward.median)
            rows.append(["layer": name, "frames": frames, "in": channels, "side": side, "out": outChannels, "stride": stride,
                         "forward_ms": forward.median * 1e3, "backward_ms": backwardSeconds * 1e3,
                         "forward_gflops": flops / forward.median / 1e9,
                         "backward_gflops": backwardPasses * flops / backwardSeconds / 1e9])
        }
        printJSON(["benchmark": "conv-layers", "threads": threads, "layers": rows])
    }
}
