using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Seeding;

/// <summary>
/// DEC's seeding: k-means on the embedding itself (<see cref="KMeans"/>), restarted
/// <see cref="DeepClusterOptions.KMeansInitializations"/> times. Nothing to prepare: every K starts from the rows.
/// </summary>
internal sealed class KMeansSeeding(DeepClusterOptions options, SeedingContext context) : ISeeding
{
    public IPreparedSeeding Prepare(Tensor z, int largestK) => new Prepared(z, options, context);

    private sealed class Prepared(Tensor z, DeepClusterOptions options, SeedingContext context) : IPreparedSeeding
    {
        public SeedingResult Cluster(int k)
        {
            var result = KMeans.Run(z, k, options.KMeansInitializations, options.KMeansMaxIterations, context,
                KMeans.SampleRowsFor(options, z.shape[0], k));
            return result with { Assignments = KMeans.Assign(z, result.Centroids) };
        }

        public void Dispose() { }
    }
}
