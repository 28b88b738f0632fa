/// One clip of a dataset: its id, its frame files in playback order and its label.
public struct ClipRecord: Sendable, Equatable {
    /// The clip's name: DFEW's folder name (`00042`), FERV39k's `<Scene>/<Emotion>/<clip>` (`Action/Sad/0010`),
    /// RAF-DB's image stem (`train_00001`).
    public var id: String
    /// The folder holding the clip's frames (for RAF-DB, the folder of all aligned images).
    public var directory: String
    /// Absolute frame paths, sorted by the number in the file name (`2.jpg` before `10.jpg`).
    public var frames: [String]
    /// The label, 0…6 in ferd's class order (`Emotion`; DFEW label − 1).
    public var label: Int

    public init(id: String, directory: String, frames: [String], label: Int) {
        self.id = id
        self.directory = directory
        self.frames = frames
        self.label = label
    }

    public var emotion: Emotion { Emotion(rawValue: label)! }
}

/// The train and test clips of one cross-validation fold (or of a dataset's single split, fold 1).
public struct DatasetFold: Sendable {
    /// 1…5 (DFEW), 1 (FERV39k, RAF-DB).
    public var number: Int
    public var train: [ClipRecord]
    public var test: [ClipRecord]
}

/// A clip left out because of a problem (only with `skipBad`).
public struct SkippedClip: Sendable, Equatable {
    public var id: String
    public var fold: Int
    /// `train` or `test`.
    public var split: String
    public var reason: DataError
}

/// Every fold of a dataset on disk, with the clips that were skipped and why.
public struct DatasetIndex: Sendable {
    public var root: String
    public var layout: DatasetLayout
    public var folds: [DatasetFold]
    /// Empty unless the index was loaded with `skipBad`.
    public var skipped: [SkippedClip]

    /// The fold numbered `number` (1…5).
    public func fold(_ number: Int) -> DatasetFold? {
        folds.first { $0.number == number }
    }
}
