/// The paper's Table 3 layout: one swept parameter down, another across, each cell a grid point's
/// UAR/WAR; the other swept parameters are held at the best configuration's values.
public struct PivotTable: Sendable, Equatable {
    public var rowParameter: String
    public var columnParameter: String
    public var rowValues: [ParameterValue]
    public var columnValues: [ParameterValue]
    /// The other swept parameters and the values the slice holds them at.
    public var fixed: [String: ParameterValue]
    /// cells[row][column]: the grid point there, nil where the grid has none.
    public var cells: [[GridPointSummary?]]
}

/// Grid points that differ in one parameter only (e.g. attention none/se/gca), in value order; the
/// first row is the baseline the differences are taken against.
public struct AblationGroup: Sendable, Equatable {
    public var parameter: String
    /// The parameters every row shares.
    public var fixed: [String: ParameterValue]
    public var rows: [GridPointSummary]
}

/// How many of the experiment's trials are in one state.
public struct StateCount: Sendable, Equatable {
    public var state: String
    public var count: Int
}
