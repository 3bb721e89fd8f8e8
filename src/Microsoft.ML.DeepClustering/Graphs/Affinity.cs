using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Graphs;

/// <summary>Weighted, symmetric graphs built from neighbour lists, and their normalisation for spectral methods.</summary>
internal static class Affinity
{
    /// <summary>
    /// The self-tuning affinity of Zelnik-Manor and Perona (2004) on a k-nearest-neighbour graph,
    /// w_ij = exp(−d²_ij / (σ_i σ_j)) with σ_i the distance to row i's (k/2)-th neighbour, symmetrised as
    /// W = (A + Aᵀ)/2. Returned as entries in both directions (from, to, value): a pair that are each other's
    /// neighbours appears twice, and sparse products add duplicates, so it gets its full weight.
    /// </summary>
    /// <param name="squaredDistances">[N, k] squared distances to each row's neighbours, nearest first.</param>
    /// <param name="indices">[N, k] (int64) the neighbours.</param>
    public static (Tensor From, Tensor To, Tensor Values) SelfTuning(Tensor squaredDistances, Tensor indices)
    {
        long n = squaredDistances.shape[0];
        int k = (int)squaredDistances.shape[1];
        var sigma = squaredDistances[.., Math.Max(0, k / 2 - 1)].sqrt().clamp_min(1e-8);
        var rows = arange(n, device: squaredDistances.device).unsqueeze(1).expand(n, k).reshape(-1);
        var cols = indices.reshape(-1);
        var weights = (-squaredDistances.reshape(-1) / (sigma[rows] * sigma[cols])).exp();
        return (cat(new[] { rows, cols }), cat(new[] { cols, rows }), cat(new[] { weights, weights }) / 2);
    }

    /// <summary>
    /// S = D^(−1/2) W D^(−1/2) as a sparse [n, n] matrix, W given as entries (from, to, value) in both directions
    /// (duplicates add up) and D its row sums; a row without edges gets degree 1e-12 rather than a division by zero.
    /// Its leading eigenvectors are the smoothest functions on the graph (<see cref="LeadingEigenvectors"/>).
    /// </summary>
    public static Tensor Normalised(Tensor from, Tensor to, Tensor values, long n)
    {
        var degree = zeros(n, device: values.device).index_add_(0, from, values, 1).clamp_min(1e-12);
        var invSqrt = degree.rsqrt();
        return sparse_coo_tensor(stack(new[] { from, to }), values * invSqrt[from] * invSqrt[to], new[] { n, n });
    }

    /// <summary><see cref="Normalised(Tensor, Tensor, Tensor, long)"/> of an undirected graph given with each edge once.</summary>
    public static Tensor Normalised(WeightedGraph graph, long n)
    {
        var from = tensor(graph.From.Concat(graph.To).Select(i => (long)i).ToArray());
        var to = tensor(graph.To.Concat(graph.From).Select(i => (long)i).ToArray());
        var values = tensor(graph.Weights.Concat(graph.Weights).ToArray());
        return Normalised(from, to, values, n);
    }
}
