/// Lays `ReportData` out as the report's tables, in print order: leaderboard, incomplete points, per fold,
/// per class, pivot, ablation.
public enum ReportTables {
    public static func tables(_ data: ReportData) -> [ReportTable] {
        [leaderboard(data), incomplete(data), stopped(data), perFold(data), perClass(data), methods(data), relabels(data),
         pivot(data), ablation(data)]
            .compactMap { $0 }
    }

    static func leaderboard(_ data: ReportData) -> ReportTable {
        table(data, id: "leaderboard", title: "Leaderboard — complete grid points, by \(data.options.sortMetric.label)",
              points: data.complete, bold: true,
              empty: "No grid point has all its folds finished yet.")
    }

    static func incomplete(_ data: ReportData) -> ReportTable? {
        guard !data.incomplete.isEmpty else { return nil }
        var table = table(data, id: "incomplete", title: "Incomplete grid points — folds missing, not comparable",
                          points: data.incomplete, bold: false, empty: "")
        table.notes.append("Means over the finished folds only; ranked apart from the complete points above.")
        return table
    }

    static func stopped(_ data: ReportData) -> ReportTable? {
        guard !data.stopped.isEmpty else { return nil }
        let rows = data.stopped.map { point in
            [ReportTable.Cell(data.label(point)), ReportTable.Cell(point.foldsDone),
             ReportTable.Cell(point.stop.map { "\($0.epoch)" } ?? "–"), ReportTable.Cell(MetricFormat.spread(point.uar)),
             ReportTable.Cell(point.stop?.reason ?? "")]
        }
        return ReportTable(id: "stopped", title: "Stopped early — grid points early stopping ended, not ranked",
                           columns: [.init("grid point", .left), .init("folds done"), .init("at epoch"),
                                     .init("UAR %"), .init("why", .left)],
                           rows: rows, rulesBefore: [], emptyMessage: "",
                           notes: ["UAR over the folds that finished before the stop, if any; a stopped point is never "
                                   + "ranked above a finished one (docs/SWEEPS.md)."])
    }

    private static func table(_ data: ReportData, id: String, title: String, points: [GridPointSummary],
                              bold: Bool, empty: String) -> ReportTable {
        let bestUAR = bold ? points.compactMap(\.uar?.mean).max() : nil
        let bestWAR = bold ? points.compactMap(\.war?.mean).max() : nil
        let rows = points.enumerated().map { index, point in
            [ReportTable.Cell("\(index + 1)"), ReportTable.Cell(data.label(point)), ReportTable.Cell(point.foldsDone),
             ReportTable.Cell(MetricFormat.spread(point.uar), isBest: point.uar?.mean == bestUAR && bestUAR != nil),
             ReportTable.Cell(MetricFormat.spread(point.war), isBest: point.war?.mean == bestWAR && bestWAR != nil)]
        }
        return ReportTable(id: id, title: title,
                           columns: [.init("#"), .init("grid point", .left), .init("folds"), .init("UAR %"), .init("WAR %")],
                           rows: rows, rulesBefore: [], emptyMessage: empty, notes: [])
    }

    static func perFold(_ data: ReportData) -> ReportTable {
        var rows: [[ReportTable.Cell]] = [], rules: Set<Int> = []
        for point in data.points where !point.folds.isEmpty {
            if !rows.isEmpty { rules.insert(rows.count) }
            for (index, fold) in point.folds.enumerated() {
                rows.append([ReportTable.Cell(index == 0 ? data.label(point) : ""), ReportTable.Cell("\(fold.fold)"),
                             ReportTable.Cell("\(fold.trialID)"), ReportTable.Cell("\(fold.epoch)"),
                             ReportTable.Cell("\(fold.epochsTrained)"), ReportTable.Cell(MetricFormat.percent(fold.uar)),
                             ReportTable.Cell(MetricFormat.percent(fold.war))])
            }
        }
        let epochTitle = data.options.selection == .bestEpoch ? "best epoch" : "last epoch"
        return ReportTable(id: "folds", title: "Per fold",
                           columns: [.init("grid point", .left), .init("fold"), .init("trial"), .init(epochTitle),
                                     .init("epochs"), .init("UAR %"), .init("WAR %")],
                           rows: rows, rulesBefore: rules, emptyMessage: "No fold has finished yet.", notes: [])
    }

