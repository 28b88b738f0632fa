import ArgumentParser
import FerdData
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `ferd prepare`: decodes a dataset (DFEW, FERV39k or RAF-DB) once into a packed cache of S×S frames.
struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Decode every clip's frames once into a memory-mapped cache for fast training.",
        discussion: """
        Writes OUT/frames.rgb (all frames of all clips as SIZE×SIZE RGB bytes, PIL-bilinear resized) and \
        OUT/index.json (clips, labels, folds and a digest of the input files). Training from the cache \
        checks the digest and asks you to re-run this command when the dataset changed. See docs/DATA.md.
        """)

    @Option(help: "The dataset root (DFEW's official, reorganised or lists layout, FERV39k or RAF-DB).")
    var data: String

    @Option(help: "The cache folder to write (an existing cache there is replaced).")
    var out: String

    @Option(help: "The working resolution: frames are stored SIZE×SIZE.")
    var size: Int = 112

    @Option(help: "The dataset layout: official, reorganised, lists, ferv39k or rafdb (default: detect).")
    var layout: DatasetLayout?

    @Option(help: "For the official layout, the folder under Clip/ (default: clip_224x224, then clip_224x224_16f, original).")
    var officialClips: String?

    @Flag(help: "Leave out bad clips (missing, empty or with unreadable frames) and list them at the end.")
    var skipBad = false

    @Option(help: "Decoding threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        guard size >= 8 else { throw ValidationError("--size must be at least 8") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        LogSetup.bootstrap(default: .warning)
        let logger = Logger(label: "ferd.prepare")
        let bar = ProgressReporter()
        let options = PrepareOptions(size: size, load: DatasetLoadOptions(layout: layout, officialClips: officialClips,
                                                                          skipBad: skipBad), workers: threads)
        let progress: @Sendable (PrepareProgress) -> Void = { step in
            bar.update("prepare", done: step.clipsDone, total: step.clipCount, unit: "clips",
                       status: String(format: "%.0f frames/s", step.framesPerSecond))
        }
        let report: PrepareReport
        do {
            report = try PackedCacheWriter.prepare(dataRoot: data, cacheDirectory: out, options: options, logger: logger,
                                                   progress: progress)
        } catch let error as DataError {
            bar.finishLine()
            throw CommandError(error.description)
        }
        bar.finishLine()
        print("prepared \(report.clips) clips, \(report.frames) frames (\(size)×\(size), \(report.bytes / 1_000_000) MB) in \(out)")
        print(String(format: "rate: %.0f frames/s in %.1f s", report.framesPerSecond, report.seconds)
              + "; digest \(report.digest.prefix(16))")
        if !report.skipped.isEmpty {
            print("skipped \(report.skipped.count) clips:")
            for skip in report.skipped { print("  \(skip.id): \(skip.reason)") }
        }
    }
}

extension DatasetLayout: ExpressibleByArgument {}
