import Foundation

/// The CSV format: one rectangular table with every number as a fraction, one row per grid point
/// (`kind` point), per scored fold (`kind` fold) and per published result (`kind` published). A grid that names
/// methods adds the method comparison's published rows (`kind` published-method, `method` the paper's name); SCN
/// folds add `kind` relabels rows (`fold`, `trial`, `epochs_trained` = epochs that relabelled, the `recall_<class>`
/// columns = clips relabelled by class) and a `relabel_changes` column after the fixed ones.
/// Column names are stable; the grid's parameters follow as `param_<name>`.
public struct CSVRenderer: Sendable {
    /// The fixed columns, in order.
    public static let fixedColumns = ["experiment_id", "selection", "kind", "rank", "grid_point", "method", "complete",
                                      "folds_done", "folds_planned", "fold", "seed", "trial", "attempt", "epoch",
                                      "epochs_trained", "uar", "uar_std", "war", "war_std"]
        + ExpressionClasses.names.map { "recall_\($0.lowercased())" }

    public init() {}

    public func render(_ data: ReportData) -> String {
        let header = Self.fixedColumns + (data.relabels.isEmpty ? [] : ["relabel_changes"])
            + data.parameterNames.map { "param_\($0)" }
        var rows = [header]
        for (rank, point) in data.points.enumerated() {
            let pointRow = Row(kind: "point", rank: "\(rank + 1)", gridPoint: "\(point.id)",
                               complete: point.isComplete ? "true" : "false", foldsDone: "\(point.folds.count)",
                               foldsPlanned: "\(point.plannedFolds)", uar: number(point.uar?.mean),
                               uarStd: deviation(point.uar), war: number(point.war?.mean),
                               warStd: deviation(point.war),
                               recall: recall(point.recall.map { $0?.mean }), parameters: point.parameters)
            rows.append(cells(pointRow, data))
            for fold in point.folds {
                var foldRow = Row(kind: "fold", gridPoint: "\(point.id)", uar: number(fold.uar), war: number(fold.war),
                                  recall: recall(fold.recall), parameters: point.parameters)
                foldRow.fold = [fold.fold, fold.trialID, fold.attempt, fold.epoch, fold.epochsTrained].map(String.init)
                foldRow.seed = "\(fold.seed)"
                rows.append(cells(foldRow, data))
            }
        }
        for result in data.published {
            rows.append(cells(Row(kind: "published", method: "\(result.method) (\(result.venue))", uar: number(result.uar),
                                  war: number(result.war), recall: recall(result.recall)), data))
        }
        for row in data.methods?.published ?? [] {
            rows.append(cells(Row(kind: "published-method", method: row.method, uar: number(row.uar), war: number(row.war),
                                  recall: recall(row.recall ?? [])), data))
        }
        for summary in data.relabels {
            var row = Row(kind: "relabels", gridPoint: "\(summary.gridPointID)", method: "scn", uar: "", war: "",
                          recall: ExpressionClasses.names.indices.map { $0 < summary.relabelledByClass.count ? "\(summary.relabelledByClass[$0])" : "" })
            row.fold = ["\(summary.fold)", "\(summary.trialID)", "", "", "\(summary.epochs)"]
            row.relabelChanges = "\(summary.changed)"
            rows.append(cells(row, data))
        }
        return rows.map { $0.map(Self.quote).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    /// The values of one row before they are laid out in columns.
    private struct Row {
        var kind: String
        var rank = "", gridPoint = "", method = "", complete = "", foldsDone = "", foldsPlanned = ""
        var fold = ["", "", "", "", ""], seed = ""
        var uar = "", uarStd = "", war = "", warStd = ""
        var relabelChanges = ""
        var recall: [String]
        var parameters = GridParameters(values: [:])

        init(kind: String, rank: String = "", gridPoint: String = "", method: String = "", complete: String = "",
             foldsDone: String = "", foldsPlanned: String = "", uar: String, uarStd: String = "", war: String,
             warStd: String = "", recall: [String], parameters: GridParameters = GridParameters(values: [:])) {
            self.kind = kind
            self.rank = rank
            self.gridPoint = gridPoint
            self.method = method
            self.complete = complete
            self.foldsDone = foldsDone
            self.foldsPlanned = foldsPlanned
            self.uar = uar
            self.uarStd = uarStd
            self.war = war
            self.warStd = warStd
            self.recall = recall
            self.parameters = parameters
        }
    }

    private func cells(_ row: Row, _ data: ReportData) -> [String] {
        ["\(data.experimentID)", data.options.selection.rawValue, row.kind, row.rank, row.gridPoint, row.method,
         row.complete, row.foldsDone, row.foldsPlanned, row.fold[0], row.seed, row.fold[1], row.fold[2], row.fold[3],
         row.fold[4], row.uar, row.uarStd, row.war, row.warStd]
            + row.recall + (data.relabels.isEmpty ? [] : [row.relabelChanges]) + data.parameterNames.map { row.parameters.values[$0]?.display ?? "" }
    }

    private func recall(_ values: [Double?]) -> [String] {
        ExpressionClasses.names.indices.map { $0 < values.count ? number(values[$0]) : "" }
    }

    /// The sample deviation, empty for fewer than two folds.
    private func deviation(_ spread: Spread?) -> String {
        spread.flatMap { $0.count > 1 ? "\($0.standardDeviation)" : nil } ?? ""
    }

    private func number(_ value: Double?) -> String {
        value.map { "\($0)" } ?? ""
    }

    /// RFC 4180 quoting for a field holding a comma, a quote or a line break.
    static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
