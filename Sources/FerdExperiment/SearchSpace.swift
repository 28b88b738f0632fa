import FerdRandom
import Foundation

/// What one `grid:` key takes: listed values (one value is a fixed parameter), or a range a random or Sobol
/// search draws from.
public enum ParameterDomain: Sendable, Hashable {
    /// `key: value` or `key: [a, b, …]`: every value (grid search) or a choice (random and Sobol search).
    case values([ParameterValue])
    /// `{uniform: [low, high]}`: a number uniform in [low, high).
    case uniform(low: Double, high: Double)
    /// `{loguniform: [low, high]}` (low > 0): a number whose logarithm is uniform.
    case logUniform(low: Double, high: Double)
    /// `{int: [low, high]}`: a whole number in low…high, each equally likely.
    case integer(low: Int, high: Int)
    /// `{choice: [a, b, …]}`: one of the values, each equally likely.
    case choice([ParameterValue])

    /// Significant digits a drawn uniform or loguniform number keeps, so that reports stay readable.
    public static let significantDigits = 4

    /// True for the forms only random and Sobol search take.
    public var isRange: Bool {
        if case .values = self { false } else { true }
    }

    /// The listed values (`values`, `choice`), nil for the numeric ranges.
    var listed: [ParameterValue]? {
        switch self {
        case .values(let values), .choice(let values): values
        case .uniform, .logUniform, .integer: nil
        }
    }

    /// True when the domain has one value only: the parameter is fixed and takes no coordinate of a search.
    var isFixed: Bool { listed?.count == 1 }

    /// The value at `u` ∈ [0, 1): the quantile of the range (loguniform in log space, an int or a choice by
    /// the equal part `u` falls in), uniform and loguniform rounded to `significantDigits`.
    public func value(at u: Double) -> ParameterValue {
        switch self {
        case let .uniform(low, high):
            .number(Self.rounded(low + u * (high - low)))
        case let .logUniform(low, high):
            .number(Self.rounded(exp(log(low) + u * (log(high) - log(low)))))
        case let .integer(low, high):
            .number(Double(low + min(Int(u * Double(high - low + 1)), high - low)))
        case .values(let values), .choice(let values):
            values[min(Int(u * Double(values.count)), values.count - 1)]
        }
    }

    /// Every value the domain can give when there are at most `limit`, else its extremes (a number range's
    /// ends, rounded as drawn values are): what is checked before any point is drawn.
    func checkedValues(limit: Int = 10_000) -> [ParameterValue] {
        switch self {
        case let .uniform(low, high), let .logUniform(low, high):
            [.number(Self.rounded(low)), .number(Self.rounded(high))]
        case let .integer(low, high):
            high - low < limit ? (low...high).map { .number(Double($0)) } : [.number(Double(low)), .number(Double(high))]
        case .values(let values), .choice(let values):
            values
        }
    }

    /// `value` rounded to `significantDigits` significant digits (the nearest double to the decimal).
    static func rounded(_ value: Double) -> Double {
        Double(String(format: "%.\(significantDigits)g", value)) ?? value
    }
}

/// How an experiment's points are chosen from its `grid:` (`search:`, `samples:`, `search_seed:`).
public enum SearchStrategy: Sendable, Hashable {
    /// Every combination of the listed values.
    case grid
    /// `samples` points drawn with SplitMix64 from `seed` (point i from stream (seed, i)).
    case random(samples: Int, seed: UInt64)
    /// Points 1…`samples` of the unscrambled Sobol sequence over the parameters that vary.
    case sobol(samples: Int)

    /// The word of `search:`.
    public var name: String {
        switch self {
        case .grid: "grid"
        case .random: "random"
        case .sobol: "sobol"
        }
    }
}

/// One key of `grid:`: the parameter, what it takes, and the line it is on (for errors).
public struct SearchDimension: Sendable, Hashable {
    public var name: String
    public var domain: ParameterDomain
    public var line: Int?

    public init(name: String, domain: ParameterDomain, line: Int? = nil) {
        self.name = name
        self.domain = domain
        self.line = line
    }
}

/// An experiment's search space: its `grid:` keys in file order and how points are chosen from them. The points
/// depend on these values alone, so the same file always gives the same points in the same order.
public struct SearchSpace: Sendable, Hashable {
    public let strategy: SearchStrategy
    public let dimensions: [SearchDimension]

