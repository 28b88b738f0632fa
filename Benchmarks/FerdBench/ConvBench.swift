import ArgumentParser
import FerdTensor
import Foundation

/// The 3×3 convolutions of the paper model at batch 2 (32 frames; 30 frame pairs in layer4), each timed
/// alone with its default kernel: forward, and backward (input and weight gradients; the stem's first
/// convolution has no input gradient), as effective GFLOP/s, i.e. the direct convolution's FLOPs over
/// the time, to set against the sgemm peak. Winograd layers do 2.25× fewer multiplications than that.
/// The backward time includes the backward of the product with a fixed projection (one element-wise pass).
struct ConvLayers: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv-layers", abstract: "Forward and backward GFLOP/s of the paper model's 3×3 convolutions.")
    @Option(help: "Threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Timed repetitions per layer (median).") var repeats = 3
    @Option(help: "Only the layers whose name contains this (e.g. \"stem conv1\"), for a profiler.") var only: String?

    /// (name, frames, input channels, side, output channels, stride, forward kernel as in the model).
    static let layers: [(String, Int, Int, Int, Int, Int, ConvolutionAlgorithm)] = [
        ("stem conv1", 32, 3, 112, 64, 2, .automatic), ("stem conv2", 32, 64, 56, 64, 1, .automatic),
        ("layer1 conv", 32, 64, 28, 64, 1, .im2col),
        ("layer2 conv1", 32, 64, 28, 128, 2, .automatic), ("layer2 conv2", 32, 128, 14, 128, 1, .im2col),
        ("layer3 conv1", 32, 128, 14, 256, 2, .automatic), ("layer3 conv2", 32, 256, 7, 256, 1, .automatic),
        ("layer4 conv1", 30, 256, 7, 256, 2, .automatic), ("layer4 conv", 30, 256, 4, 256, 1, .automatic),
    ]

    func run() {
        Threading.setCount(threads)
        var rows: [[String: Any]] = []
        for (name, frames, channels, side, outChannels, stride, algorithm) in Self.layers
        where only.map(name.contains) ?? true {
            var generator = SeededGenerator(seed: 3)
            let x = Tensor.normal(shape: [frames, channels, side, side], requiresGrad: channels > 3, using: &generator)
            let w = Tensor.normal(shape: [outChannels, channels, 3, 3], std: 0.1, requiresGrad: true, using: &generator)
            let outSide = (side + 2 - 3) / stride + 1
            let flops = 2 * Double(frames * outSide * outSide) * Double(outChannels * channels * 9)
            let projection = Tensor.normal(shape: [frames, outChannels, outSide, outSide], using: &generator)
            let forward = time(repeats: repeats) { _ = x.conv2d(weight: w, stride: stride, padding: 1, algorithm: algorithm) }
            // The backward pass alone: the graph of conv · projection summed is built outside the clock.
            var samples: [Double] = []
            for _ in 0..<repeats {
                x.grad = nil
                w.grad = nil
                let loss = (x.conv2d(weight: w, stride: stride, padding: 1, algorithm: algorithm) * projection).sum()
                samples.append(time(repeats: 1) { loss.backward() }.best)
            }
            let backwardSeconds = samples.sorted()[repeats / 2]
            let backwardPasses: Double = channels > 3 ? 2 : 1
            let winograd = stride == 1 && channels >= 8 && outChannels >= 8
            let kernel = !winograd ? "im2col + GEMM"
                : algorithm == .im2col ? "im2col forward, Winograd backward" : "Winograd F(2×2,3×3)"
            rows.append(["layer": name, "frames": frames, "in": channels, "side": side, "out": outChannels, "stride": stride,
                         "kernel": kernel,
                         "forward_ms": forward.median * 1e3, "backward_ms": backwardSeconds * 1e3,
                         "forward_gflops": flops / forward.median / 1e9,
                         "backward_gflops": backwardPasses * flops / backwardSeconds / 1e9])
        }
        printJSON(["benchmark": "conv-layers", "threads": threads, "layers": rows])
    }
}
