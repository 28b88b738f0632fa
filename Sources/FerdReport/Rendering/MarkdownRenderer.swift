/// The Markdown format: GitHub tables ready to paste, best values in bold.
public struct MarkdownRenderer: Sendable {
    public init() {}

    public func render(_ data: ReportData) -> String {
        var lines = ["# ferd report — experiment \(data.experimentID) “\(escape(data.experimentName))”", "",
                     escape(ReportSummary.line(data)), "", "_\(escape(MetricFormat.protocolNote(data.options)))_"]
        for table in ReportTables.tables(data) {
            lines += [""] + render(table)
        }
        if !data.warnings.isEmpty {
            lines += ["", "**Warnings**", ""] + data.warnings.map { "- \(escape($0))" }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func render(_ table: ReportTable) -> [String] {
        var lines = ["## \(escape(table.title))", ""]
        lines.append(row(table.columns.map { escape($0.title) }))
        lines.append(row(table.columns.map { $0.alignment == .left ? ":---" : "---:" }))
        for cells in table.rows {
            lines.append(row(cells.map { cell in
                let text = escape(cell.text)
                return cell.isBest && !text.isEmpty ? "**\(text)**" : text
            }))
        }
        if table.rows.isEmpty {
            lines += ["", "_\(escape(table.emptyMessage))_"]
        }
        guard !table.notes.isEmpty else { return lines }
        return lines + [""] + table.notes.map { "_\(escape($0))_" }.joinedAsParagraphs()
    }

    private func row(_ cells: [String]) -> String {
        "| " + cells.joined(separator: " | ") + " |"
    }

    /// Escapes the characters that would break a table cell or start emphasis.
    private func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "|*_\\`<>[]".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}

private extension Array where Element == String {
    /// The lines separated by blank lines, so each is its own paragraph.
    func joinedAsParagraphs() -> [String] {
        enumerated().flatMap { index, line in index == 0 ? [line] : ["", line] }
    }
}
