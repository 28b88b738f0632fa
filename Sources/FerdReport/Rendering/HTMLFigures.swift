/// The report page's SVG figures: the hyper-parameter heat map, the best configuration's confusion
/// matrix and the learning curves.
enum HTMLFigures {
    /// The pivot as a heat map shaded by the sort metric, lowest to highest in the grid.
    static func pivotHeatMap(_ data: ReportData) -> String {
        guard let pivot = data.pivot else { return "" }
        let metric = data.options.sortMetric
        let scores = pivot.cells.flatMap { $0 }.compactMap { $0?.mean(metric) }
        let low = scores.min() ?? 0, high = scores.max() ?? 1
        let cells = pivot.cells.map { row in
            row.map { point -> SVGHeatMap.Cell in
                guard let point, let score = point.mean(metric) else { return SVGHeatMap.Cell(shade: nil, text: "–") }
                let shade = high > low ? 0.15 + 0.85 * (score - low) / (high - low) : 0.6
                return SVGHeatMap.Cell(shade: shade, text: MetricFormat.percent(point.uar?.mean),
                                       detail: "\(MetricFormat.percent(point.war?.mean))\(point.isComplete ? "" : " *")",
                                       isBest: score == high)
            }
        }
        let map = SVGHeatMap(rowTitle: pivot.rowParameter, columnTitle: pivot.columnParameter,
                             rowLabels: pivot.rowValues.map(\.display), columnLabels: pivot.columnValues.map(\.display),
                             cells: cells, labelWidth: 40)
        return "<figure style=\"margin: 0\">\(map.render(ariaLabel: "\(pivot.rowParameter) by \(pivot.columnParameter) heat map"))"
            + "<p class=\"note\">Cell: UAR over WAR (%). Shade: \(metric.label), lowest to highest in the grid; "
            + "outlined: best.</p></figure>"
    }

    /// The best configuration's confusion matrix summed over its folds, shaded by row-normalised recall.
    static func confusionCard(_ data: ReportData) -> String {
        guard let best = data.best, let matrix = best.pooledConfusion else { return "" }
        let names = (0..<matrix.classes).map(ExpressionClasses.name)
        let cells = matrix.counts.map { row in
            let support = row.reduce(0, +)
            return row.map { count in
                let share = support > 0 ? Double(count) / Double(support) : nil
                return SVGHeatMap.Cell(shade: share, text: share.map { String(Int(($0 * 100).rounded())) + "%" } ?? "–",
                                       detail: "\(count)")
            }
        }
        let map = SVGHeatMap(rowTitle: "true class", columnTitle: "predicted class", rowLabels: names,
                             columnLabels: names, cells: cells, cellWidth: 66, cellHeight: 42)
        return "<section class=\"card\" id=\"confusion\"><h2>Confusion matrix of the best configuration</h2>"
            + "<p class=\"note\" style=\"margin: 0 0 10px\">\(XMLText.escape(data.label(best))): selected epochs of "
            + "\(best.folds.count) folds summed; cells show the share of the true class (row) and the count.</p>"
            + map.render(ariaLabel: "confusion matrix") + "</section>"
    }

    /// Learning curves per trial, grouped by grid point; the best configuration's group starts open.
    static func curvesCard(_ data: ReportData) -> String {
        guard !data.curves.isEmpty else { return "" }
        var html = "<section class=\"card\" id=\"curves\"><h2>Learning curves</h2><div class=\"legend\">"
            + "<span><i style=\"border-color: \(SVGLineChart.uarColor)\"></i>test UAR %</span>"
            + "<span><i style=\"border-color: \(SVGLineChart.warColor)\"></i>test WAR %</span>"
            + "<span><i class=\"dashed\" style=\"border-color: \(SVGLineChart.lossColor)\"></i>train loss (right axis)</span>"
            + "<span><i class=\"dashed\" style=\"border-color: #16a34a\"></i>selected epoch</span></div>"
        let byPoint = Dictionary(grouping: data.curves, by: \.gridPointID)
        for point in data.points {
            guard let curves = byPoint[point.id] else { continue }
            let open = point.id == data.bestPointID ? " open=\"open\"" : ""
            html += "<details\(open)><summary>\(XMLText.escape(data.label(point))) "
                + "<span class=\"muted\">· \(point.foldsDone) folds · UAR \(MetricFormat.spread(point.uar))</span></summary>"
                + "<div class=\"charts\">"
            html += curves.map { SVGLineChart(title: "fold \($0.fold) · trial \($0.trialID)", curve: $0).render() }.joined()
            html += "</div></details>"
        }
        return html + "</section>"
    }
}
