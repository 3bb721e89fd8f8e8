using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Seeding;

/// <summary>
/// A way to place K centroids in the pretrained embedding (stage 2 of a Fit). Its work splits in two: what does not
/// depend on K (nothing for k-means; the graph's eigenvectors for spectral seeding; the layout for UMAP) is
/// prepared once, and each K is then clustered from that preparation, so that choosing K over many candidates pays
/// for the costly part once.
/// </summary>
internal interface ISeeding
{
    /// <summary>The K-independent part for <paramref name="z"/>, enough for any K up to <paramref name="largestK"/>.</summary>
    /// <param name="z">The pretrained embedding [N, E] on the training device; the preparation keeps a reference, not a copy.</param>
    /// <param name="largestK">The largest K that <see cref="IPreparedSeeding.Cluster"/> will be asked for.</param>
    IPreparedSeeding Prepare(Tensor z, int largestK);
}

/// <summary>A seeding prepared for one embedding (<see cref="ISeeding.Prepare"/>).</summary>
internal interface IPreparedSeeding : IDisposable
{
    /// <summary>K centroids in the embedding's space, drawing from the Fit's generator.</summary>
    SeedingResult Cluster(int k);
}

/// <summary>
/// What a seeding needs from the Fit besides the embedding: its one generator (the source of randomness, so that a
/// seed fixes the run), cancellation, the log, progress per k-means restart (restart, restarts, inertia), and the
/// Fit's seed, from which the approximate neighbour graph and its eigensolver take theirs (<see cref="SeedFor"/>).
/// </summary>
internal sealed record SeedingContext(Generator Generator, CancellationToken Cancellation, Action<string> Log, Action<int, int, double> ReportRestart, int Seed = 0)
{
    /// <summary>
    /// A seed for one purpose, derived from the Fit's seed rather than drawn from the generator: the large-data
    /// blocks (NN-descent, the Chebyshev eigensolver) run only above a row threshold, and drawing for them would
    /// shift every later draw of the generator.
    /// </summary>
    public ulong SeedFor(ulong purpose) => ((ulong)(uint)Seed + 1) * 0x9E3779B97F4A7C15UL ^ purpose * 0xBF58476D1CE4E5B9UL;
}

/// <summary>
/// A seeding's outcome: the centroids [K, E] (the caller disposes them); the k-means inertias, of the best restart and of
/// each, in the space k-means ran in; each row's nearest centroid in the embedding (Assignments); and the Partition,
/// the rows' clusters as the seeding found them where they differ from the nearest centroid's (the manifold seedings
/// partition a graph or a layout, then average the embedding per cluster), null for k-means.
/// </summary>
internal sealed record SeedingResult(Tensor Centroids, double Inertia, List<double> Inertias, int BestRestart, int[] Assignments, int[]? Partition = null);
