import FerdCluster
import FerdDigest
import FerdTensor
import Foundation

/// The file a worker uploads after each epoch so that another worker can continue the trial: the run
/// folder's `resume.safetensors` (weights, optimiser momentum, history, settings) and its
/// `best.safetensors` (under the `ferd.best.` prefix, so the continued attempt still returns the best
/// epoch's weights when that epoch came before the interruption), in one safetensors file.
enum ResumeBundle {
    static let bestPrefix = "ferd.best."
    static let bestMetadataPrefix = "ferd.best.metadata."

    /// Writes the bundle of the run folder `folder` after `epoch` and returns it with its size and SHA-256;
    /// the bundle of the epoch before the previous one is deleted.
    static func write(runFolder folder: URL, epoch: Int) throws -> CheckpointFile {
        var bundle = try SafetensorsFile.read(contentsOf: folder.appendingPathComponent("resume.safetensors"))
        let bestFile = folder.appendingPathComponent("best.safetensors")
        if FileManager.default.fileExists(atPath: bestFile.path) {
            let best = try SafetensorsFile.read(contentsOf: bestFile)
            for (name, tensor) in best.tensors { bundle.tensors[bestPrefix + name] = tensor }
            for (name, tensor) in best.integerTensors { bundle.integerTensors[bestPrefix + name] = tensor }
            for (key, value) in best.metadata { bundle.metadata[bestMetadataPrefix + key] = value }
        }
        let file = bundleFile(in: folder, epoch: epoch)
        let bytes = try SafetensorsFile(tensors: bundle.tensors, integerTensors: bundle.integerTensors,
                                        metadata: bundle.metadata).encoded()
        try bytes.write(to: file, options: .atomic)
        try? FileManager.default.removeItem(at: bundleFile(in: folder, epoch: epoch - 2))
        var digest = SHA256()
        digest.update(bytes)
        return CheckpointFile(file: file, descriptor: CheckpointDescriptor(size: bytes.count, sha256: digest.hexDigest()))
    }

    /// Writes `resume.safetensors` and (when the bundle holds one) `best.safetensors` of `bundleFile` into
    /// the run folder `folder`, ready for `Trainer(resume: true)`.
    static func unpack(_ bundleFile: URL, into folder: URL) throws {
        let bundle = try SafetensorsFile.read(contentsOf: bundleFile)
        var resume = SafetensorsFile(), best = SafetensorsFile()
        for (name, tensor) in bundle.tensors {
            if name.hasPrefix(bestPrefix) { best.tensors[String(name.dropFirst(bestPrefix.count))] = tensor }
            else { resume.tensors[name] = tensor }
        }
        for (name, tensor) in bundle.integerTensors {
            if name.hasPrefix(bestPrefix) { best.integerTensors[String(name.dropFirst(bestPrefix.count))] = tensor }
            else { resume.integerTensors[name] = tensor }
        }
        for (key, value) in bundle.metadata {
            if key.hasPrefix(bestMetadataPrefix) { best.metadata[String(key.dropFirst(bestMetadataPrefix.count))] = value }
            else { resume.metadata[key] = value }
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try SafetensorsFile(tensors: resume.tensors, integerTensors: resume.integerTensors, metadata: resume.metadata)
            .write(to: folder.appendingPathComponent("resume.safetensors"))
        if !best.tensors.isEmpty {
            try SafetensorsFile(tensors: best.tensors, integerTensors: best.integerTensors, metadata: best.metadata)
                .write(to: folder.appendingPathComponent("best.safetensors"))
        }
    }

    private static func bundleFile(in folder: URL, epoch: Int) -> URL {
        folder.appendingPathComponent("resume-bundle-epoch-\(epoch).safetensors")
    }
}
