using Microsoft.ML.DeepClustering.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Graphs;

/// <summary>Squared Euclidean distances between the rows of an embedding and a few centres, in the two forms the library needs.</summary>
internal static class Distances
{
    /// <summary>Values in one [rows, K, E] difference block of <see cref="Squared"/>: 32 MB of float32.</summary>
    internal const long BlockValues = 1L << 23;

    /// <summary>
    /// ‖z_i − μ_j‖², the squared Euclidean distances [N, K] between rows of z [N, E] and centres μ [K, E]. The
    /// differences are formed for blocks of rows (<see cref="BlockValues"/> values at a time), so that a million rows
    /// need the [N, K] result and one block, not an [N, K, E] tensor; each row's sum is the same either way.
    /// </summary>
    public static Tensor Squared(Tensor z, Tensor centres)
    {
        long block = Math.Max(1, BlockValues / Math.Max(1, centres.shape[0] * centres.shape[1]));
        return TorchRuntime.RowsInChunks(z.shape[0], block, (start, rows) => SquaredBlock(z.narrow(0, start, rows), centres));
    }

    private static Tensor SquaredBlock(Tensor z, Tensor centres)
    {
        // Direct differences rather than ‖z‖² − 2 z·μ + ‖μ‖²: exact zeros and no cancellation, and what ONNX computes.
        using var diff = z.unsqueeze(1) - centres.unsqueeze(0);
        using var squares = diff.square();
        return squares.sum(dim: 2);
    }

    /// <summary>
    /// Squared distances [N, K] as ‖z‖² − 2 z·μᵀ + ‖μ‖², clamped at 0: one small matrix product instead of an
    /// [N, K, E] difference tensor, for the passes that only compare distances (k-means' assignments). The rounding
    /// of the expansion (relative 1e-7 of ‖z‖²) cannot move an assignment that matters; q, which training
    /// differentiates and ONNX reproduces, keeps the direct differences (<see cref="Squared"/>).
    /// </summary>
    /// <param name="z">Rows [N, E].</param>
    /// <param name="squaredNorms">‖z_i‖² [N, 1], computed once by the caller for many calls.</param>
    /// <param name="centres">Centres [K, E].</param>
    public static Tensor SquaredByProducts(Tensor z, Tensor squaredNorms, Tensor centres)
    {
        using var products = z.mm(centres.t());
        using var centreNorms = centres.square().sum(dim: 1).unsqueeze(0);
        var distances = squaredNorms + centreNorms;
        // In place on the result: add_ and clamp_min_ return the same tensor, which the caller owns.
        distances.add_(products, alpha: -2).clamp_min_(0);
        return distances;
    }
}
