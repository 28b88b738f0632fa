/// Why a worker cannot use the PyTorch engine as asked; each message names what was tried and the fix.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    /// No interpreter with torch ≥ 1.13 was found; `tried` lists each candidate and why it did not qualify.
    case torchUnavailable(tried: [String])
    /// `--device cuda` on a machine whose torch sees no GPU.
    case cudaUnavailable(python: String, torchVersion: String)
    /// `--gpus` named a device the machine does not have.
    case noSuchGPU(index: Int, available: Int)
    /// An option value that cannot be used, with the fix.
    case option(String)

    public var description: String {
        switch self {
        case .torchUnavailable(let tried):
            "the torch engine needs a Python with torch ≥ 1.13; tried:\n  " + tried.joined(separator: "\n  ")
                + "\ninstall it (Debian: `apt-get install python3-torch`; elsewhere `pip install torch`, with the CUDA build for GPUs) or name the interpreter with --python PATH"
        case let .cudaUnavailable(python, version):
            "--device cuda: torch \(version) of \(python) sees no CUDA device (no NVIDIA driver, or a CPU-only torch build); install a CUDA build of torch or use --device cpu"
        case let .noSuchGPU(index, available):
            available == 0
                ? "--gpus names GPU \(index) but torch sees no GPU on this machine; check nvidia-smi or use --device cpu"
                : "--gpus names GPU \(index) but this machine has \(available) (0…\(available - 1)); use --gpus all or indices below \(available)"
        case .option(let text): text
        }
    }
}
