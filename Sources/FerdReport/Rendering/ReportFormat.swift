/// An output format of `ferd report`.
public enum ReportFormat: String, Sendable, CaseIterable {
    case text, md, csv, json, html

    /// The report in this format; `style` only affects `.text`.
    public func render(_ data: ReportData, style: TextStyle = TextStyle()) -> String {
        switch self {
        case .text: TextRenderer(style: style).render(data)
        case .md: MarkdownRenderer().render(data)
        case .csv: CSVRenderer().render(data)
        case .json: JSONRenderer().render(data)
        case .html: HTMLRenderer().render(data)
        }
    }
}
