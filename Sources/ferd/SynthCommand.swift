import ArgumentParser
import FerdData
import Foundation
import Logging

/// `ferd synth`: writes a deterministic synthetic dataset in DFEW's (layout 2: `data/` + `label/`), FERV39k's or
/// RAF-DB's layout.
public struct SynthCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a synthetic DFEW-, FERV39k- or RAF-DB-format dataset of procedurally drawn faces.",
        discussion: "Layouts: dfew: OUT/data/<id>/<id>_<frame>.jpg and OUT/label/single_{train,test}set_{1..5}.csv; "
            + "ferv39k: OUT/2_ClipsforFaceCrop/<Scene>/<Emotion>/<clip>/<frame>.jpg and "
            + "OUT/4_setups/All_scenes/{train_All,test_All}.csv; rafdb: OUT/basic/Image/aligned/<name>_aligned.jpg "
            + "(one image per clip) and OUT/basic/EmoLabel/list_patition_label.txt. "
            + "The same seed always gives the same clips; see docs/SYNTHETIC-DATA.md."
    )

    @Option(help: "The output folder (must not already hold the layout's folders).")
    var out: String

    @Option(help: "The layout to write: dfew, ferv39k or rafdb.")
    var layout: SyntheticLayout = .dfew

    @Option(help: "Number of clips (1…99999).")
    var clips: Int = 500

    @Option(help: "Frame width and height in pixels.")
    var size: Int = 112

    @Option(help: "Frames per clip: a count (16) or a range (16-40) each clip draws from (not for rafdb: one image per clip).")
    var frames: String?

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Flag(help: "Make every class equally frequent instead of DFEW's proportions.")
    var balanced = false

    @Option(help: "What varies besides the expression: realistic (low intensities, occluders, talking, pose, blur, noise) or mild (clear expressions; learnable in minutes).")
    var variability: SyntheticDataset.Variability = .realistic

    public init() {}

    public func validate() throws {
        guard (1...99_999).contains(clips) else { throw ValidationError("--clips must be in 1…99999") }
        guard size >= 16 else { throw ValidationError("--size must be at least 16") }
        guard frameRange != nil else {
            throw ValidationError("--frames must be a count like 16 or a range like 16-40 (counts ≥ 1)")
        }
        if layout == .rafdb, frames != nil {
            throw ValidationError("--frames does not apply to --layout rafdb (each clip is one image); leave it out")
        }
    }

    private var frameRange: ClosedRange<Int>? {
        let frames = frames ?? "16"
        let parts = frames.split(separator: "-").compactMap { Int($0) }
        guard (1...2).contains(parts.count), parts.count == frames.split(separator: "-").count,
              let low = parts.first, let high = parts.last, low >= 1, low <= high, high <= 99_999 else { return nil }
        return low...high
    }

    public func run() throws {
        LogSetup.bootstrap(default: .warning)
        let dataset = SyntheticDataset(clips: clips, frames: frameRange ?? 16...16, size: size, seed: seed,
                                       classBalance: balanced ? .balanced : .dfew, variability: variability)
        let report = try dataset.write(to: URL(fileURLWithPath: out), layout: layout, logger: Logger(label: "ferd.synth"))
        let counts = zip(Emotion.allCases, report.classCounts).map { "\($0) \($1)" }.joined(separator: ", ")
        print("wrote \(report.clips) clips, \(report.frames) frames (\(size)×\(size), \(report.bytes / 1_000_000) MB) to \(out)")
        print("classes: \(counts)")
        print("splits: " + (layout == .dfew ? "\(out)/label/single_{train,test}set_{1..5}.csv"
                                             : report.splitFiles.map { out + "/" + $0 }.joined(separator: ", ")))
        print(String(format: "rate: %.1f clips/s (%.0f frames/s) in %.2f s", report.clipsPerSecond,
                     Double(report.frames) / max(report.seconds, 1e-9), report.seconds))
    }
}

extension SyntheticLayout: ExpressibleByArgument {}
