/// The Sobol low-discrepancy sequence in up to 21 dimensions, unscrambled, in Gray-code order (Antonov–Saleev):
/// point `n` is the XOR of the direction numbers of the bits set in `n ^ (n >> 1)`. The first dimension is the
/// van der Corput sequence in base 2; dimensions 2–21 take their primitive polynomials and initial direction
/// numbers from Joe and Kuo's new-joe-kuo-6.21201 (S. Joe, F. Y. Kuo, "Constructing Sobol sequences with better
/// two-dimensional projections", SIAM J. Sci. Comput. 30, 2008). The points equal those of
/// `scipy.stats.qmc.Sobol(d, scramble=False, bits=32)`. Point 0 is the origin; `sobol` search skips it.
public struct SobolSequence: Sendable {
    /// Degree s, coefficients a and initial direction numbers m₁…mₛ of dimensions 2… (new-joe-kuo-6.21201).
    private static let parameters: [(s: Int, a: UInt32, m: [UInt32])] = [
        (1, 0, [1]), (2, 1, [1, 3]), (3, 1, [1, 3, 1]), (3, 2, [1, 1, 1]), (4, 1, [1, 1, 3, 3]),
        (4, 4, [1, 3, 5, 13]), (5, 2, [1, 1, 5, 5, 17]), (5, 4, [1, 1, 5, 5, 5]), (5, 7, [1, 1, 7, 11, 19]),
        (5, 11, [1, 1, 5, 1, 1]), (5, 13, [1, 1, 1, 3, 11]), (5, 14, [1, 3, 5, 5, 31]), (6, 1, [1, 3, 3, 9, 7, 49]),
        (6, 13, [1, 1, 1, 15, 21, 21]), (6, 16, [1, 3, 1, 13, 27, 49]), (6, 19, [1, 1, 1, 15, 7, 5]),
        (6, 22, [1, 3, 1, 15, 13, 25]), (6, 25, [1, 1, 5, 5, 19, 61]), (7, 1, [1, 3, 7, 11, 23, 15, 103]),
        (7, 4, [1, 3, 7, 13, 13, 15, 69]),
    ]

    /// The most dimensions the sequence has.
    public static let maximumDimensions = parameters.count + 1

    /// Coordinates per point.
    public let dimensions: Int
    /// Direction numbers vₖ = mₖ·2³²⁻ᵏ per dimension, for bits k = 1…32 of the point index.
    private let directions: [[UInt32]]

    /// The sequence in `dimensions` dimensions (1…`maximumDimensions`).
    public init(dimensions: Int) {
        precondition((1...Self.maximumDimensions).contains(dimensions),
                     "Sobol dimensions must be 1…\(Self.maximumDimensions), got \(dimensions)")
        self.dimensions = dimensions
        var directions = [(0..<32).map { UInt32(1) << (31 - $0) }]
        for (s, a, m) in Self.parameters.prefix(dimensions - 1) {
            var v = (0..<32).map { k in k < s ? m[k] << (31 - k) : 0 }
            for k in s..<32 {
                v[k] = v[k - s] ^ (v[k - s] >> s)
                for i in 1..<s where (a >> (s - 1 - i)) & 1 == 1 {
                    v[k] ^= v[k - i]
                }
            }
            directions.append(v)
        }
        self.directions = directions
    }

    /// Point `index` as 32-bit fractions: coordinate d is `point(index)[d]` / 2³².
    public func bits(_ index: UInt32) -> [UInt32] {
        let gray = index ^ (index >> 1)
        return directions.map { v in
            (0..<32).reduce(UInt32(0)) { x, bit in gray >> bit & 1 == 1 ? x ^ v[bit] : x }
        }
    }

    /// Point `index`, each coordinate in [0, 1).
    public func point(_ index: UInt32) -> [Double] {
        bits(index).map { Double($0) * 0x1p-32 }
    }
}
