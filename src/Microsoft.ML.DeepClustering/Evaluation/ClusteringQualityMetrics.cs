using System.Globalization;

namespace Microsoft.ML.DeepClustering;

/// <summary>
/// External clustering-quality metrics of a predicted clustering against true class labels, as reported in the
/// deep-clustering literature (DEC, IDEC, DCEC, ...). Produced by
/// <see cref="ClusteringQuality.Evaluate{TLabel, TCluster}(TLabel[], TCluster[])"/> and
/// <see cref="ClusteringQuality.Evaluate(Microsoft.ML.IDataView, string, string)"/>.
/// </summary>
public sealed class ClusteringQualityMetrics
{
    internal ClusteringQualityMetrics(
        double accuracy,
        double normalizedMutualInformation,
        double adjustedRandIndex,
        double purity,
        ClusteringConfusionMatrix confusionMatrix)
    {
        Accuracy = accuracy;
        NormalizedMutualInformation = normalizedMutualInformation;
        AdjustedRandIndex = adjustedRandIndex;
        Purity = purity;
        ConfusionMatrix = confusionMatrix;
    }

    /// <summary>
    /// Unsupervised clustering accuracy (ACC): the fraction of samples whose cluster is mapped to their true class
    /// under the best one-to-one cluster → class mapping (<see cref="Mapping"/>). Range [0, 1], 1 is perfect.
    /// </summary>
    public double Accuracy { get; }

    /// <summary>
    /// Normalized mutual information with arithmetic-mean normalisation, MI / ((H(true) + H(predicted)) / 2),
    /// the same as scikit-learn's default <c>normalized_mutual_info_score</c>. Range [0, 1], 1 is perfect.
    /// </summary>
    public double NormalizedMutualInformation { get; }

    /// <summary>
    /// Adjusted Rand index: the pair-counting Rand index corrected for chance. Range [-0.5, 1]; 1 is perfect,
    /// about 0 for a random labelling, negative when agreement is worse than chance.
    /// </summary>
    public double AdjustedRandIndex { get; }

    /// <summary>
    /// Purity: the fraction of samples that belong to the majority class of their cluster. Range (0, 1];
    /// it rewards many small clusters (one cluster per sample scores 1), so read it with the other metrics.
    /// </summary>
    public double Purity { get; }

    /// <summary>The number of distinct predicted cluster ids that occur in the data.</summary>
    public int NumberOfClusters => ConfusionMatrix.ClusterIds.Count;

    /// <summary>The number of distinct true class labels that occur in the data.</summary>
    public int NumberOfClasses => ConfusionMatrix.ClassLabels.Count;

    /// <summary>The number of samples evaluated.</summary>
    public int NumberOfSamples => ConfusionMatrix.NumberOfSamples;

    /// <summary>The cluster × class contingency table the metrics were computed from.</summary>
    public ClusteringConfusionMatrix ConfusionMatrix { get; }

    /// <summary>
    /// The best one-to-one mapping from cluster id to class label (Hungarian algorithm), the one behind
    /// <see cref="Accuracy"/>. Same as <see cref="ClusteringConfusionMatrix.Mapping"/>; clusters left over when
    /// there are more clusters than classes are absent.
    /// </summary>
    public IReadOnlyDictionary<int, int> Mapping => ConfusionMatrix.Mapping;

    /// <summary>A one-line summary, e.g. <c>ACC=0.8420 NMI=0.8011 ARI=0.7552 Purity=0.8420 (10 clusters, 10 classes, 10000 samples)</c>.</summary>
    public override string ToString() => string.Format(
        CultureInfo.InvariantCulture,
        "ACC={0:F4} NMI={1:F4} ARI={2:F4} Purity={3:F4} ({4} clusters, {5} classes, {6} samples)",
        Accuracy, NormalizedMutualInformation, AdjustedRandIndex, Purity,
        NumberOfClusters, NumberOfClasses, NumberOfSamples);
}
