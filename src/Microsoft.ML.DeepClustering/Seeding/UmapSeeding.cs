using Microsoft.ML.DeepClustering.Graphs;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Seeding;

/// <summary>
/// N2D's manifold step (McConville et al. 2019) as a seeding: a UMAP layout (McInnes, Healy and Melville 2018) of the
/// pretrained embedding in a few dimensions, k-means++ with restarts on the layout, then the mean embedding of each
/// cluster as DEC's centroid. UMAP pulls each row towards its nearest neighbours and pushes it from random rows, so
/// classes that lie on curved, touching sheets in the embedding come apart in the layout where k-means' round clusters
/// cut across them. The layout is only used to partition the training rows: the model stays encoder + centroids and
/// scores new rows through the same ONNX graph.
/// <code>
///   z [N, E] ──kNN──► fuzzy graph W ──spectral init──► layout Y [N, d] ──SGD (attract edges, repel samples)──► Y
///                                                                                     │ k-means++
///   centroids [K, E] = mean z per cluster ◄───────────────────────────────────────── labels
/// </code>
/// We follow umap-learn's defaults for clustering (N2D's settings): min_dist 0, spread 1, 5 negative samples per
/// edge, learning rate 1 decaying linearly to 0, 500 epochs up to 10,000 rows and 200 above (<see cref="UmapLayout"/>).
/// </summary>
internal sealed class UmapSeeding(DeepClusterOptions options, SeedingContext context, WeightedGraph? fuzzyGraph = null) : ISeeding
{
    /// <summary>
    /// The layout, which does not depend on K: from the fuzzy graph given at construction when the caller already
    /// built it (choosing K by modularity does), else from the embedding's own.
    /// </summary>
    public IPreparedSeeding Prepare(Tensor z, int largestK)
    {
        int n = (int)z.shape[0];
        var graph = fuzzyGraph ?? FuzzyGraph.Of(z, options.UmapNeighbors, context.SeedFor(3), context.Cancellation, options.ApproximateNeighboursFromRows);
        var (coordinates, dimensions) = UmapLayout.Of(graph, n, options.UmapDimensions, options.UmapEpochs, context);
        return new Layout(z, coordinates, dimensions, options, context);
    }

    /// <summary>A layout of the embedding <paramref name="z"/>: row-major coordinates [N, dimensions].</summary>
    private sealed class Layout(Tensor z, float[] coordinates, int dimensions, DeepClusterOptions options, SeedingContext context) : IPreparedSeeding
    {
        /// <summary>k-means++ with restarts on the layout, then the mean embedding per cluster.</summary>
        public SeedingResult Cluster(int k)
        {
            long n = z.shape[0];
            using var scope = NewDisposeScope();
            var y = tensor(coordinates, new[] { n, (long)dimensions }).to(z.device);
            var clustering = KMeans.In(y, z, k, options.KMeansInitializations, options.KMeansMaxIterations, context,
                $"UMAP seeding: {dimensions}-d layout of the {Math.Min(options.UmapNeighbors, n - 1)}-NN graph of {n} rows", KMeans.SampleRowsFor(options, n, k));
            return clustering with { Centroids = clustering.Centroids.MoveToOuterDisposeScope() };
        }

        public void Dispose() { }
    }
}
