import Foundation

/// One hyper-parameter value of a grid point, as stored in its params JSON.
public enum ParameterValue: Sendable, Hashable, Codable {
    case number(Double)
    case text(String)
    case bool(Bool)

    /// The value as a person would write it in a config: 0.1, 16, gca, true.
    public var display: String {
        switch self {
        case let .number(value):
            value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
        case let .text(value): value
        case let .bool(value): value ? "true" : "false"
        }
    }

    /// Orders numbers numerically; other kinds keep their order of appearance (nil).
    static func numericOrder(_ lhs: ParameterValue, _ rhs: ParameterValue) -> Bool? {
        if case let .number(a) = lhs, case let .number(b) = rhs { return a < b }
        return nil
    }
}

/// A grid point's parameters by name, decoded from the flat JSON object the scheduler stores; nested
/// values are kept as their compact JSON text.
public struct GridParameters: Sendable, Hashable {
    /// Name → value.
    public var values: [String: ParameterValue]

    public init(values: [String: ParameterValue]) {
        self.values = values
    }

    /// Decodes params JSON; anything that is not a JSON object becomes a single `params` text value.
    public init(json: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            self.values = ["params": .text(json)]
            return
        }
        self.values = object.mapValues(Self.value)
    }

    /// The parameter names, sorted.
    public var names: [String] { values.keys.sorted() }

    /// "attention=gca, lambda=0.1" over `names` (all names when nil); a name the point does not have (a key of
    /// another method) is left out.
    public func summary(_ names: [String]? = nil) -> String {
        (names ?? self.names).compactMap { name in values[name].map { "\(name)=\($0.display)" } }.joined(separator: ", ")
    }

    /// Decodes one JSON value: true/false, a number, a string, or anything else as its compact JSON text.
    private static func value(_ any: Any) -> ParameterValue {
        let data = (try? JSONSerialization.data(withJSONObject: any, options: [.sortedKeys, .fragmentsAllowed]))
            ?? Data()
        let decoder = JSONDecoder()
        if let flag = try? decoder.decode(Bool.self, from: data) { return .bool(flag) }
        if let number = try? decoder.decode(Double.self, from: data) { return .number(number) }
        if let text = try? decoder.decode(String.self, from: data) { return .text(text) }
        return .text(String(decoding: data, as: UTF8.self))
    }
}
