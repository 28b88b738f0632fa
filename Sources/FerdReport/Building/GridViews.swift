import Foundation

/// Derives the pivot and ablation views from the aggregated grid points.
struct GridViews {
    let points: [GridPointSummary]
    let names: [String]
    let swept: [String]
    let best: GridPointSummary?
    let metric: ReportMetric

    /// Short names people use for the paper's parameters.
    static let aliases: [String: [String]] = [
        "λ": ["lambda", "ial_weight", "ialWeight", "ial"],
        "lambda": ["ial_weight", "ialWeight", "ial"],
        "r": ["reduction", "reduction_ratio", "reductionRatio"],
    ]

    /// The pivot over `requested` (or the default pair), nil when fewer than two parameters are swept
    /// and none were requested.
    func pivot(requested: (rows: String, columns: String)?) throws -> PivotTable? {
        let pair: (String, String)
        if let requested {
            pair = (try resolve(requested.rows), try resolve(requested.columns))
            guard pair.0 != pair.1 else { throw ReportError.invalidPivot("\(requested.rows),\(requested.columns)") }
        } else {
            guard let chosen = defaultPair() else { return nil }
            pair = chosen
        }
        let (rowName, columnName) = pair
        let fixed = Dictionary(uniqueKeysWithValues: swept.filter { $0 != rowName && $0 != columnName }.compactMap { name in
            best?.parameters.values[name].map { (name, $0) }
        })
        let slice = points.filter { point in fixed.allSatisfy { point.parameters.values[$0.key] == $0.value } }
        let rowValues = Self.orderedValues(of: rowName, in: slice)
        let columnValues = Self.orderedValues(of: columnName, in: slice)
        let cells = rowValues.map { row in
            columnValues.map { column in
                slice.first { $0.parameters.values[rowName] == row && $0.parameters.values[columnName] == column }
            }
        }
        return PivotTable(rowParameter: rowName, columnParameter: columnName, rowValues: rowValues,
                          columnValues: columnValues, fixed: fixed, cells: cells)
    }

    /// For each swept parameter, the grid points that differ from each other in it alone: the line through
    /// the best configuration, or else the line holding the best-ranked point.
    func ablations() -> [AblationGroup] {
        swept.compactMap { parameter in
            let others = names.filter { $0 != parameter }
            let lines = Dictionary(grouping: points) { point in others.map { point.parameters.values[$0] } }
                .values.filter { $0.count > 1 && $0.contains { !$0.folds.isEmpty } }
            let line = lines.first { $0.contains { $0.id == best?.id } }
                ?? lines.min { topRank($0) < topRank($1) }
            guard let line, let first = line.first else { return nil }
            let order = Self.orderedValues(of: parameter, in: points)
            let rows = line.sorted { lhs, rhs in
                (order.firstIndex { $0 == lhs.parameters.values[parameter] } ?? .max)
                    < (order.firstIndex { $0 == rhs.parameters.values[parameter] } ?? .max)
            }
            let fixed = first.parameters.values.filter { $0.key != parameter }
            return AblationGroup(parameter: parameter, fixed: fixed, rows: rows)
        }
    }

    /// A parameter name from a `--pivot` word: the exact name, one of its aliases, or a case-insensitive match.
    func resolve(_ word: String) throws -> String {
        let trimmed = word.trimmingCharacters(in: .whitespaces)
        let candidates = [trimmed] + (Self.aliases[trimmed] ?? []) + (Self.aliases[trimmed.lowercased()] ?? [])
        if let name = candidates.first(where: names.contains) { return name }
        if let name = names.first(where: { $0.lowercased() == trimmed.lowercased() }) { return name }
        throw ReportError.unknownParameter(trimmed, available: names)
    }

    /// λ and r when both are swept (λ down, r across, as in the paper), else the first two swept names.
    private func defaultPair() -> (String, String)? {
        if let lambda = try? resolve("λ"), let reduction = try? resolve("r"), swept.contains(lambda),
           swept.contains(reduction) {
            return (lambda, reduction)
        }
        return swept.count >= 2 ? (swept[0], swept[1]) : nil
    }

    /// The distinct values of `name` among `points`: numbers ascending, others in grid order.
    static func orderedValues(of name: String, in points: [GridPointSummary]) -> [ParameterValue] {
        var seen: [ParameterValue] = []
        for point in points.sorted(by: { $0.id < $1.id }) {
            if let value = point.parameters.values[name], !seen.contains(value) { seen.append(value) }
        }
        let numeric = seen.allSatisfy { if case .number = $0 { true } else { false } }
        return numeric ? seen.sorted { ParameterValue.numericOrder($0, $1) ?? false } : seen
    }

    private func topRank(_ line: [GridPointSummary]) -> Double {
        -(line.compactMap { $0.mean(metric) }.max() ?? -1)
    }
}
