/// A format-neutral table: what the text, Markdown and HTML renderers lay out.
public struct ReportTable: Sendable, Equatable {
    /// How a column's cells line up.
    public enum Alignment: Sendable, Equatable {
        case left, right
    }

    /// A column heading and alignment.
    public struct Column: Sendable, Equatable {
        public var title: String
        public var alignment: Alignment

        public init(_ title: String, _ alignment: Alignment = .right) {
            self.title = title
            self.alignment = alignment
        }
    }

    /// One cell; `isBest` marks the value renderers set in bold.
    public struct Cell: Sendable, Equatable {
        public var text: String
        public var isBest: Bool

        public init(_ text: String, isBest: Bool = false) {
            self.text = text
            self.isBest = isBest
        }
    }

    /// A stable identifier (HTML anchors, tests).
    public var id: String
    public var title: String
    public var columns: [Column]
    public var rows: [[Cell]]
    /// Row indices a rule is drawn above (between groups, before the published rows).
    public var rulesBefore: Set<Int>
    /// Rows that are not ours (published numbers), set subdued where the format can.
    public var mutedRows: Set<Int> = []
    /// Shown instead of rows when there are none.
    public var emptyMessage: String
    /// Lines printed under the table (the selection protocol is stated once for the whole report).
    public var notes: [String]
}