    static func perClass(_ data: ReportData) -> ReportTable {
        var lines: [(label: String, recall: [Double?], uar: Double?, war: Double?)] = []
        if let best = data.best {
            let status = best.isComplete ? "" : ", incomplete \(best.foldsDone)"
            lines.append(("ours: \(data.label(best))\(status)", best.recall.map { $0?.mean }, best.uar?.mean, best.war?.mean))
        }
        let firstPublished = lines.count
        lines += data.published.map { ("\($0.method) (\($0.venue)), published", $0.recall.map(Optional.some), $0.uar, $0.war) }
        let classes = ExpressionClasses.names.count
        let values = lines.map { line in (0..<classes).map { $0 < line.recall.count ? line.recall[$0] : nil } + [line.uar, line.war] }
        let best = (0..<(classes + 2)).map { column in values.compactMap { $0[column] }.max() }
        let rows = zip(lines, values).map { line, numbers in
            [ReportTable.Cell(line.label)] + numbers.enumerated().map { column, value in
                ReportTable.Cell(MetricFormat.percent(value), isBest: value != nil && value == best[column])
            }
        }
        let columns = [ReportTable.Column("method", .left)] + ExpressionClasses.names.map { ReportTable.Column($0) }
            + [.init("UAR"), .init("WAR")]
        return ReportTable(id: "per-class", title: "Per-class recall % (as in the IAL paper's Table 4)", columns: columns,
                           rows: rows, rulesBefore: firstPublished > 0 ? [firstPublished] : [],
                           mutedRows: Set(firstPublished..<rows.count), emptyMessage: "",
                           notes: ["Ours: the best configuration, per-class recall averaged over the folds whose test set "
                                   + "holds the class. Published rows: the 5-fold results on DFEW (\(PublishedResult.dfewDataset)) "
                                   + "that these papers report, for comparison only:"]
                               + data.published.map { "\($0.method): \($0.citation)." })
    }

    /// ferd's best point of each method (mean ± std over folds) above the published rows of the dataset.
    static func methods(_ data: ReportData) -> ReportTable? {
        guard let comparison = data.methods else { return nil }
        let classes = ExpressionClasses.names.count
        var rows: [[ReportTable.Cell]] = comparison.rows.map { row in
            let point = row.point
            let settings = point.parameters.summary(data.labelParameters.filter { $0 != "method" })
            let details = [settings, point.isComplete ? "" : "incomplete"].filter { !$0.isEmpty }.joined(separator: ", ")
            return [ReportTable.Cell("ferd: \(MethodComparison.name(of: row.method))" + (details.isEmpty ? "" : " (\(details))")),
                    ReportTable.Cell(point.foldsDone)]
                + (0..<classes).map { index in ReportTable.Cell(MetricFormat.percent(index < point.recall.count ? point.recall[index]?.mean : nil)) }
                + [ReportTable.Cell(MetricFormat.spread(point.uar)), ReportTable.Cell(MetricFormat.spread(point.war))]
        }
        let firstPublished = rows.count
        rows += comparison.published.map { result in
            [ReportTable.Cell("\(result.method), published"), ReportTable.Cell("–")]
                + (0..<classes).map { ReportTable.Cell(MetricFormat.percent(result.recall?[$0])) }
                + [ReportTable.Cell(MetricFormat.percent(result.uar)), ReportTable.Cell(MetricFormat.percent(result.war))]
        }
        let columns = [ReportTable.Column("method", .left), .init("folds")] + ExpressionClasses.names.map { ReportTable.Column($0) }
            + [.init("UAR %"), .init("WAR %")]
        return ReportTable(id: "methods", title: "Methods on \(comparison.dataset.rawValue) — ferd's best point of each method, then published",
                           columns: columns, rows: rows, rulesBefore: firstPublished > 0 ? [firstPublished] : [],
                           mutedRows: Set(firstPublished..<rows.count), emptyMessage: "",
                           notes: ["ferd: each method's best grid point, per-class recall averaged over the folds whose test set "
                                   + "holds the class, UAR and WAR mean ± std over folds. Published rows (\(comparison.dataset.citation)), "
                                   + "for comparison only; – where the paper gives no number. DFEW and FERV39k rows as reported in the "
                                   + "comparison tables of later work (e.g. SVFAP):"]
                               + comparison.published.map { "\($0.method): \($0.citation)." })
    }

