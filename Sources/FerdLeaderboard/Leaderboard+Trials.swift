import Foundation

extension Leaderboard {
    private static let trialColumns = """
        id, experiment, grid_point, fold, seed, state, attempts, worker, updated, resume_epoch, resume_size, \
        resume_sha256, resume_path, gang_size, lr_scale, stop_epoch, stop_reason, retry_after, retry_reason
        """

    /// Creates the trials of `plans` (and their grid points) in one transaction and returns their ids in
    /// the same order. Trials that already exist are kept as they are, so planning again is harmless.
    public func insertTrials(experimentID: Int, plans: [TrialPlan], at time: Date) throws -> [Int] {
        try database.transaction {
            try plans.map { plan in
                try database.run("INSERT INTO grid_points (experiment, params) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                                 [.int(experimentID), .text(plan.paramsJSON)])
                let gridPoint = try database.query("SELECT id FROM grid_points WHERE experiment = ?1 AND params = ?2",
                                                   [.int(experimentID), .text(plan.paramsJSON)])
                let gridPointID = try decoder("grid_points").int(gridPoint[0], 0, "id")
                let seed = SQLValue.integer(Int64(bitPattern: plan.seed))
                try database.run("""
                    INSERT INTO trials (experiment, grid_point, fold, seed, state, attempts, updated)
                    VALUES (?1, ?2, ?3, ?4, 'QUEUED', 0, ?5) ON CONFLICT DO NOTHING
                    """, [.int(experimentID), .int(gridPointID), .int(plan.fold), seed,
                          .real(time.timeIntervalSince1970)])
                let trial = try database.query(
                    "SELECT id FROM trials WHERE grid_point = ?1 AND fold = ?2 AND seed = ?3",
                    [.int(gridPointID), .int(plan.fold), seed])
                return try decoder("trials").int(trial[0], 0, "id")
            }
        }
    }

    /// Applies the state changes in one transaction; an unknown trial rolls all of them back.
    public func applyStateChanges(_ changes: [TrialStateChange], at time: Date) throws {
        try database.transaction {
            for change in changes {
                let updated = try database.run(
                    "UPDATE trials SET state = ?1, attempts = ?2, worker = ?3, updated = ?4 WHERE id = ?5",
                    [.text(change.state.rawValue), .int(change.attempts), .optionalText(change.worker),
                     .real(time.timeIntervalSince1970), .int(change.trialID)], cached: true)
                guard updated == 1 else { throw LeaderboardError.unknownTrial(id: change.trialID, path: path) }
                if let gang = change.gang {
                    try database.run("UPDATE trials SET gang_size = ?1, lr_scale = ?2 WHERE id = ?3",
                                     [.int(gang.size), .real(gang.learningRateScale), .int(change.trialID)], cached: true)
                }
                if let retry = change.retry {
                    try database.run("UPDATE trials SET retry_after = ?1, retry_reason = ?2 WHERE id = ?3",
                                     [.real(retry.after.timeIntervalSince1970), .text(retry.reason), .int(change.trialID)],
                                     cached: true)
                } else if change.state == .running || change.state.isFinal {
                    try database.run("UPDATE trials SET retry_after = NULL, retry_reason = NULL WHERE id = ?1",
                                     [.int(change.trialID)], cached: true)
                }
                if let stop = change.stop {
                    try database.run("UPDATE trials SET stop_epoch = ?1, stop_reason = ?2 WHERE id = ?3",
                                     [.int(stop.epoch), .text(stop.reason), .int(change.trialID)], cached: true)
                }
            }
        }
    }

    /// Records `point` as the trial's resume checkpoint unless the stored one is as new or newer or the
    /// trial is DONE. Returns nil when nothing changed, otherwise `.some` of the point it replaced (nil when
    /// there was none).
    public func replaceResumePoint(trialID: Int, with point: StoredResumePoint) throws -> StoredResumePoint?? {
        try database.transaction {
            let stored = try storedTrial(id: trialID)
            let previous = stored.resume
            if stored.state == .done { return nil }
            if let previous, previous.epoch >= point.epoch { return nil }
            try database.run("""
                UPDATE trials SET resume_epoch = ?1, resume_size = ?2, resume_sha256 = ?3, resume_path = ?4 WHERE id = ?5
                """, [.int(point.epoch), .int(point.size), .text(point.sha256), .text(point.path), .int(trialID)],
                cached: true)
            return .some(previous)
        }
    }

    /// Forgets the trial's resume checkpoint (a DONE trial needs none) and returns the one it had.
    public func clearResumePoint(trialID: Int) throws -> StoredResumePoint? {
        try database.transaction {
            guard let previous = try storedTrial(id: trialID).resume else { return nil }
            try database.run("""
                UPDATE trials SET resume_epoch = NULL, resume_size = NULL, resume_sha256 = NULL, resume_path = NULL
                WHERE id = ?1
                """, [.int(trialID)])
            return previous
        }
    }

    /// The trial `id` as stored; an unknown id is an error that names the database.
    private func storedTrial(id: Int) throws -> TrialRecord {
        let rows = try database.query("SELECT \(Self.trialColumns) FROM trials WHERE id = ?1", [.int(id)])
        guard let row = rows.first else { throw LeaderboardError.unknownTrial(id: id, path: path) }
        return try trial(row)
    }

    /// The experiment's trials, optionally only those in `state`, by id.
    public func trials(experimentID: Int, state: TrialState? = nil) throws -> [TrialRecord] {
        let rows = if let state {
            try database.query(
                "SELECT \(Self.trialColumns) FROM trials WHERE experiment = ?1 AND state = ?2 ORDER BY id",
                [.int(experimentID), .text(state.rawValue)])
        } else {
            try database.query("SELECT \(Self.trialColumns) FROM trials WHERE experiment = ?1 ORDER BY id",
                               [.int(experimentID)])
        }
        return try rows.map(trial)
    }

    /// The experiment's grid points, by id.
    public func gridPoints(experimentID: Int) throws -> [GridPoint] {
        let columns = decoder("grid_points")
        return try database.query("SELECT id, params FROM grid_points WHERE experiment = ?1 ORDER BY id",
                                  [.int(experimentID)]).map { row in
            GridPoint(id: try columns.int(row, 0, "id"), experimentID: experimentID,
                      paramsJSON: try columns.text(row, 1, "params"))
        }
    }

    private func trial(_ row: SQLRow) throws -> TrialRecord {
        let columns = decoder("trials")
        return TrialRecord(id: try columns.int(row, 0, "id"), experimentID: try columns.int(row, 1, "experiment"),
                           gridPointID: try columns.int(row, 2, "grid_point"), fold: try columns.int(row, 3, "fold"),
                           seed: UInt64(bitPattern: Int64(try columns.int(row, 4, "seed"))),
                           state: try columns.state(row, 5, "state"), attempts: try columns.int(row, 6, "attempts"),
                           worker: row.text(7), updated: try columns.date(row, 8, "updated"),
                           resume: try resumePoint(row, columns), gangSize: row.int(13), learningRateScale: row.double(14),
                           stop: row.int(15).map { TrialStop(epoch: $0, reason: row.text(16) ?? "") },
                           retry: row.double(17).map { TrialRetry(after: Date(timeIntervalSince1970: $0), reason: row.text(18) ?? "") })
    }

    private func resumePoint(_ row: SQLRow, _ columns: RowDecoder) throws -> StoredResumePoint? {
        guard let epoch = row.int(9) else { return nil }
        return StoredResumePoint(epoch: epoch, size: try columns.int(row, 10, "resume_size"),
                                 sha256: try columns.text(row, 11, "resume_sha256"),
                                 path: try columns.text(row, 12, "resume_path"))
    }
}
