using Microsoft.ML.DeepClustering.Graphs;
using Microsoft.ML.DeepClustering.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Seeding;

/// <summary>
/// Manifold-aware seeding, in the spirit of N2D (McConville et al. 2019), which clusters an autoencoder's embedding
/// along its manifold instead of with k-means' round clusters. We use spectral clustering of the k-nearest-neighbour
/// graph (Ng, Jordan and Weiss 2002, with the self-tuning affinities of Zelnik-Manor and Perona 2004), then start DEC
/// from the mean embedding of each spectral cluster. Unlike N2D's UMAP + GMM, the fitted model stays "encoder +
/// centroids", so new rows are scored by the same ONNX graph.
/// </summary>
internal sealed class SpectralSeeding(DeepClusterOptions options, SeedingContext context) : ISeeding
{
    /// <summary>Steps 1–3 for the largest K: its <see cref="EigenvectorCount"/> leading eigenvectors, whose leading columns serve every smaller K.</summary>
    public IPreparedSeeding Prepare(Tensor z, int largestK) => new Eigenvectors(z, EigenvectorsOf(z, EigenvectorCount(options, largestK)), options, context);

    /// <summary>
    /// The eigenvectors k-means runs on for <paramref name="k"/> clusters: <see cref="DeepClusterOptions.SpectralEigenvectors"/>,
    /// or K + ⌊K/5⌋ when it is 0. The count never falls as K grows, so the largest K's eigenvectors hold every smaller K's.
    /// </summary>
    internal static int EigenvectorCount(DeepClusterOptions options, int k) =>
        options.SpectralEigenvectors > 0 ? options.SpectralEigenvectors : k + k / 5;

    /// <summary>Steps 1–3: the <paramref name="count"/> leading eigenvectors of the embedding's normalised neighbour graph, columns in ascending order of eigenvalue.</summary>
    private Tensor EigenvectorsOf(Tensor z, int count)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long n = z.shape[0];
        int neighbours = (int)Math.Min(options.SpectralNeighbors, n - 1);
        using var scope = NewDisposeScope();
        if (n >= options.ApproximateNeighboursFromRows)
            return ApproximateEigenvectorsOf(z, count, neighbours, clock).MoveToOuterDisposeScope();
        // 1. k nearest neighbours of every row (itself excluded).
        var (distances, indices) = NearestNeighbours.Exact(z, neighbours, context.Cancellation);
        // 2. Self-tuning affinity, symmetrised.
        var (from, to, values) = Affinity.SelfTuning(distances, indices);
        // 3. S = D^(-1/2) W D^(-1/2) and its leading eigenvectors (see DeepClusterOptions.SpectralEigenvectors).
        var s = Affinity.Normalised(from, to, values, n);
        var vectors = LeadingEigenvectors.Of(s, n, (int)Math.Min(count, n), options.SpectralIterations, context.Generator, context.Cancellation);
        context.Log($"Spectral seeding: {vectors.shape[1]} leading eigenvectors of the {neighbours}-NN graph of {n} rows in {clock.Elapsed.TotalSeconds:F1} s.");
        return vectors.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Steps 1–3 from <see cref="NearestNeighbours.ApproximateFromRows"/> rows: the same graph and affinity from
    /// NN-descent's neighbours, and its leading eigenvectors by Chebyshev-filtered subspace iteration, in memory that
    /// grows with the rows (the exact search is quadratic, and the block Krylov basis holds hundreds of columns).
    /// Both take their seeds from the Fit's seed, so the result depends on it alone, whatever the threads.
    /// </summary>
    private Tensor ApproximateEigenvectorsOf(Tensor z, int count, int neighbours, System.Diagnostics.Stopwatch clock)
    {
        int n = (int)z.shape[0];
        var (s, searched) = ApproximateAffinity(z, neighbours, clock);
        // The affinity's garbage would otherwise stay resident under the eigensolver's blocks.
        ManagedHeap.ReturnGarbage();
        var vectors = ChebyshevEigensolver.LeadingEigenvectors(s, Math.Min(count, n), 2 * options.SpectralIterations, context.SeedFor(2), context.Cancellation);
        context.Log($"Spectral seeding: {vectors.shape[1]} leading eigenvectors of the approximate {neighbours}-NN graph (NN-descent) of {n} rows " +
            $"in {clock.Elapsed.TotalSeconds:F1} s ({searched:F1} s for the neighbours).");
        return vectors.to(z.device);
    }

    /// <summary>NN-descent's neighbours of every row and their self-tuning affinity; returns the seconds the search took.</summary>
    private (SparseMatrix Affinity, double SearchSeconds) ApproximateAffinity(Tensor z, int neighbours, System.Diagnostics.Stopwatch clock)
    {
        var (distances, indices) = NearestNeighbours.Approximate(z, neighbours, context.SeedFor(1), context.Cancellation);
        double searched = clock.Elapsed.TotalSeconds;
        // The search's candidate lists and trees are garbage now; the affinity's arrays would otherwise pile on them.
        ManagedHeap.ReturnGarbage();
        return (SparseMatrix.SelfTuningAffinity((int)z.shape[0], neighbours, distances, indices), searched);
    }

    /// <summary>The graph's leading eigenvectors [N, count], the leading one last, for the embedding <paramref name="z"/>.</summary>
    private sealed class Eigenvectors(Tensor z, Tensor vectors, DeepClusterOptions options, SeedingContext context) : IPreparedSeeding
    {
        /// <summary>Steps 4–5: k-means++ on the leading <see cref="EigenvectorCount"/> eigenvectors for this K, then the mean embedding per cluster.</summary>
        public SeedingResult Cluster(int k)
        {
            long available = vectors.shape[1];
            long count = Math.Min(EigenvectorCount(options, k), available);
            using var scope = NewDisposeScope();
            var basis = vectors.narrow(1, available - count, count);
            // 4. Rows normalised to the unit sphere, then k-means++ with restarts on them (K clusters, whatever the vectors).
            var spectral = basis / basis.norm(1, keepdim: true).clamp_min(1e-12);
            // 5. Centroids in the embedding space: the mean z of each spectral cluster.
            var clustering = KMeans.In(spectral, z, k, options.KMeansInitializations, options.KMeansMaxIterations, context,
                $"Spectral seeding: k-means on the leading {basis.shape[1]} of them", KMeans.SampleRowsFor(options, z.shape[0], k));
            return clustering with { Centroids = clustering.Centroids.MoveToOuterDisposeScope() };
        }

        public void Dispose() => vectors.Dispose();
    }
}
