import FerdReport
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// The CSV parses back to the report's numbers; the HTML is well-formed XML holding the SVG figures.
final class MachineFormatTests: ReportTestCase {
    func testCSVParsesBackToTheSameNumbers() throws {
        let data = try fixtureData()
        let rows = CSV.parse(ReportFormat.csv.render(data))
        let header = try XCTUnwrap(rows.first)
        XCTAssertEqual(Array(header.prefix(CSVRenderer.fixedColumns.count)), CSVRenderer.fixedColumns)
        XCTAssertEqual(Array(header.suffix(3)), ["param_attention", "param_lambda", "param_reduction"])
        let records = rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
        XCTAssertTrue(records.allSatisfy { $0.count == header.count })
        let points = records.filter { $0["kind"] == "point" }
        XCTAssertEqual(points.count, data.points.count)
        for (record, point) in zip(points, data.points) {
            XCTAssertEqual(Int(record["grid_point"] ?? ""), point.id)
            XCTAssertEqual(Double(record["uar"] ?? ""), point.uar?.mean)
            XCTAssertEqual(Double(record["war"] ?? ""), point.war?.mean)
            XCTAssertEqual(record["complete"], point.isComplete ? "true" : "false")
            if let spread = point.uar, spread.count > 1 {
                XCTAssertEqual(Double(record["uar_std"] ?? ""), spread.standardDeviation)
            }
            XCTAssertEqual(Double(record["recall_happy"] ?? ""), point.recall[0]?.mean)
        }
        let folds = records.filter { $0["kind"] == "fold" }
        let scored = data.points.flatMap(\.folds)
        XCTAssertEqual(folds.count, scored.count)
        for (record, fold) in zip(folds, scored) {
            XCTAssertEqual(Int(record["trial"] ?? ""), fold.trialID)
            XCTAssertEqual(Int(record["epoch"] ?? ""), fold.epoch)
            XCTAssertEqual(Double(record["uar"] ?? ""), fold.uar)
            XCTAssertEqual(Double(record["war"] ?? ""), fold.war)
            XCTAssertEqual(Double(record["recall_disgust"] ?? ""), fold.recall[5] ?? nil)
        }
        let published = records.filter { $0["kind"] == "published" }
        XCTAssertEqual(published.map { Double($0["uar"] ?? "") }, data.published.map(\.uar))
    }

    func testJSONIsValidAndCarriesTheNumbers() throws {
        let data = try fixtureData()
        let object = try JSONSerialization.jsonObject(with: Data(ReportFormat.json.render(data).utf8)) as? [String: Any]
        let points = try XCTUnwrap(object?["grid_points"] as? [[String: Any]])
        XCTAssertEqual(points.count, data.points.count)
        let uar = try XCTUnwrap(points.first?["uar"] as? [String: Any])
        XCTAssertEqual(uar["mean"] as? Double, data.points.first?.uar?.mean)
    }

    func testHTMLIsWellFormedAndHoldsTheSVGFigures() throws {
        let html = ReportFormat.html.render(try fixtureData())
        let parser = XMLParser(data: Data(html.utf8))
        let collector = ElementCollector()
        parser.delegate = collector
        XCTAssertTrue(parser.parse(), "HTML is not well-formed: \(String(describing: parser.parserError))")
        XCTAssertEqual(collector.classes(of: "svg").filter { $0 == "heatmap" }.count, 2)
        XCTAssertEqual(collector.classes(of: "svg").filter { $0 == "chart" }.count, 22)
        XCTAssertGreaterThanOrEqual(collector.count("polyline"), 66)
        XCTAssertEqual(collector.count("table"), 6)
        XCTAssertFalse(html.contains("http://") && html.contains("<link"))
        XCTAssertFalse(html.contains("<script"))
    }
}

/// Counts elements and records their class attributes while XMLParser walks a document.
private final class ElementCollector: NSObject, XMLParserDelegate {
    private var elements: [(name: String, classAttribute: String?)] = []

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        elements.append((elementName, attributes["class"]))
    }

    func count(_ name: String) -> Int { elements.filter { $0.name == name }.count }

    func classes(of name: String) -> [String] { elements.filter { $0.name == name }.compactMap(\.classAttribute) }
}

/// A minimal RFC 4180 reader for the round-trip test.
enum CSV {
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
        var characters = text.makeIterator()
        while let character = characters.next() {
            if quoted {
                if character == "\"" {
                    if let next = characters.next() {
                        if next == "\"" { field.append("\"") } else {
                            quoted = false
                            handle(next, &rows, &row, &field, &quoted)
                        }
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(character)
                }
            } else {
                handle(character, &rows, &row, &field, &quoted)
            }
        }
        if !field.isEmpty || !row.isEmpty { rows.append(row + [field]) }
        return rows
    }

    private static func handle(_ character: Character, _ rows: inout [[String]], _ row: inout [String],
                               _ field: inout String, _ quoted: inout Bool) {
        switch character {
        case "\"": quoted = true
        case ",": row.append(field); field = ""
        case "\n": rows.append(row + [field]); row = []; field = ""
        default: field.append(character)
        }
    }
}
