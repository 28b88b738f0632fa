import FerdDigest

/// The streaming SHA-256 lives in `FerdDigest` so that `FerdCluster` can verify checkpoints without
/// depending on `FerdData`; this keeps the name available to everything that imports `FerdData`.
public typealias SHA256 = FerdDigest.SHA256
