namespace Microsoft.ML.DeepClustering.Seeding;

/// <summary>The seeding <see cref="DeepClusterOptions.Seeding"/> names, with its settings from the options.</summary>
internal static class Seedings
{
    /// <param name="options">Read for the seeding's own settings (restarts, neighbours, …), never for K.</param>
    /// <param name="context">The Fit's generator, cancellation, log and progress.</param>
    /// <param name="fuzzyGraph">UMAP's fuzzy graph of the embedding when the caller already built it (choosing K by modularity reads the same graph), or null.</param>
    public static ISeeding Create(DeepClusterOptions options, SeedingContext context, Graphs.WeightedGraph? fuzzyGraph = null) => options.Seeding switch
    {
        SeedingMethod.Spectral => new SpectralSeeding(options, context),
        SeedingMethod.Umap => new UmapSeeding(options, context, fuzzyGraph),
        SeedingMethod.KMeans => new KMeansSeeding(options, context),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Seeding, $"Unknown Seeding {options.Seeding}."),
    };
}
