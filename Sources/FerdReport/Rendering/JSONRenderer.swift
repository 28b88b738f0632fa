import FerdTraining

/// The JSON format: every number of the report as a fraction, with stable snake_case keys.
public struct JSONRenderer: Sendable {
    public init() {}

    public func render(_ data: ReportData) -> String {
        var fields: [(String, JSONValue)] = [
            ("experiment", .object([("id", .int(data.experimentID)), ("name", .string(data.experimentName))])),
            ("selection", .string(data.options.selection.rawValue)),
            ("best_epoch_metric", .string(data.options.bestEpochMetric.rawValue)),
            ("sort", .string(data.options.sortMetric.rawValue)),
            ("classes", .array(ExpressionClasses.names.map(JSONValue.string))),
            ("parameters", .array(data.parameterNames.map(JSONValue.string))),
            ("swept_parameters", .array(data.sweptParameters.map(JSONValue.string))),
            ("trial_states", .object(data.trialStates.map { ($0.state, .int($0.count)) })),
            ("best_grid_point", data.bestPointID.map(JSONValue.int) ?? .null),
            ("grid_points", .array(data.points.enumerated().map { point($1, rank: $0 + 1) })),
            ("pivot", data.pivot.map(pivot) ?? .null),
            ("ablations", .array(data.ablations.map(ablation))),
            ("curves", .array(data.curves.map(curve))),
            ("published", .array(data.published.map(published))),
            ("warnings", .array(data.warnings.map(JSONValue.string))),
        ]
        if let methods = data.methods { fields.append(("methods", comparison(methods))) }
        if !data.relabels.isEmpty { fields.append(("relabels", .array(data.relabels.map(relabels)))) }
        return JSONValue.object(fields).serialized() + "\n"
    }

    private func point(_ point: GridPointSummary, rank: Int) -> JSONValue {
        .object([
            ("id", .int(point.id)), ("rank", .int(rank)), ("complete", .bool(point.isComplete)),
            ("folds_done", .int(point.folds.count)), ("folds_planned", .int(point.plannedFolds)),
            ("parameters", parameters(point.parameters.values)),
            ("uar", spread(point.uar)), ("war", spread(point.war)),
            ("recall", .array(point.recall.map(spread))),
            ("confusion", point.pooledConfusion.map(matrix) ?? .null),
            ("folds", .array(point.folds.map(fold))),
        ])
    }

    private func fold(_ fold: FoldScore) -> JSONValue {
        .object([
            ("fold", .int(fold.fold)), ("seed", .integer("\(fold.seed)")), ("trial", .int(fold.trialID)),
            ("attempt", .int(fold.attempt)), ("epoch", .int(fold.epoch)), ("epochs_trained", .int(fold.epochsTrained)),
            ("uar", .number(fold.uar)), ("war", .number(fold.war)),
            ("recall", .array(fold.recall.map(JSONValue.optional))), ("confusion", matrix(fold.confusion)),
        ])
    }

    private func pivot(_ pivot: PivotTable) -> JSONValue {
        .object([
            ("rows", .string(pivot.rowParameter)), ("columns", .string(pivot.columnParameter)),
            ("row_values", .array(pivot.rowValues.map(value))), ("column_values", .array(pivot.columnValues.map(value))),
            ("fixed", parameters(pivot.fixed)),
            ("grid_points", .array(pivot.cells.map { .array($0.map { $0.map { .int($0.id) } ?? .null }) })),
        ])
    }

    private func ablation(_ group: AblationGroup) -> JSONValue {
        .object([("parameter", .string(group.parameter)), ("fixed", parameters(group.fixed)),
                 ("grid_points", .array(group.rows.map { .int($0.id) }))])
    }

    private func curve(_ curve: TrialCurve) -> JSONValue {
        .object([
            ("trial", .int(curve.trialID)), ("grid_point", .int(curve.gridPointID)), ("fold", .int(curve.fold)),
            ("attempt", .int(curve.attempt)), ("selected_epoch", curve.selectedEpoch.map(JSONValue.int) ?? .null),
            ("epoch", .array(curve.points.map { .int($0.epoch) })),
            ("train_loss", .array(curve.points.map { .number($0.trainLoss) })),
            ("uar", .array(curve.points.map { .number($0.uar) })),
            ("war", .array(curve.points.map { .number($0.war) })),
        ])
    }

    private func published(_ result: PublishedResult) -> JSONValue {
        .object([("method", .string(result.method)), ("venue", .string(result.venue)), ("citation", .string(result.citation)),
                 ("recall", .array(result.recall.map(JSONValue.number))),
                 ("uar", .number(result.uar)), ("war", .number(result.war))])
    }

    private func comparison(_ comparison: MethodComparison) -> JSONValue {
        .object([
            ("dataset", .string(comparison.dataset.rawValue)),
            ("ferd", .array(comparison.rows.map { .object([("method", .string($0.method)), ("grid_point", .int($0.point.id))]) })),
            ("published", .array(comparison.published.map { result in
                .object([("method", .string(result.method)), ("ferd_method", result.ferdMethod.map(JSONValue.string) ?? .null),
                         ("citation", .string(result.citation)),
                         ("recall", result.recall.map { .array($0.map(JSONValue.number)) } ?? .null),
                         ("uar", result.uar.map(JSONValue.number) ?? .null), ("war", .number(result.war))])
            })),
        ])
    }

    private func relabels(_ summary: RelabelSummary) -> JSONValue {
        .object([("grid_point", .int(summary.gridPointID)), ("fold", .int(summary.fold)), ("trial", .int(summary.trialID)),
                 ("epochs", .int(summary.epochs)), ("changed", .int(summary.changed)),
                 ("relabelled_by_class", .array(summary.relabelledByClass.map(JSONValue.int)))])
    }

    private func spread(_ spread: Spread?) -> JSONValue {
        guard let spread else { return .null }
        return .object([("mean", .number(spread.mean)), ("std", spread.count > 1 ? .number(spread.standardDeviation) : .null),
                        ("n", .int(spread.count))])
    }

    private func parameters(_ values: [String: ParameterValue]) -> JSONValue {
        .object(values.sorted { $0.key < $1.key }.map { ($0.key, value($0.value)) })
    }

    private func value(_ value: ParameterValue) -> JSONValue {
        switch value {
        case let .number(number): .number(number)
        case let .text(text): .string(text)
        case let .bool(flag): .bool(flag)
        }
    }

    private func matrix(_ matrix: FerdTraining.ConfusionMatrix) -> JSONValue {
        .array(matrix.counts.map { .array($0.map(JSONValue.int)) })
    }
}
