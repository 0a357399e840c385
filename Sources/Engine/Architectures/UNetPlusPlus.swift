/// U-Net++ (Zhou et al., 2018): nested dense skip paths. Node X(i,j) at level i and column j is
/// `doubleConv(concat(X(i,0), ..., X(i,j-1), up(X(i+1,j-1))))`; X(i,0) is the encoder.
/// With deep supervision, every top-row node X(0,j), j = 1...depth, gets a 1x1 head ("head1"...);
/// the runtime averages their probabilities (accurate mode), and `Graph.keepingOutputs(["headK"])`
/// exports fast mode, pruning every node that head K does not need. Without it, only X(0,depth) has a head.
enum UNetPlusPlus {
    static func build(_ b: BlockBuilder) {
        let c = b.config
        let input = b.input()
        // grid[i][j] = X(i,j)
        var grid: [[Value]] = Array(repeating: [], count: c.depth + 1)
        var x = input
        for level in 0...c.depth {
            if level > 0 { x = b.pool(grid[level - 1][0], name: "pool\(level)") }
            grid[level].append(b.doubleConv(x, c.width(level), name: "x\(level)_0"))
        }
        for column in 1...c.depth {
            for level in 0...(c.depth - column) {
                let up = b.up(grid[level + 1][column - 1], c.width(level), name: "x\(level)_\(column)")
                let cat = b.g.concat(grid[level] + [up], name: "x\(level)_\(column).cat")
                grid[level].append(b.doubleConv(cat, c.width(level), name: "x\(level)_\(column)"))
            }
        }
        if c.deepSupervision {
            for column in 1...c.depth { b.g.output("head\(column)", b.head(grid[0][column], name: "head\(column)")) }
        } else {
            b.g.output("logits", b.head(grid[0][c.depth]))
        }
    }
}
