/// The text format: aligned tables fitted to the terminal width, best values in bold where the style allows.
public struct TextRenderer: Sendable {
    public var style: TextStyle

    public init(style: TextStyle) {
        self.style = style
    }

    public func render(_ data: ReportData) -> String {
        var lines = [bold("ferd report — experiment \(data.experimentID) \"\(data.experimentName)\"")]
        lines += TextLayout.wrap(ReportSummary.line(data), width: style.width)
        lines += TextLayout.wrap(MetricFormat.protocolNote(data.options), width: style.width)
        for table in ReportTables.tables(data) {
            lines += [""] + render(table)
        }
        if !data.warnings.isEmpty {
            lines.append("")
            lines += data.warnings.flatMap { TextLayout.wrap("warning: \($0)", width: style.width) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func render(_ table: ReportTable) -> [String] {
        let (widths, gap) = TextLayout.layout(table, within: style.width)
        let ruleWidth = widths.reduce(0, +) + gap * (widths.count - 1)
        let rule = String(repeating: "─", count: min(ruleWidth, style.width))
        let header = zip(table.columns, widths).map { TextLayout.fit($0.title, $1, $0.alignment) }
        var lines = [bold(table.title), join(header, gap), rule]
        if table.rows.isEmpty {
            lines += TextLayout.wrap(table.emptyMessage, width: style.width)
        }
        for (index, row) in table.rows.enumerated() {
            if table.rulesBefore.contains(index) { lines.append(String(repeating: "╌", count: rule.count)) }
            let cells = zip(row, zip(table.columns, widths)).map { cell, layout in
                let text = TextLayout.fit(cell.text, layout.1, layout.0.alignment)
                return cell.isBest ? bold(text) : text
            }
            lines.append(join(cells, gap))
        }
        return lines + table.notes.flatMap { TextLayout.wrap($0, width: style.width) }
    }

    private func join(_ cells: [String], _ gap: Int) -> String {
        var line = cells.joined(separator: String(repeating: " ", count: gap))
        while line.hasSuffix(" ") { line.removeLast() }
        return line
    }

    private func bold(_ text: String) -> String {
        style.bold ? "\u{1B}[1m\(text)\u{1B}[0m" : text
    }
}
