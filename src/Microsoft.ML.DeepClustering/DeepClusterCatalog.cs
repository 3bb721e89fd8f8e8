namespace Microsoft.ML.DeepClustering;

/// <summary>Adds <c>DeepCluster</c> to <c>mlContext.Transforms</c>.</summary>
public static class DeepClusterCatalog
{
    /// <summary>
    /// Clusters the rows of <see cref="DeepClusterOptions.FeatureColumnName"/> with deep embedded clustering (DEC):
    /// an autoencoder learns an embedding, a seeding (k-means, or spectral clustering or UMAP along its manifold;
    /// <see cref="DeepClusterOptions.Seeding"/>) places K centroids in it, and self-training sharpens both.
    /// </summary>
    /// <param name="catalog">The transforms catalog of an <see cref="MLContext"/>.</param>
    /// <param name="options">Options; see <see cref="DeepClusterOptions"/> for what each does and its default.</param>
    public static DeepClusterEstimator DeepCluster(this TransformsCatalog catalog, DeepClusterOptions options)
        => new(catalog, options);

    /// <summary>DEC with the default options, on the given column and number of clusters.</summary>
    /// <param name="catalog">The transforms catalog of an <see cref="MLContext"/>.</param>
    /// <param name="featureColumnName">A known-size vector of Single, such as the output of ExtractPixels.</param>
    /// <param name="numberOfClusters">K, at least 2.</param>
    public static DeepClusterEstimator DeepCluster(this TransformsCatalog catalog, string featureColumnName = "Features", int numberOfClusters = 10)
        => new(catalog, new DeepClusterOptions { FeatureColumnName = featureColumnName, NumberOfClusters = numberOfClusters });
}
