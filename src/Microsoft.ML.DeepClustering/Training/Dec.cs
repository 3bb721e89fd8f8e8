using Microsoft.ML.DeepClustering.Graphs;
using Microsoft.ML.DeepClustering.Networks;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// DEC's mathematics (Xie, Girshick and Farhadi 2016, §3.1), in the order the paper gives it: the soft assignment q
/// of every row to every centroid, the target distribution P derived from q, and the loss KL(P‖Q) that self-training
/// minimises. <see cref="SelfTraining"/> decides when each is computed; the ONNX exporter writes the same q.
/// Tests: DecTests (hand-computed values).
/// </summary>
internal static class Dec
{
    /// <summary>‖z_i − μ_j‖², the squared Euclidean distances [N, K] between rows of z [N, E] and centroids μ [K, E].</summary>
    /// <remarks>Direct differences (<see cref="Distances.Squared"/>): exact zeros, no cancellation, and what ONNX computes.</remarks>
    public static Tensor SquaredDistances(Tensor z, Tensor centroids) => Distances.Squared(z, centroids);

    /// <summary>
    /// DEC's clustering layer, the Student's t soft assignment q [N, K], rows summing to 1:
    /// q_ij = (1 + ‖z_i − μ_j‖²/α)^(−(α+1)/2) / Σ_j' (1 + ‖z_i − μ_j'‖²/α)^(−(α+1)/2),
    /// the probability that row i belongs to cluster j under a t kernel with α degrees of freedom centred on each centroid.
    /// </summary>
    /// <param name="squaredDistances">‖z_i − μ_j‖² [N, K] (<see cref="SquaredDistances"/>).</param>
    /// <param name="alpha">α (<see cref="DeepClusterOptions.Alpha"/>; DEC uses 1).</param>
    public static Tensor SoftAssignment(Tensor squaredDistances, float alpha)
    {
        using var kernel = (squaredDistances / alpha + 1).pow(-(alpha + 1) / 2);
        return kernel / kernel.sum(dim: 1, keepdim: true);
    }

    /// <summary>
    /// q of every row of <paramref name="x"/> [N, D] through the encoder (<see cref="Autoencoder.Embed(Tensor)"/>), under
    /// no_grad: the full-data passes (the target P, the labels) need no graph.
    /// </summary>
    public static Tensor SoftAssignment(Autoencoder autoencoder, Tensor centroids, Tensor x, float alpha) =>
        SoftAssignment(autoencoder, centroids, TrainingRows.Resident(x), alpha);

    /// <summary>q of every training row, read a chunk at a time (<see cref="TrainingRows.Embed"/>).</summary>
    public static Tensor SoftAssignment(Autoencoder autoencoder, Tensor centroids, TrainingRows x, float alpha)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var z = x.Embed(autoencoder);
        return SoftAssignment(SquaredDistances(z, centroids), alpha).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// DEC's target distribution P [N, K] (DEC-keras' <c>target_distribution</c>): q squared, divided by the soft
    /// cluster frequency, normalised per row:
    /// p_ij = (q_ij² / f_j) / Σ_j' (q_ij'² / f_j'), with f_j = Σ_i q_ij.
    /// Squaring sharpens confident assignments; dividing by f_j keeps large clusters from absorbing the others.
    /// </summary>
    /// <param name="q">The soft assignment of every training row [N, K].</param>
    public static Tensor TargetDistribution(Tensor q)
    {
        using var frequency = q.sum(dim: 0);
        using var weight = q.square() / frequency;
        return weight / weight.sum(dim: 1, keepdim: true);
    }

    /// <summary>
    /// The self-training loss, KL(P‖Q) averaged over the B rows of a mini-batch, as Keras' KLD loss averages:
    /// L = (1/B) Σ_i Σ_j p_ij log(p_ij / q_ij).
    /// </summary>
    /// <param name="q">Soft assignment of the batch [B, K], with gradient.</param>
    /// <param name="p">The frozen target of the same rows [B, K].</param>
    public static Tensor KLDivergence(Tensor q, Tensor p)
    {
        // kl_div takes log q and p; with Reduction.Sum it gives Σ p (log p − log q) (0 where p = 0).
        using var logQ = q.log();
        using var sum = nn.functional.kl_div(logQ, p, log_target: false, reduction: nn.Reduction.Sum);
        return sum / q.shape[0];
    }
}
