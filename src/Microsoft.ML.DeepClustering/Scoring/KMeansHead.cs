using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace Microsoft.ML.DeepClustering.Scoring;

/// <summary>
/// ML.NET's own k-means model holding our centroids: the last step of the scoring chain.
/// <see cref="KMeansModelParameters"/> has no public constructor, so we let ML.NET's trainer build it from exactly the
/// K centroids as its K training rows: k-means++ over K distinct points picks each of them once (a picked point has
/// D² = 0 and is never drawn again), and one Lloyd step leaves each centroid on its own point. The trainer numbers
/// the clusters in its own order, which we read back and adopt.
/// </summary>
internal static class KMeansHead
{
    public static KMeansTrainer Estimator(int numberOfClusters, string embeddingColumnName) =>
        // A private context: the construction is deterministic and logs nothing into the user's context.
        new MLContext(seed: 0).Clustering.Trainers.KMeans(new KMeansTrainer.Options
        {
            FeatureColumnName = embeddingColumnName,
            NumberOfClusters = numberOfClusters,
            InitializationAlgorithm = KMeansTrainer.InitializationAlgorithm.KMeansPlusPlus,
            MaximumNumberOfIterations = 1,
            NumberOfThreads = 1,
        });

    /// <summary>
    /// The type ApplyOnnxModel gives the embedding column: ML.NET keeps an ONNX output's batch dimension as a 1, so a
    /// [batch, E] output becomes Vector&lt;Single, 1, E&gt;; ML.NET's k-means scorer requires exactly its training type.
    /// </summary>
    public static VectorDataViewType EmbeddingColumnType(int embeddingDimension) =>
        new(NumberDataViewType.Single, 1, embeddingDimension);

    /// <returns>The transformer, and <c>order</c> such that its cluster i is our cluster order[i].</returns>
    public static (ClusteringPredictionTransformer<KMeansModelParameters> Transformer, int[] Order) Build(float[][] centroids, string embeddingColumnName)
    {
        int k = centroids.Length, e = centroids[0].Length;
        CheckDistinct(centroids);
        var context = new MLContext(seed: 0);
        var definition = SchemaDefinition.Create(typeof(CentroidRow));
        var column = definition[nameof(CentroidRow.Embedding)];
        column.ColumnName = embeddingColumnName;
        column.ColumnType = EmbeddingColumnType(e);
        var rows = context.Data.LoadFromEnumerable(centroids.Select(c => new CentroidRow { Embedding = (float[])c.Clone() }), definition);
        var transformer = Estimator(k, embeddingColumnName).Fit(rows);

        VBuffer<float>[] theirs = Array.Empty<VBuffer<float>>();
        transformer.Model.GetClusterCentroids(ref theirs, out int theirK);
        if (theirK != k)
            throw new InvalidOperationException($"Internal error: ML.NET's k-means model holds {theirK} centroids instead of {k}.");
        var order = new int[k];
        var used = new bool[k];
        for (int i = 0; i < k; i++)
        {
            var values = theirs[i].DenseValues().ToArray();
            int match = Enumerable.Range(0, k).Where(j => !used[j]).MinBy(j => CentroidSeparation.SquaredDistance(values, centroids[j]));
            double error = CentroidSeparation.SquaredDistance(values, centroids[match]);
            double scale = Math.Max(1e-12, CentroidSeparation.SquaredNorm(centroids[match]));
            if (error > 1e-10 * scale)
                throw new InvalidOperationException($"Internal error: ML.NET's k-means model moved centroid {match} (squared shift {error:G3}).");
            used[match] = true;
            order[i] = match;
        }
        return (transformer, order);
    }

    private static void CheckDistinct(float[][] centroids)
    {
        if (CentroidSeparation.IndistinctPair(centroids) is var (i, j, distance, norms))
            throw new InvalidOperationException(
                $"Clusters {i + 1} and {j + 1} collapsed onto the same centroid (squared distance {distance:G3} against squared norms {norms:G3}), " +
                "so the model cannot tell them apart. Train with fewer clusters, a lower SelfTrainingLearningRate, or MaxIterations = 0 (autoencoder + k-means).");
    }

    private sealed class CentroidRow
    {
        public float[] Embedding { get; set; } = Array.Empty<float>();
    }
}
