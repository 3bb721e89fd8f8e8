namespace Microsoft.ML.DeepClustering.Evaluation;

/// <summary>
/// The Hungarian (Kuhn–Munkres) algorithm for the linear assignment problem, in its O(r²·c) form with
/// dual potentials and shortest augmenting paths (r = the smaller side, c = the larger one).
/// </summary>
/// <remarks>
/// Rectangular inputs are handled directly: the algorithm assigns every row of the smaller side to a distinct
/// column of the larger side, which is the same optimum as padding the matrix with zero rows (or columns) to a
/// square and solving that, without materialising the padding.
/// </remarks>
internal static class HungarianAlgorithm
{
    /// <summary>
    /// Finds the one-to-one assignment of rows to columns that maximises the sum of the chosen weights.
    /// </summary>
    /// <param name="weights">A <c>rows × columns</c> weight matrix; need not be square.</param>
    /// <returns>
    /// For each row, the column assigned to it, or -1 when the row is left unassigned (only possible when
    /// there are more rows than columns).
    /// </returns>
    public static int[] MaximizeAssignment(long[,] weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        int rows = weights.GetLength(0);
        int cols = weights.GetLength(1);
        var rowToCol = new int[rows];
        Array.Fill(rowToCol, -1);
        if (rows == 0 || cols == 0)
            return rowToCol;

        // Maximising w is minimising -w. The solver below wants the smaller side as its rows.
        bool transpose = rows > cols;
        int n = transpose ? cols : rows;
        int m = transpose ? rows : cols;
        var cost = new long[n, m];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
                cost[i, j] = -(transpose ? weights[j, i] : weights[i, j]);

        int[] colOwner = MinimizeAssignment(cost, n, m);

        // colOwner[j] = the solver row (1-based) that owns solver column j (1-based), 0 if free.
        for (int j = 1; j <= m; j++)
        {
            int i = colOwner[j];
            if (i == 0)
                continue;
            if (transpose)
                rowToCol[j - 1] = i - 1;
            else
                rowToCol[i - 1] = j - 1;
        }
        return rowToCol;
    }

    /// <summary>
    /// Minimum-cost assignment of each of the <paramref name="n"/> rows to a distinct column, n ≤ m.
    /// Returns, for each column 1..m, the 1-based row assigned to it (0 = none); index 0 is scratch.
    /// </summary>
    private static int[] MinimizeAssignment(long[,] cost, int n, int m)
    {
        // Row potentials u[1..n], column potentials v[0..m]; the reduced cost of (i, j) is
        // cost[i, j] - u[i] - v[j] and stays >= 0 on every edge; it is 0 on the matched edges.
        var u = new long[n + 1];
        var v = new long[m + 1];
        var owner = new int[m + 1];     // owner[j]: row matched to column j (1-based), 0 = free.
        var previous = new int[m + 1];  // previous column on the current shortest alternating path.
        var minReduced = new long[m + 1];
        var visited = new bool[m + 1];
        const long Infinity = long.MaxValue / 4;

        for (int row = 1; row <= n; row++)
        {
            // Grow a shortest-path tree from the new row (put on virtual column 0) until it reaches a free column.
            owner[0] = row;
            int currentCol = 0;
            Array.Fill(minReduced, Infinity);
            Array.Fill(visited, false);

            do
            {
                visited[currentCol] = true;
                int currentRow = owner[currentCol];
                long delta = Infinity;
                int nextCol = 0;
                for (int j = 1; j <= m; j++)
                {
                    if (visited[j])
                        continue;
                    long reduced = cost[currentRow - 1, j - 1] - u[currentRow] - v[j];
                    if (reduced < minReduced[j])
                    {
                        minReduced[j] = reduced;
                        previous[j] = currentCol;
                    }
                    if (minReduced[j] < delta)
                    {
                        delta = minReduced[j];
                        nextCol = j;
                    }
                }

                // Shift the potentials so that the cheapest frontier column becomes tight.
                for (int j = 0; j <= m; j++)
                {
                    if (visited[j])
                    {
                        u[owner[j]] += delta;
                        v[j] -= delta;
                    }
                    else
                    {
                        minReduced[j] -= delta;
                    }
                }
                currentCol = nextCol;
            }
            while (owner[currentCol] != 0);

            // Flip the matching along the augmenting path back to the root.
            do
            {
                int prev = previous[currentCol];
                owner[currentCol] = owner[prev];
                currentCol = prev;
            }
            while (currentCol != 0);
        }
        return owner;
    }
}
