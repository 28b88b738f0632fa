import Foundation

extension Leaderboard {
    /// Stores one epoch's metrics; a repeat of the same (trial, attempt, epoch) is ignored.
    /// Returns whether the row was new.
    @discardableResult
    public func recordEpochMetric(_ metric: EpochMetricRecord) throws -> Bool {
        let confusion = try metric.confusion.map { SQLValue.text(try JSONText.encode($0)) } ?? .null
        let relabels = try metric.relabels.map { SQLValue.text(try JSONText.encode($0)) } ?? .null
        let inserted = try database.run("""
            INSERT INTO epoch_metrics (trial, attempt, epoch, train_loss, uar, war, lr, seconds, confusion,
                                       gang_members, step_seconds, communication_seconds, bytes_per_step, relabels)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) ON CONFLICT (trial, attempt, epoch) DO NOTHING
            """, [.int(metric.trialID), .int(metric.attempt), .int(metric.epoch), .real(metric.trainLoss),
                  .real(metric.uar), .real(metric.war), .real(metric.learningRate), .real(metric.seconds), confusion,
                  .optionalInt(metric.gang?.members), .optionalReal(metric.gang?.stepSeconds),
                  .optionalReal(metric.gang?.communicationSeconds), .optionalReal(metric.gang?.bytesPerStep), relabels],
            cached: true)
        return inserted == 1
    }

    /// Stores the trial's result and marks it DONE, in one transaction, unless it already has a result.
    /// Returns whether this call stored it.
    @discardableResult
    public func recordResult(_ result: ResultRecord, at time: Date) throws -> Bool {
        let recall = try JSONText.encode(result.perClassRecall)
        let confusion = try JSONText.encode(result.confusion)
        return try database.transaction {
            let inserted = try database.run("""
                INSERT INTO results (trial, attempt, best_epoch, uar, war, per_class_recall, confusion,
                                     checkpoint_path, digest)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (trial) DO NOTHING
                """, [.int(result.trialID), .int(result.attempt), .int(result.bestEpoch), .real(result.uar),
                      .real(result.war), .text(recall), .text(confusion), .optionalText(result.checkpointPath),
                      .text(result.digest)], cached: true)
            guard inserted == 1 else { return false }
            try database.run("UPDATE trials SET state = 'DONE', worker = NULL, updated = ?1 WHERE id = ?2",
                             [.real(time.timeIntervalSince1970), .int(result.trialID)], cached: true)
            return true
        }
    }

    /// Records where the checkpoint of a stored result lies, once it has arrived and been verified.
    /// Returns false when there is no result of that (trial, attempt).
    @discardableResult
    public func setCheckpointPath(trialID: Int, attempt: Int, path: String) throws -> Bool {
        try database.run("UPDATE results SET checkpoint_path = ?1 WHERE trial = ?2 AND attempt = ?3",
                         [.text(path), .int(trialID), .int(attempt)], cached: true) == 1
    }

    /// The results of the experiment's trials, by trial id.
    public func results(experimentID: Int) throws -> [ResultRecord] {
        let columns = decoder("results")
        return try database.query("""
            SELECT r.trial, r.attempt, r.best_epoch, r.uar, r.war, r.per_class_recall, r.confusion,
                   r.checkpoint_path, r.digest
            FROM results r JOIN trials t ON t.id = r.trial WHERE t.experiment = ?1 ORDER BY r.trial
            """, [.int(experimentID)]).map { row in
            ResultRecord(trialID: try columns.int(row, 0, "trial"), attempt: try columns.int(row, 1, "attempt"),
                         bestEpoch: try columns.int(row, 2, "best_epoch"), uar: try columns.double(row, 3, "uar"),
                         war: try columns.double(row, 4, "war"),
                         perClassRecall: try columns.json(row, 5, "per_class_recall", as: [Double].self),
                         confusion: try columns.json(row, 6, "confusion", as: [[Int]].self),
                         checkpointPath: row.text(7), digest: try columns.text(row, 8, "digest"))
        }
    }

    /// The epoch metrics of the experiment's trials, by trial, attempt and epoch.
    public func epochMetrics(experimentID: Int) throws -> [EpochMetricRecord] {
        let columns = decoder("epoch_metrics")
        return try database.query("""
            SELECT m.trial, m.attempt, m.epoch, m.train_loss, m.uar, m.war, m.lr, m.seconds, m.confusion,
                   m.gang_members, m.step_seconds, m.communication_seconds, m.bytes_per_step, m.relabels
            FROM epoch_metrics m JOIN trials t ON t.id = m.trial WHERE t.experiment = ?1
            ORDER BY m.trial, m.attempt, m.epoch
            """, [.int(experimentID)]).map { row in
            let confusion = row.values[8] == .null ? nil : try columns.json(row, 8, "confusion", as: [[Int]].self)
            let relabels = row.values[13] == .null ? nil : try columns.json(row, 13, "relabels", as: RelabelCounts.self)
            return EpochMetricRecord(trialID: try columns.int(row, 0, "trial"), attempt: try columns.int(row, 1, "attempt"),
                                     epoch: try columns.int(row, 2, "epoch"),
                                     trainLoss: try columns.double(row, 3, "train_loss"),
                                     uar: try columns.double(row, 4, "uar"), war: try columns.double(row, 5, "war"),
                                     learningRate: try columns.double(row, 6, "lr"),
                                     seconds: try columns.double(row, 7, "seconds"), confusion: confusion,
                                     gang: try gangCost(row, columns), relabels: relabels)
        }
    }

    /// The gang columns of an epoch_metrics row from column 9 on; nil for a single worker's epoch.
    private func gangCost(_ row: SQLRow, _ columns: RowDecoder) throws -> GangEpochCost? {
        guard let members = row.int(9) else { return nil }
        return GangEpochCost(members: members, stepSeconds: try columns.double(row, 10, "step_seconds"),
                             communicationSeconds: try columns.double(row, 11, "communication_seconds"),
                             bytesPerStep: try columns.double(row, 12, "bytes_per_step"))
    }

    /// Everything stored about one experiment, read from one snapshot so that the parts agree; nil if there
    /// is no such experiment.
    public func report(experimentID: Int) throws -> ExperimentReport? {
        try database.transaction(.read) {
            guard let experiment = try experiment(id: experimentID) else { return nil }
            return ExperimentReport(experiment: experiment, gridPoints: try gridPoints(experimentID: experimentID),
                                    trials: try trials(experimentID: experimentID),
                                    results: try results(experimentID: experimentID),
                                    epochMetrics: try epochMetrics(experimentID: experimentID),
                                    budgetNotice: try budgetNotice(since: experiment.created))
        }
    }

    /// The last "budget spent" event logged since `date` (an experiment's creation); nil if none.
    public func budgetNotice(since date: Date) throws -> String? {
        try database.query("SELECT text FROM events WHERE kind = 'budget' AND time >= ?1 ORDER BY id DESC LIMIT 1",
                           [.real(date.timeIntervalSince1970)]).first?.text(0)
    }
}
