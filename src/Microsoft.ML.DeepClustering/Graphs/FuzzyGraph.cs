namespace Microsoft.ML.DeepClustering.Graphs;

/// <summary>
/// UMAP's fuzzy simplicial set (McInnes, Healy and Melville 2018, umap-learn's <c>fuzzy_simplicial_set</c>): the
/// graph UMAP seeding lays out and choosing K by modularity partitions.
/// </summary>
internal static class FuzzyGraph
{
    /// <summary>
    /// The fuzzy graph of <paramref name="z"/>'s <paramref name="neighbours"/> nearest neighbours (see
    /// <see cref="FromNeighbours"/>): exact, or from <paramref name="approximateFromRows"/> rows
    /// (<see cref="NearestNeighbours.ApproximateFromRows"/> by default) NN-descent's with <paramref name="seed"/>.
    /// </summary>
    public static WeightedGraph Of(TorchSharp.torch.Tensor z, int neighbours, ulong seed, CancellationToken cancellation,
        int approximateFromRows = NearestNeighbours.ApproximateFromRows)
    {
        int n = (int)z.shape[0];
        neighbours = Math.Min(neighbours, n - 1);
        var (distances, indices) = n >= approximateFromRows
            ? ApproximateLists(z, neighbours, seed, cancellation)
            : NearestNeighbours.ExactLists(z, neighbours, cancellation);
        return FromNeighbours(distances, indices, n, neighbours);
    }

    private static (float[] Distances, long[] Indices) ApproximateLists(TorchSharp.torch.Tensor z, int neighbours, ulong seed, CancellationToken cancellation)
    {
        var (squared, indices) = NearestNeighbours.Approximate(z, neighbours, seed, cancellation);
        return (squared.Select(MathF.Sqrt).ToArray(), indices.Select(i => (long)i).ToArray());
    }

    /// <summary>
    /// UMAP's fuzzy simplicial set. Row i's membership of neighbour j is exp(−(d_ij − ρ_i)/σ_i), with ρ_i the distance
    /// to its nearest neighbour (so every row is fully connected to at least one other) and σ_i set by bisection so
    /// that the memberships sum to log₂(k): each row sees a neighbourhood of the same size whatever the local density.
    /// The two directions combine as a fuzzy union, w = a + b − a·b.
    /// </summary>
    public static WeightedGraph FromNeighbours(float[] distances, long[] indices, int n, int neighbours)
    {
        double target = Math.Log2(neighbours);
        double meanDistance = distances.Average(d => (double)d);
        var membership = new Dictionary<long, (float Forward, float Backward)>(n * neighbours);
        for (int i = 0; i < n; i++)
        {
            var row = new ReadOnlySpan<float>(distances, i * neighbours, neighbours);
            float rho = 0;
            foreach (float d in row)
                if (d > 0) { rho = d; break; }
            double sigma = Bandwidth(row, rho, target);
            double rowMean = 0;
            foreach (float d in row) rowMean += d;
            rowMean /= neighbours;
            // umap-learn's floor, so that a row whose neighbours all sit at ρ does not get a zero bandwidth.
            sigma = Math.Max(sigma, 1e-3 * (rho > 0 ? rowMean : meanDistance));
            for (int t = 0; t < neighbours; t++)
            {
                int j = (int)indices[i * neighbours + t];
                double excess = row[t] - rho;
                float w = excess <= 0 ? 1f : (float)Math.Exp(-excess / sigma);
                long key = Math.Min(i, j) * (long)n + Math.Max(i, j);
                membership.TryGetValue(key, out var pair);
                membership[key] = i < j ? pair with { Forward = w } : pair with { Backward = w };
            }
        }
        var from = new int[membership.Count];
        var to = new int[membership.Count];
        var weights = new float[membership.Count];
        int e = 0;
        foreach (var (key, (a, b)) in membership.OrderBy(p => p.Key))
        {
            from[e] = (int)(key / n);
            to[e] = (int)(key % n);
            weights[e] = a + b - a * b;
            e++;
        }
        return new WeightedGraph(from, to, weights);
    }

    /// <summary>The σ at which Σ_j exp(−max(0, d_j − ρ)/σ) = target, by bisection (umap-learn's smooth_knn_dist).</summary>
    public static double Bandwidth(ReadOnlySpan<float> row, float rho, double target)
    {
        double low = 0, high = double.PositiveInfinity, mid = 1;
        for (int step = 0; step < 64; step++)
        {
            double sum = 0;
            foreach (float d in row)
            {
                double excess = d - rho;
                sum += excess > 0 ? Math.Exp(-excess / mid) : 1;
            }
            if (Math.Abs(sum - target) < 1e-5)
                break;
            if (sum > target)
            {
                high = mid;
                mid = (low + high) / 2;
            }
            else
            {
                low = mid;
                mid = double.IsPositiveInfinity(high) ? mid * 2 : (low + high) / 2;
            }
        }
        return mid;
    }
}
