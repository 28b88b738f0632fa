import Foundation

/// How metrics print in the human-readable formats: percentages with two decimals, as the papers do.
enum MetricFormat {
    /// "55.71", or "–" for nil.
    static func percent(_ value: Double?) -> String {
        guard let value else { return "–" }
        return String(format: "%.2f", value * 100)
    }

    /// "55.71 ± 1.23"; just the mean for a single fold (no sample deviation); "–" for nil.
    static func spread(_ spread: Spread?) -> String {
        guard let spread else { return "–" }
        guard spread.count > 1 else { return percent(spread.mean) }
        return "\(percent(spread.mean)) ± \(percent(spread.standardDeviation))"
    }

    /// "+1.23" / "−0.40" in percentage points, or "–".
    static func delta(_ value: Double?) -> String {
        guard let value else { return "–" }
        let text = String(format: "%.2f", abs(value) * 100)
        return value < -0.000_05 ? "−\(text)" : "+\(text)"
    }

    /// The statement of the selection protocol, printed once near the top of every report.
    static func protocolNote(_ options: ReportOptions) -> String {
        let scoring = switch options.selection {
        case .bestEpoch:
            "each fold scored at its best test epoch by \(options.bestEpochMetric.label) — the field's protocol, "
                + "optimistic because the test set picks the epoch; --select last-epoch gives the honest alternative"
        case .lastEpoch:
            "each fold scored at its last trained epoch — the honest alternative to the field's best-test-epoch "
                + "protocol (optimistic; --select best-epoch reproduces it)"
        }
        return "Selection: \(scoring). UAR/WAR recomputed from the stored per-epoch confusion matrices; "
            + "mean ± sample std (n−1) over folds, in %."
    }
}
