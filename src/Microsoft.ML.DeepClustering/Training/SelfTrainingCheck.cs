using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// Judges self-training in spaces it does not change. Self-training tightens clusters in its own embedding by
/// construction, so its own losses cannot tell a better partition from a confidently wrong one; the pretrained
/// embedding (the encoder as seeding saw it) and the input features can. Each partition, the seeding's and the final
/// one, gets the mean silhouette of the same sample of rows in both spaces.
/// </summary>
internal static class SelfTrainingCheck
{
    /// <summary>Silhouettes of the seeding's and the final partition, in the pretrained embedding and in the input.</summary>
    public sealed record Scores(double SeedingInEmbedding, double FinalInEmbedding, double SeedingInInput, double FinalInInput);

    /// <param name="pretrainedEmbedding">z [N, E] of the pretrained encoder, float32.</param>
    /// <param name="x">The training rows [N, D].</param>
    /// <param name="seeding">Every row's cluster after seeding.</param>
    /// <param name="final">Every row's cluster under the model self-training left.</param>
    /// <param name="numberOfClusters">K.</param>
    /// <param name="sample">Row indices the silhouettes are computed on (<see cref="ClusterCountCriteria.SilhouetteSample"/>).</param>
    public static Scores Measure(Tensor pretrainedEmbedding, Tensor x, int[] seeding, int[] final, int numberOfClusters, int[] sample)
    {
        using var scope = NewDisposeScope();
        using var index = tensor(sample.Select(i => (long)i).ToArray()).to(x.device);
        var embedding = Distances(pretrainedEmbedding.index_select(0, index));
        var input = Distances(x.index_select(0, index).to(float32));
        int[] Pick(int[] labels) => sample.Select(i => labels[i]).ToArray();
        return new Scores(
            ClusterCountCriteria.Silhouette(embedding, Pick(seeding), numberOfClusters),
            ClusterCountCriteria.Silhouette(embedding, Pick(final), numberOfClusters),
            ClusterCountCriteria.Silhouette(input, Pick(seeding), numberOfClusters),
            ClusterCountCriteria.Silhouette(input, Pick(final), numberOfClusters));
    }

    /// <summary>
    /// The final partition is clearly worse when its silhouette in the pretrained embedding falls more than
    /// <paramref name="margin"/> below the seeding's. The input's silhouettes are reported, not used: on pixels they
    /// fell by a quarter on MNIST too, where self-training helped, so they did not tell the cases apart.
    /// </summary>
    public static bool IsClearlyWorse(Scores scores, double margin) => scores.FinalInEmbedding < scores.SeedingInEmbedding - margin;

    private static float[] Distances(Tensor rows)
    {
        using var d = cdist(rows, rows).cpu();
        return d.data<float>().ToArray();
    }
}
