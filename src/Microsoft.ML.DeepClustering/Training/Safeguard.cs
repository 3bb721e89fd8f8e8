using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.DeepClustering.Networks;
using Microsoft.ML.DeepClustering.Runtime;
using Microsoft.ML.DeepClustering.Seeding;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// The self-training safeguard (<see cref="DeepClusterOptions.SelfTrainingSafeguard"/>): after self-training, Fit
/// judges whether it made the seeding's partition clearly worse, reports the verdict in the history
/// (<see cref="SelfTrainingVerdict"/>), and with <see cref="SelfTrainingSafeguard.KeepBetter"/> hands out the
/// seeding's model instead. Its state, its judgement and its verdict live here.
/// <para>
/// Self-training tightens clusters in its own embedding by construction, so its own losses cannot tell a better
/// partition from a confidently wrong one; the pretrained embedding (the encoder as seeding saw it) and the input
/// features can. Each partition, the seeding's and the final one, gets the mean silhouette of the same sample of rows
/// in both spaces.
/// </para>
/// </summary>
internal static class Safeguard
{
    /// <summary>
    /// What the safeguard keeps from before self-training, which changes the encoder in place: the pretrained
    /// embedding in float32 (as the saved model scores), and, for <see cref="SelfTrainingSafeguard.KeepBetter"/>, the
    /// seeding's model in managed memory.
    /// </summary>
    public sealed class Snapshot : IDisposable
    {
        public required Tensor Embedding { get; init; }
        public IReadOnlyList<NetworkLayer>? Encoder { get; init; }
        public IReadOnlyList<NetworkLayer>? Decoder { get; init; }
        public float[][]? Centroids { get; init; }
        /// <summary>Every row's cluster under that model, as the saved model, scoring in float32, assigns it.</summary>
        public int[]? Labels { get; init; }

        public void Dispose() => Embedding.Dispose();
    }

    /// <summary>The snapshot after seeding: <paramref name="keepModel"/> when the seeding's model may be handed out.</summary>
    public static Snapshot Capture(Autoencoder autoencoder, Tensor centroids, TrainingRows x, bool keepModel)
    {
        bool bfloat16 = autoencoder.BFloat16Products;
        autoencoder.BFloat16Products = false;
        var embedding = x.Embed(autoencoder);
        autoencoder.BFloat16Products = bfloat16;
        embedding.MoveToOuterDisposeScope();
        return new Snapshot
        {
            Embedding = embedding,
            Encoder = keepModel ? autoencoder.CopyEncoder() : null,
            Decoder = keepModel ? autoencoder.CopyDecoder() : null,
            Centroids = keepModel ? TensorCopies.ToRows(centroids) : null,
            Labels = keepModel ? KMeans.Assign(embedding, centroids) : null,
        };
    }

    /// <summary>
    /// The verdict: silhouettes of the partition self-training set out from and of the final one, on
    /// <see cref="ClusterCountCriteria.SilhouetteSample"/>'s rows for <paramref name="seed"/>; KeptSeeding when the
    /// final one is clearly worse and the snapshot holds the seeding's model.
    /// </summary>
    /// <param name="before">The snapshot taken after seeding.</param>
    /// <param name="x">The training rows [N, D].</param>
    /// <param name="start">
    /// Where self-training set out from: the seeding's own partition when that was its first target (a manifold
    /// seeding's clusters are not its centroids' cells, and steps towards them would otherwise count as a loss), else
    /// the seeded centroids' partition, where q starts.
    /// </param>
    /// <param name="startName">How the log names <paramref name="start"/>.</param>
    /// <param name="final">Every row's cluster under the model self-training left.</param>
    /// <param name="k">K.</param>
    /// <param name="seed">Draws the rows the silhouettes are computed on.</param>
    /// <param name="margin"><see cref="DeepClusterOptions.SelfTrainingSafeguardMargin"/>.</param>
    /// <param name="log">Where the verdict is written.</param>
    public static SelfTrainingVerdict Judge(Snapshot before, TrainingRows x, int[] start, string startName, int[] final, int k, int seed, double margin, Action<string> log)
    {
        var sample = ClusterCountCriteria.SilhouetteSample((int)x.Count, seed);
        var scores = Measure(before.Embedding, x, start, final, k, sample);
        bool worse = IsClearlyWorse(scores, margin);
        bool keep = worse && before.Encoder is not null;
        log($"Self-training judged on {sample.Length} rows: silhouette in the pretrained embedding {scores.SeedingInEmbedding:F4} ({startName}) → {scores.FinalInEmbedding:F4} (final), " +
            $"in the input {scores.SeedingInInput:F4} → {scores.FinalInInput:F4}." +
            (worse ? keep ? " Clearly worse: Fit keeps the seeding's model (SelfTrainingSafeguard = KeepBetter)." : " Clearly worse than the seeding; SelfTrainingSafeguard = KeepBetter would keep the seeding's model." : ""));
        return new SelfTrainingVerdict(scores.SeedingInEmbedding, scores.FinalInEmbedding, scores.SeedingInInput, scores.FinalInInput, worse, keep);
    }

    /// <summary>Silhouettes of the seeding's and the final partition, in the pretrained embedding and in the input.</summary>
    public sealed record Scores(double SeedingInEmbedding, double FinalInEmbedding, double SeedingInInput, double FinalInInput);

    /// <param name="pretrainedEmbedding">z [N, E] of the pretrained encoder, float32.</param>
    /// <param name="x">The training rows [N, D].</param>
    /// <param name="seeding">Every row's cluster after seeding.</param>
    /// <param name="final">Every row's cluster under the model self-training left.</param>
    /// <param name="numberOfClusters">K.</param>
    /// <param name="sample">Row indices the silhouettes are computed on (<see cref="ClusterCountCriteria.SilhouetteSample"/>).</param>
    public static Scores Measure(Tensor pretrainedEmbedding, TrainingRows x, int[] seeding, int[] final, int numberOfClusters, int[] sample)
    {
        using var scope = NewDisposeScope();
        using var index = tensor(sample.Select(i => (long)i).ToArray()).to(x.Device);
        var embedding = Distances(pretrainedEmbedding.index_select(0, index));
        var input = Distances(x.Select(index).to(float32));
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
