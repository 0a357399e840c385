/// One Winograd algorithm F(m x m, 3 x 3): output tiles of m x m from input tiles of
/// alpha x alpha (alpha = m + 2), with the transform matrices B^T, G and A^T.
///
///     Y = A^T [ (G g G^T) (.) (B^T d B) ] A
///
/// The matrices are kept as data (row-major) and expanded at plan time into lists of nonzero
/// terms, so one transform routine serves all three sizes.
public struct WinogradVariant: Hashable, Sendable {
    public let m: Int
    public var alpha: Int { m + 2 }
    public var name: String { "winograd-f\(m)" }
    /// alpha x alpha
    let bt: [Double]
    /// alpha x 3
    let g: [Double]
    /// m x alpha
    let at: [Double]

    public static func == (a: WinogradVariant, b: WinogradVariant) -> Bool { a.m == b.m }
    public func hash(into hasher: inout Hasher) { hasher.combine(m) }

    /// F(2x2, 3x3), interpolation points 0, 1, -1, inf.
    ///
    ///     B^T = | 1  0 -1  0 |    G = |  1    0    0  |    A^T = | 1  1  1  0 |
    ///           | 0  1  1  0 |        | 1/2  1/2  1/2 |          | 0  1 -1 -1 |
    ///           | 0 -1  1  0 |        | 1/2 -1/2  1/2 |
    ///           | 0  1  0 -1 |        |  0    0    1  |
    public static let f2 = WinogradVariant(
        m: 2,
        bt: [1, 0, -1, 0,
             0, 1, 1, 0,
             0, -1, 1, 0,
             0, 1, 0, -1],
        g: [1, 0, 0,
            0.5, 0.5, 0.5,
            0.5, -0.5, 0.5,
            0, 0, 1],
        at: [1, 1, 1, 0,
             0, 1, -1, -1])

    /// F(4x4, 3x3), interpolation points 0, 1, -1, 2, -2, inf (Lavin and Gray).
    ///
    ///     B^T = | 4  0 -5  0  1  0 |   G = |  1/4     0     0   |   A^T = | 1  1  1  1  1  0 |
    ///           | 0 -4 -4  1  1  0 |       | -1/6  -1/6  -1/6  |         | 0  1 -1  2 -2  0 |
    ///           | 0  4 -4 -1  1  0 |       | -1/6   1/6  -1/6  |         | 0  1  1  4  4  0 |
    ///           | 0 -2 -1  2  1  0 |       | 1/24  1/12   1/6  |         | 0  1 -1  8 -8  1 |
    ///           | 0  2 -1 -2  1  0 |       | 1/24 -1/12   1/6  |
    ///           | 0  4  0 -5  0  1 |       |   0     0     1   |
    public static let f4 = WinogradVariant(
        m: 4,
        bt: [4, 0, -5, 0, 1, 0,
             0, -4, -4, 1, 1, 0,
             0, 4, -4, -1, 1, 0,
             0, -2, -1, 2, 1, 0,
             0, 2, -1, -2, 1, 0,
             0, 4, 0, -5, 0, 1],
        g: [1.0 / 4, 0, 0,
            -1.0 / 6, -1.0 / 6, -1.0 / 6,
            -1.0 / 6, 1.0 / 6, -1.0 / 6,
            1.0 / 24, 1.0 / 12, 1.0 / 6,
            1.0 / 24, -1.0 / 12, 1.0 / 6,
            0, 0, 1],
        at: [1, 1, 1, 1, 1, 0,
             0, 1, -1, 2, -2, 0,
             0, 1, 1, 4, 4, 0,
             0, 1, -1, 8, -8, 1])

    /// F(6x6, 3x3), interpolation points 0, 1, -1, 2, -2, 1/2, -1/2, inf.
    ///
    ///     B^T = | 1   0  -21/4    0    21/4    0   -1  0 |   A^T = | 1  1  1   1    1    1     1    0 |
    ///           | 0   1    1   -17/4  -17/4   1    1  0 |         | 0  1 -1   2   -2   1/2  -1/2   0 |
    ///           | 0  -1    1    17/4  -17/4  -1    1  0 |         | 0  1  1   4    4   1/4   1/4   0 |
    ///           | 0  1/2  1/4   -5/2   -5/4   2    1  0 |         | 0  1 -1   8   -8   1/8  -1/8   0 |
    ///           | 0 -1/2  1/4    5/2   -5/4  -2    1  0 |         | 0  1  1  16   16  1/16  1/16   0 |
    ///           | 0   2    4    -5/2    -5   1/2   1  0 |         | 0  1 -1  32  -32  1/32 -1/32   1 |
    ///           | 0  -2    4     5/2    -5  -1/2   1  0 |
    ///           | 0  -1    0    21/4     0  -21/4  0  1 |
    ///
    ///     G = | 1, 0, 0 | -2/9 (1, 1, 1) | -2/9 (1, -1, 1) | (1/90, 1/45, 2/45) | (1/90, -1/45, 2/45) |
    ///         (32/45, 16/45, 8/45) | (32/45, -16/45, 8/45) | (0, 0, 1)
    public static let f6 = WinogradVariant(
        m: 6,
        bt: [1, 0, -21.0 / 4, 0, 21.0 / 4, 0, -1, 0,
             0, 1, 1, -17.0 / 4, -17.0 / 4, 1, 1, 0,
             0, -1, 1, 17.0 / 4, -17.0 / 4, -1, 1, 0,
             0, 0.5, 0.25, -2.5, -1.25, 2, 1, 0,
             0, -0.5, 0.25, 2.5, -1.25, -2, 1, 0,
             0, 2, 4, -2.5, -5, 0.5, 1, 0,
             0, -2, 4, 2.5, -5, -0.5, 1, 0,
             0, -1, 0, 21.0 / 4, 0, -21.0 / 4, 0, 1],
        g: [1, 0, 0,
            -2.0 / 9, -2.0 / 9, -2.0 / 9,
            -2.0 / 9, 2.0 / 9, -2.0 / 9,
            1.0 / 90, 1.0 / 45, 2.0 / 45,
            1.0 / 90, -1.0 / 45, 2.0 / 45,
            32.0 / 45, 16.0 / 45, 8.0 / 45,
            32.0 / 45, -16.0 / 45, 8.0 / 45,
            0, 0, 1],
        at: [1, 1, 1, 1, 1, 1, 1, 0,
             0, 1, -1, 2, -2, 0.5, -0.5, 0,
             0, 1, 1, 4, 4, 0.25, 0.25, 0,
             0, 1, -1, 8, -8, 0.125, -0.125, 0,
             0, 1, 1, 16, 16, 1.0 / 16, 1.0 / 16, 0,
             0, 1, -1, 32, -32, 1.0 / 32, -1.0 / 32, 1])

    public static let all: [WinogradVariant] = [f2, f4, f6]
}

/// The nonzero terms of a transform matrix, row by row: row r is `terms[starts[r]..<starts[r+1]]`.
struct SparseRows {
    let starts: [Int]
    let columns: [Int]
    let coefficients: [Float]

    init(_ matrix: [Double], rows: Int, columns count: Int) {
        var starts = [0], columns: [Int] = [], coefficients: [Float] = []
        for r in 0..<rows {
            for c in 0..<count where matrix[r * count + c] != 0 {
                columns.append(c)
                coefficients.append(Float(matrix[r * count + c]))
            }
            starts.append(columns.count)
        }
        self.starts = starts
        self.columns = columns
        self.coefficients = coefficients
    }
}
