/// Column fitting and word wrapping for the text format.
enum TextLayout {
    static let minimumTextWidth = 8

    /// Column widths and the gap between columns for `table` within `width`: two spaces between columns
    /// when that fits, else one.
    static func layout(_ table: ReportTable, within width: Int) -> (widths: [Int], gap: Int) {
        let wide = widths(table, within: width, gap: 2)
        let total = wide.reduce(0, +) + 2 * (wide.count - 1)
        return total <= width ? (wide, 2) : (widths(table, within: width, gap: 1), 1)
    }

    /// Column widths for `table` within `width`: each column as wide as its widest cell, then the widest
    /// left-aligned (text) columns shrink until the table fits or they reach `minimumTextWidth`.
    static func widths(_ table: ReportTable, within width: Int, gap: Int) -> [Int] {
        var widths = table.columns.indices.map { column in
            ([table.columns[column].title] + table.rows.map { $0[column].text }).map(\.count).max() ?? 0
        }
        let shrinkable = table.columns.indices.filter { table.columns[$0].alignment == .left }
        while widths.reduce(0, +) + gap * (widths.count - 1) > width {
            guard let widest = shrinkable.max(by: { widths[$0] < widths[$1] }), widths[widest] > minimumTextWidth
            else { break }
            widths[widest] -= 1
        }
        return widths
    }

    /// `text` cut to `width` characters with an ellipsis, then padded per `alignment`.
    static func fit(_ text: String, _ width: Int, _ alignment: ReportTable.Alignment) -> String {
        let cut = text.count > width ? String(text.prefix(max(width - 1, 0))) + "…" : text
        let padding = String(repeating: " ", count: max(width - cut.count, 0))
        return alignment == .left ? cut + padding : padding + cut
    }

    /// `text` broken into lines of at most `width` characters at spaces.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? String(word) : " \(word)"
        }
        return line.isEmpty ? lines : lines + [line]
    }
}
