import Foundation

/// A labelled grid of coloured cells as SVG: the confusion matrix and the hyper-parameter grid.
struct SVGHeatMap {
    /// One cell: its shade in [0, 1] (nil draws an empty cell) and one or two lines of text.
    struct Cell {
        var shade: Double?
        var text: String
        var detail: String = ""
        var isBest = false
    }

    var rowTitle: String
    var columnTitle: String
    var rowLabels: [String]
    var columnLabels: [String]
    var cells: [[Cell]]
    var cellWidth = 70.0
    var cellHeight = 44.0
    var labelWidth = 78.0

    func render(ariaLabel: String) -> String {
        let top = 46.0, left = labelWidth + 22
        let width = left + cellWidth * Double(columnLabels.count) + 8
        let height = top + cellHeight * Double(rowLabels.count) + 8
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"heatmap\" width=\"\(SVGNumber.format(width))\" "
            + "height=\"\(SVGNumber.format(height))\" viewBox=\"0 0 \(SVGNumber.format(width)) \(SVGNumber.format(height))\" "
            + "role=\"img\" aria-label=\"\(XMLText.escape(ariaLabel))\">"
        svg += "<text class=\"axis\" x=\"\(SVGNumber.format(left + cellWidth * Double(columnLabels.count) / 2))\" y=\"13\" "
            + "text-anchor=\"middle\">\(XMLText.escape(columnTitle))</text>"
        let middle = SVGNumber.format(top + cellHeight * Double(rowLabels.count) / 2)
        svg += "<text class=\"axis\" x=\"12\" y=\"\(middle)\" text-anchor=\"middle\" "
            + "transform=\"rotate(-90 12 \(middle))\">\(XMLText.escape(rowTitle))</text>"
        for (column, label) in columnLabels.enumerated() {
            svg += "<text class=\"tick\" x=\"\(SVGNumber.format(left + cellWidth * (Double(column) + 0.5)))\" "
                + "y=\"\(SVGNumber.format(top - 8))\" text-anchor=\"middle\">\(XMLText.escape(label))</text>"
        }
        for (row, label) in rowLabels.enumerated() {
            let y = top + cellHeight * Double(row)
            svg += "<text class=\"tick\" x=\"\(SVGNumber.format(left - 8))\" y=\"\(SVGNumber.format(y + cellHeight / 2 + 4))\" "
                + "text-anchor=\"end\">\(XMLText.escape(label))</text>"
            for (column, cell) in cells[row].enumerated() {
                svg += render(cell, x: left + cellWidth * Double(column), y: y)
            }
        }
        return svg + "</svg>"
    }

    private func render(_ cell: Cell, x: Double, y: Double) -> String {
        let fill = cell.shade.map(Self.color) ?? "#f1f3f5"
        let ink = (cell.shade ?? 0) > 0.55 ? "#ffffff" : "#1f2933"
        let stroke = cell.isBest ? " stroke=\"#111827\" stroke-width=\"2.5\"" : " stroke=\"#ffffff\" stroke-width=\"1.5\""
        var svg = "<rect x=\"\(SVGNumber.format(x))\" y=\"\(SVGNumber.format(y))\" width=\"\(SVGNumber.format(cellWidth))\" "
            + "height=\"\(SVGNumber.format(cellHeight))\" rx=\"3\" fill=\"\(fill)\"\(stroke)/>"
        let centre = SVGNumber.format(x + cellWidth / 2)
        let baseline = cell.detail.isEmpty ? y + cellHeight / 2 + 4.5 : y + cellHeight / 2 - 1
        svg += "<text class=\"cell\" x=\"\(centre)\" y=\"\(SVGNumber.format(baseline))\" text-anchor=\"middle\" "
            + "fill=\"\(ink)\">\(XMLText.escape(cell.text))</text>"
        if !cell.detail.isEmpty {
            svg += "<text class=\"cell-detail\" x=\"\(centre)\" y=\"\(SVGNumber.format(y + cellHeight / 2 + 13))\" "
                + "text-anchor=\"middle\" fill=\"\(ink)\">\(XMLText.escape(cell.detail))</text>"
        }
        return svg
    }

    /// A sequential blue scale from near-white (0) to deep blue (1).
    static func color(_ shade: Double) -> String {
        let t = min(max(shade, 0), 1)
        let low = (247.0, 251.0, 255.0), high = (8.0, 48.0, 107.0), mid = (107.0, 174.0, 214.0)
        let (from, to, u) = t < 0.5 ? (low, mid, t * 2) : (mid, high, (t - 0.5) * 2)
        let channel = { (a: Double, b: Double) in Int((a + (b - a) * u).rounded()) }
        return String(format: "#%02x%02x%02x", channel(from.0, to.0), channel(from.1, to.1), channel(from.2, to.2))
    }
}