    /// A grid takes listed values only (a range under `.grid` is an error naming its line); a Sobol search varies
    /// at most `SobolSequence.maximumDimensions` parameters.
    public init(strategy: SearchStrategy, dimensions: [SearchDimension]) throws(ExperimentError) {
        if strategy == .grid, let range = dimensions.first(where: \.domain.isRange) {
            throw .invalid("grid.\(range.name) is a range, which search: grid cannot enumerate; set search: random or "
                           + "search: sobol with samples: N, or list the values (\(range.name): [a, b, …])", line: range.line)
        }
        self.strategy = strategy
        self.dimensions = dimensions
        if case .sobol = strategy, varying.count > SobolSequence.maximumDimensions {
            throw .invalid("search: sobol varies at most \(SobolSequence.maximumDimensions) parameters, got \(varying.count); "
                           + "fix some or use search: random", line: nil)
        }
    }

    /// The parameters that vary (the coordinates of a random or Sobol point), in file order.
    public var varying: [SearchDimension] {
        dimensions.filter { !$0.domain.isFixed }
    }

    /// The points of the space, duplicates dropped (the first of equal points is kept).
    public func expand() -> SearchPoints {
        let drawn: [[String: ParameterValue]]
        switch strategy {
        case .grid:
            drawn = dimensions.reduce([[:]]) { points, dimension in
                points.flatMap { point in dimension.domain.listed!.map { point.merging([dimension.name: $0]) { _, new in new } } }
            }
        case let .random(samples, seed):
            drawn = (0..<samples).map { index in
                var generator = SplitMix64(seed: seed, index: UInt64(index))
                return point { _ in Double(generator.next() >> 11) * 0x1p-53 }
            }
        case let .sobol(samples):
            let sequence = SobolSequence(dimensions: max(varying.count, 1))
            drawn = (1...samples).map { index in
                let coordinates = sequence.point(UInt32(index))
                return point { coordinates[$0] }
            }
        }
        var seen = Set<String>()
        let points = drawn.filter { seen.insert(ExperimentDefinition.canonical($0)).inserted }
        return SearchPoints(strategy: strategy, varying: varying.map(\.name), points: points,
                            duplicatesDropped: drawn.count - points.count)
    }

    /// A point: the fixed parameters' values and, for the i-th varying parameter, its value at `coordinate(i)`.
    private func point(_ coordinate: (Int) -> Double) -> [String: ParameterValue] {
        var point: [String: ParameterValue] = [:]
        var index = 0
        for dimension in dimensions {
            if dimension.domain.isFixed {
                point[dimension.name] = dimension.domain.listed![0]
            } else {
                point[dimension.name] = dimension.domain.value(at: coordinate(index))
                index += 1
            }
        }
        return point
    }
}

/// The points a search space expands to, and how many equal points were dropped.
public struct SearchPoints: Sendable, Equatable, CustomStringConvertible {
    public var strategy: SearchStrategy
    /// The parameters that vary, in file order.
    public var varying: [String]
    /// Distinct points in the order drawn (grid: the last parameter varies fastest).
    public var points: [[String: ParameterValue]]
    /// Points equal to an earlier one (an int or choice repeated), left out.
    public var duplicatesDropped: Int

    /// E.g. "sobol search: 16 samples over lambda, lr, r; 2 duplicates dropped (ints and choices repeat) → 14 points".
    public var description: String {
        let over = varying.isEmpty ? "" : " over \(varying.joined(separator: ", "))"
        let head: String
        switch strategy {
        case .grid: head = "grid search: \(points.count + duplicatesDropped) combinations\(over)"
        case let .random(samples, seed): head = "random search (search_seed \(seed)): \(samples) samples\(over)"
        case let .sobol(samples): head = "sobol search: \(samples) samples\(over)"
        }
        let dropped = duplicatesDropped == 0 ? ""
            : "; \(duplicatesDropped) duplicate\(duplicatesDropped == 1 ? "" : "s") dropped (equal values repeat)"
        return "\(head)\(dropped) → \(points.count) point\(points.count == 1 ? "" : "s")"
    }
}
