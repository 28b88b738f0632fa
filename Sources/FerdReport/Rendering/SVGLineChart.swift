import Foundation

/// A learning curve as an SVG line chart: test UAR and WAR (left axis, %) and the training loss (right
/// axis) by epoch, with the selected epoch marked.
struct SVGLineChart {
    static let width = 336.0, height = 196.0
    static let left = 38.0, right = 44.0, top = 26.0, bottom = 30.0
    static let uarColor = "#2563eb", warColor = "#f59e0b", lossColor = "#64748b"

    let title: String
    let curve: TrialCurve

    func render() -> String {
        let points = curve.points
        let firstEpoch = Double(points.first?.epoch ?? 0), lastEpoch = Double(points.last?.epoch ?? 1)
        let span = max(lastEpoch - firstEpoch, 1)
        let plotWidth = Self.width - Self.left - Self.right, plotHeight = Self.height - Self.top - Self.bottom
        let maxLoss = Self.niceCeiling(points.map(\.trainLoss).max() ?? 1)
        let x = { (epoch: Int) in Self.left + (Double(epoch) - firstEpoch) / span * plotWidth }
        let yMetric = { (value: Double) in Self.top + (1 - value) * plotHeight }
        let yLoss = { (value: Double) in Self.top + (1 - value / maxLoss) * plotHeight }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(Int(Self.width))\" "
            + "height=\"\(Int(Self.height))\" viewBox=\"0 0 \(Int(Self.width)) \(Int(Self.height))\" role=\"img\" "
            + "aria-label=\"\(XMLText.escape("learning curve, \(title)"))\">"
        svg += "<text class=\"chart-title\" x=\"\(Int(Self.left))\" y=\"15\">\(XMLText.escape(title))</text>"
        for step in 0...4 {
            let value = Double(step) / 4, y = SVGNumber.format(yMetric(value))
            svg += "<line class=\"grid\" x1=\"\(Int(Self.left))\" y1=\"\(y)\" x2=\"\(SVGNumber.format(Self.left + plotWidth))\" y2=\"\(y)\"/>"
            svg += "<text class=\"tick\" x=\"\(Int(Self.left - 5))\" y=\"\(y)\" text-anchor=\"end\" dy=\"3.5\">\(step * 25)</text>"
            svg += "<text class=\"tick loss\" x=\"\(SVGNumber.format(Self.left + plotWidth + 5))\" y=\"\(y)\" dy=\"3.5\">"
                + "\(Self.tickLabel(maxLoss * value))</text>"
        }
        for epoch in Self.epochTicks(Int(firstEpoch), Int(lastEpoch)) {
            svg += "<text class=\"tick\" x=\"\(SVGNumber.format(x(epoch)))\" y=\"\(SVGNumber.format(Self.top + plotHeight + 14))\" "
                + "text-anchor=\"middle\">\(epoch)</text>"
        }
        svg += "<text class=\"axis\" x=\"\(SVGNumber.format(Self.left + plotWidth / 2))\" y=\"\(Int(Self.height - 3))\" "
            + "text-anchor=\"middle\">epoch</text>"
        if let selected = curve.selectedEpoch {
            let position = SVGNumber.format(x(selected))
            svg += "<line class=\"selected\" x1=\"\(position)\" y1=\"\(Int(Self.top))\" x2=\"\(position)\" "
                + "y2=\"\(SVGNumber.format(Self.top + plotHeight))\"/>"
        }
        svg += polyline(points.map { (x($0.epoch), yLoss($0.trainLoss)) }, color: Self.lossColor, dashed: true)
        svg += polyline(points.map { (x($0.epoch), yMetric($0.war)) }, color: Self.warColor, dashed: false)
        svg += polyline(points.map { (x($0.epoch), yMetric($0.uar)) }, color: Self.uarColor, dashed: false)
        return svg + "</svg>"
    }

    private func polyline(_ points: [(Double, Double)], color: String, dashed: Bool) -> String {
        let coordinates = points.map { "\(SVGNumber.format($0.0)),\(SVGNumber.format($0.1))" }.joined(separator: " ")
        let dash = dashed ? " stroke-dasharray=\"4 3\"" : ""
        var svg = "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\" stroke-linejoin=\"round\"\(dash) "
            + "points=\"\(coordinates)\"/>"
        if points.count == 1, let point = points.first {
            svg += "<circle cx=\"\(SVGNumber.format(point.0))\" cy=\"\(SVGNumber.format(point.1))\" r=\"2.5\" fill=\"\(color)\"/>"
        }
        return svg
    }

    /// Up to six evenly spaced whole epochs, always including the first and the last.
    static func epochTicks(_ first: Int, _ last: Int) -> [Int] {
        guard last > first else { return [first] }
        let step = max(1, Int((Double(last - first) / 5).rounded(.up)))
        var ticks = Array(stride(from: first, to: last, by: step))
        if let tail = ticks.last, last - tail < step / 2 { ticks.removeLast() }
        return ticks + [last]
    }

    /// The next of 1, 2, 2.5, 5 × 10ⁿ at or above `value`.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let magnitude = pow(10, floor(log10(value)))
        return ([1, 2, 2.5, 5, 10].first { $0 * magnitude >= value } ?? 10) * magnitude
    }

    private static func tickLabel(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.2g", value)
    }
}
