using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Networks;

/// <summary>
/// DEC's clustering layer. q_ij = (1 + ‖z_i − μ_j‖²/α)^(−(α+1)/2), normalised over j: the probability that row i
/// belongs to cluster j under a Student's t kernel centred on each centroid. The ONNX exporter writes the same formula.
/// </summary>
internal static class StudentTAssignment
{
    /// <summary>Squared Euclidean distances [N, K] between rows of z [N, E] and centroids [K, E].</summary>
    public static Tensor SquaredDistances(Tensor z, Tensor centroids)
    {
        // Direct differences rather than ‖z‖² − 2 z·μ + ‖μ‖²: exact zeros and no cancellation, and what ONNX computes.
        using var diff = z.unsqueeze(1) - centroids.unsqueeze(0);
        return diff.square().sum(dim: 2);
    }

    /// <summary>Soft assignment q [N, K], rows summing to 1.</summary>
    public static Tensor SoftAssignment(Tensor squaredDistances, float alpha)
    {
        using var kernel = (squaredDistances / alpha + 1).pow(-(alpha + 1) / 2);
        return kernel / kernel.sum(dim: 1, keepdim: true);
    }

    /// <summary>DEC's target distribution: p_ij = (q_ij² / f_j) / Σ_j' (q_ij'² / f_j'), with f_j = Σ_i q_ij the soft cluster frequency.</summary>
    public static Tensor TargetDistribution(Tensor q)
    {
        using var frequency = q.sum(dim: 0);
        using var weight = q.square() / frequency;
        return weight / weight.sum(dim: 1, keepdim: true);
    }
}