    /// SCN's relabelling per scored fold.
    static func relabels(_ data: ReportData) -> ReportTable? {
        guard !data.relabels.isEmpty else { return nil }
        let labels = Dictionary(data.points.map { ($0.id, data.label($0)) }, uniquingKeysWith: { a, _ in a })
        let rows = data.relabels.map { summary in
            [ReportTable.Cell(labels[summary.gridPointID] ?? "grid point \(summary.gridPointID)"), ReportTable.Cell("\(summary.fold)"),
             ReportTable.Cell("\(summary.trialID)"), ReportTable.Cell("\(summary.epochs)"), ReportTable.Cell("\(summary.changed)")]
                + ExpressionClasses.names.indices.map { index in
                    ReportTable.Cell(index < summary.relabelledByClass.count ? "\(summary.relabelledByClass[index])" : "–")
                }
                + [ReportTable.Cell("\(summary.relabelledByClass.reduce(0, +))")]
        }
        return ReportTable(id: "relabels", title: "SCN relabelling — training labels replaced, per fold",
                           columns: [.init("grid point", .left), .init("fold"), .init("trial"), .init("epochs"), .init("changes")]
                               + ExpressionClasses.names.map { ReportTable.Column($0) } + [.init("relabelled")],
                           rows: rows, rulesBefore: [], emptyMessage: "",
                           notes: ["Epochs: those that relabelled (from scn_relabel_epoch on); changes: labels replaced over them. "
                                   + "Per class: training clips of that dataset class whose label differed from the dataset's after "
                                   + "the last stored epoch (the training set only; test labels never change)."])
    }

    static func pivot(_ data: ReportData) -> ReportTable? {
        guard let pivot = data.pivot else { return nil }
        let scores = pivot.cells.flatMap { $0 }.compactMap { $0?.mean(data.options.sortMetric) }
        let top = scores.max()
        let rows = zip(pivot.rowValues, pivot.cells).map { value, cells in
            [ReportTable.Cell(value.display)] + cells.map { point -> ReportTable.Cell in
                guard let point, !point.folds.isEmpty else { return ReportTable.Cell("–") }
                let mark = point.isComplete ? "" : " *"
                return ReportTable.Cell("\(MetricFormat.percent(point.uar?.mean)) / \(MetricFormat.percent(point.war?.mean))\(mark)",
                                        isBest: point.mean(data.options.sortMetric) == top)
            }
        }
        var notes = ["Cells: mean UAR % / WAR % over folds; * marks a point with folds missing; – no grid point or no finished fold."]
        if !pivot.fixed.isEmpty {
            notes.append("Held at the best configuration: \(GridParameters(values: pivot.fixed).summary()).")
        }
        return ReportTable(id: "pivot", title: "Hyper-parameters: \(pivot.rowParameter) down, \(pivot.columnParameter) across (as in Table 3)",
                           columns: [.init("\(pivot.rowParameter) \\ \(pivot.columnParameter)", .left)]
                               + pivot.columnValues.map { .init($0.display) },
                           rows: rows, rulesBefore: [], emptyMessage: "",
                           notes: notes)
    }

    static func ablation(_ data: ReportData) -> ReportTable? {
        guard !data.ablations.isEmpty else { return nil }
        var rows: [[ReportTable.Cell]] = [], rules: Set<Int> = []
        for group in data.ablations {
            if !rows.isEmpty { rules.insert(rows.count) }
            let baseline = group.rows[0]
            let top = group.rows.compactMap { $0.mean(data.options.sortMetric) }.max()
            let fixed = GridParameters(values: group.fixed).summary(data.sweptParameters.filter { $0 != group.parameter })
            for (index, point) in group.rows.enumerated() {
                let isBase = index == 0
                let isTop = top != nil && point.mean(data.options.sortMetric) == top
                rows.append([ReportTable.Cell(isBase ? group.parameter : ""),
                             ReportTable.Cell(point.parameters.values[group.parameter]?.display ?? "–"),
                             ReportTable.Cell(isBase ? fixed : ""), ReportTable.Cell(point.foldsDone),
                             ReportTable.Cell(MetricFormat.spread(point.uar), isBest: isTop && data.options.sortMetric == .uar),
                             ReportTable.Cell(MetricFormat.spread(point.war), isBest: isTop && data.options.sortMetric == .war),
                             ReportTable.Cell(isBase ? "baseline" : delta(point.uar, baseline.uar)),
                             ReportTable.Cell(isBase ? "" : delta(point.war, baseline.war))])
            }
        }
        return ReportTable(id: "ablation", title: "Ablations — rows differ in one parameter only",
                           columns: [.init("parameter", .left), .init("value", .left), .init("others", .left), .init("folds"),
                                     .init("UAR %"), .init("WAR %"), .init("ΔUAR"), .init("ΔWAR")],
                           rows: rows, rulesBefore: rules, emptyMessage: "",
                           notes: ["Δ in percentage points against each group's first row; ~ marks a Δ no larger than "
                                   + "the fold-to-fold standard deviation of either row (or measured on one fold): "
                                   + "not a difference these folds can show."])
    }

    private static func delta(_ value: Spread?, _ baseline: Spread?) -> String {
        guard let value, let baseline else { return "–" }
        let difference = value.mean - baseline.mean
        let spread = max(value.standardDeviation, baseline.standardDeviation)
        let shown = value.count > 1 && baseline.count > 1 && abs(difference) > spread
        return MetricFormat.delta(difference) + (shown ? "" : " ~")
    }
}
