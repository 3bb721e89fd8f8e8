using System.Numerics;

namespace Microsoft.ML.DeepClustering;

/// <summary>
/// External clustering-quality metrics that deep-clustering papers report and ML.NET's clustering evaluator does
/// not provide: unsupervised clustering accuracy (ACC, Hungarian-matched), normalized mutual information (NMI,
/// arithmetic normalisation as in scikit-learn), adjusted Rand index (ARI) and purity.
/// </summary>
/// <remarks>
/// <para>
/// Every metric compares two equally long arrays: the true class label and the predicted cluster id of each
/// sample. Both may hold any integer type (<see cref="int"/>, <see cref="uint"/> as in ML.NET's
/// <c>PredictedLabel</c> key column, <see cref="byte"/> as in MNIST's label files, ...);
/// the values are only used as identities, so labels such as 3, 7, 42 work, and cluster ids need not match class
/// labels in number or value. Values must fit in an <see cref="int"/>.
/// </para>
/// <para>
/// ML.NET's own <c>ClusteringMetrics.NormalizedMutualInformation</c> divides the mutual information by the
/// entropy of the labels alone, so it is not the same number as <see cref="NormalizedMutualInformation"/> here
/// (nor as the NMI reported in most papers).
/// </para>
/// </remarks>
public static partial class ClusteringQuality
{
    /// <summary>
    /// Unsupervised clustering accuracy (ACC): the fraction of samples classified correctly when each cluster is
    /// mapped to a class by the best one-to-one mapping, found with the Hungarian algorithm on the contingency
    /// table (O(k²·max(k, c)) for k clusters and c classes).
    /// </summary>
    /// <remarks>
    /// The number of clusters may differ from the number of classes: with more clusters than classes, the
    /// samples of the clusters left without a class count as errors; with fewer, some classes get no cluster.
    /// </remarks>
    /// <typeparam name="TLabel">Integer type of the true labels.</typeparam>
    /// <typeparam name="TCluster">Integer type of the predicted cluster ids.</typeparam>
    /// <param name="trueLabels">The true class label of each sample.</param>
    /// <param name="predictedClusterIds">The predicted cluster id of each sample, same length.</param>
    /// <returns>ACC in [0, 1]; 1 means the clustering equals the classes up to a renaming of the clusters.</returns>
    /// <exception cref="ArgumentNullException">An array is null.</exception>
    /// <exception cref="ArgumentException">The arrays are empty or have different lengths.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value does not fit in an <see cref="int"/>.</exception>
    public static double Accuracy<TLabel, TCluster>(TLabel[] trueLabels, TCluster[] predictedClusterIds)
        where TLabel : struct, IBinaryInteger<TLabel>
        where TCluster : struct, IBinaryInteger<TCluster>
        => Accuracy(ConfusionMatrix(trueLabels, predictedClusterIds));

    /// <summary>
    /// Adjusted Rand index (ARI, Hubert &amp; Arabie 1985): the fraction of sample pairs on which the two
    /// partitions agree (both together or both apart), corrected for the agreement expected by chance.
    /// </summary>
    /// <remarks>
    /// Symmetric in its two arguments and independent of the label values. When both partitions are the same
    /// trivial one (a single cluster, or one sample per cluster) the index is defined as 1, as in scikit-learn's
    /// <c>adjusted_rand_score</c>. The pair counts are combined in exact integer arithmetic before the final
    /// division.
    /// </remarks>
    /// <typeparam name="TLabel">Integer type of the true labels.</typeparam>
    /// <typeparam name="TCluster">Integer type of the predicted cluster ids.</typeparam>
    /// <param name="trueLabels">The true class label of each sample.</param>
    /// <param name="predictedClusterIds">The predicted cluster id of each sample, same length.</param>
    /// <returns>
    /// ARI, at most 1 (identical partitions), about 0 for a random labelling, negative (never below -0.5) when
    /// the partitions agree less than chance.
    /// </returns>
    /// <exception cref="ArgumentNullException">An array is null.</exception>
    /// <exception cref="ArgumentException">The arrays are empty or have different lengths.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value does not fit in an <see cref="int"/>.</exception>
    public static double AdjustedRandIndex<TLabel, TCluster>(TLabel[] trueLabels, TCluster[] predictedClusterIds)
        where TLabel : struct, IBinaryInteger<TLabel>
        where TCluster : struct, IBinaryInteger<TCluster>
        => AdjustedRandIndex(ConfusionMatrix(trueLabels, predictedClusterIds));

    /// <summary>
    /// Normalized mutual information (NMI) with arithmetic-mean normalisation:
    /// <c>MI(true, predicted) / ((H(true) + H(predicted)) / 2)</c>, the definition of scikit-learn's default
    /// <c>normalized_mutual_info_score(labels_true, labels_pred, average_method='arithmetic')</c>.
    /// </summary>
    /// <remarks>
    /// Symmetric, independent of the label values and of the logarithm base. Limit cases follow scikit-learn:
    /// two single-cluster partitions score 1; otherwise zero mutual information scores 0 (e.g. every class split
    /// over one cluster per sample). It differs from ML.NET's <c>ClusteringMetrics.NormalizedMutualInformation</c>,
    /// which normalises by H(true) only.
    /// </remarks>
    /// <typeparam name="TLabel">Integer type of the true labels.</typeparam>
    /// <typeparam name="TCluster">Integer type of the predicted cluster ids.</typeparam>
    /// <param name="trueLabels">The true class label of each sample.</param>
    /// <param name="predictedClusterIds">The predicted cluster id of each sample, same length.</param>
    /// <returns>NMI in [0, 1]; 1 for identical partitions, 0 for independent ones.</returns>
    /// <exception cref="ArgumentNullException">An array is null.</exception>
    /// <exception cref="ArgumentException">The arrays are empty or have different lengths.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value does not fit in an <see cref="int"/>.</exception>
    public static double NormalizedMutualInformation<TLabel, TCluster>(TLabel[] trueLabels, TCluster[] predictedClusterIds)
        where TLabel : struct, IBinaryInteger<TLabel>
        where TCluster : struct, IBinaryInteger<TCluster>
        => NormalizedMutualInformation(ConfusionMatrix(trueLabels, predictedClusterIds));

    /// <summary>
    /// Purity: the fraction of samples that belong to the most frequent class of their cluster
    /// (each cluster is mapped to its majority class, several clusters may share a class).
    /// </summary>
    /// <remarks>
    /// Purity never decreases when clusters are split, and is 1 when every sample has its own cluster; it is
    /// only meaningful next to ACC/NMI/ARI or at a fixed number of clusters.
    /// </remarks>
    /// <typeparam name="TLabel">Integer type of the true labels.</typeparam>
    /// <typeparam name="TCluster">Integer type of the predicted cluster ids.</typeparam>
    /// <param name="trueLabels">The true class label of each sample.</param>
    /// <param name="predictedClusterIds">The predicted cluster id of each sample, same length.</param>
    /// <returns>Purity in (0, 1]; 1 when every cluster holds a single class.</returns>
    /// <exception cref="ArgumentNullException">An array is null.</exception>
    /// <exception cref="ArgumentException">The arrays are empty or have different lengths.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value does not fit in an <see cref="int"/>.</exception>
    public static double Purity<TLabel, TCluster>(TLabel[] trueLabels, TCluster[] predictedClusterIds)
        where TLabel : struct, IBinaryInteger<TLabel>
        where TCluster : struct, IBinaryInteger<TCluster>
        => Purity(ConfusionMatrix(trueLabels, predictedClusterIds));

    /// <summary>
    /// Builds the cluster × class contingency table of a clustering: the count of samples for every
    /// (predicted cluster, true class) pair, with the sorted distinct cluster ids and class labels and the best
    /// one-to-one cluster → class mapping.
    /// </summary>
    /// <typeparam name="TLabel">Integer type of the true labels.</typeparam>
    /// <typeparam name="TCluster">Integer type of the predicted cluster ids.</typeparam>
    /// <param name="trueLabels">The true class label of each sample.</param>
    /// <param name="predictedClusterIds">The predicted cluster id of each sample, same length.</param>
    /// <returns>The contingency table; its cells add up to the number of samples.</returns>
    /// <exception cref="ArgumentNullException">An array is null.</exception>
    /// <exception cref="ArgumentException">The arrays are empty or have different lengths.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value does not fit in an <see cref="int"/>.</exception>
    public static ClusteringConfusionMatrix ConfusionMatrix<TLabel, TCluster>(TLabel[] trueLabels, TCluster[] predictedClusterIds)
        where TLabel : struct, IBinaryInteger<TLabel>
        where TCluster : struct, IBinaryInteger<TCluster>
    {
        ValidatePair(trueLabels, predictedClusterIds);
        int[] labels = ToInt32(trueLabels, nameof(trueLabels));
        int[] clusters = ToInt32(predictedClusterIds, nameof(predictedClusterIds));
        return BuildConfusionMatrix(labels, clusters);
    }

    /// <summary>
    /// Computes all metrics at once — ACC, NMI, ARI, purity, the counts of clusters and classes, the contingency
    /// table and the best cluster → class mapping — from a single contingency table.
    /// </summary>
    /// <typeparam name="TLabel">Integer type of the true labels.</typeparam>
    /// <typeparam name="TCluster">Integer type of the predicted cluster ids.</typeparam>
    /// <param name="trueLabels">The true class label of each sample.</param>
    /// <param name="predictedClusterIds">The predicted cluster id of each sample, same length.</param>
    /// <returns>The metrics; see <see cref="ClusteringQualityMetrics"/> for each one's range.</returns>
    /// <exception cref="ArgumentNullException">An array is null.</exception>
    /// <exception cref="ArgumentException">The arrays are empty or have different lengths.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value does not fit in an <see cref="int"/>.</exception>
    public static ClusteringQualityMetrics Evaluate<TLabel, TCluster>(TLabel[] trueLabels, TCluster[] predictedClusterIds)
        where TLabel : struct, IBinaryInteger<TLabel>
        where TCluster : struct, IBinaryInteger<TCluster>
        => Evaluate(ConfusionMatrix(trueLabels, predictedClusterIds));

    /// <summary>Computes all metrics from an existing contingency table.</summary>
    /// <param name="confusionMatrix">A table made by <see cref="ConfusionMatrix{TLabel, TCluster}"/>.</param>
    /// <returns>The metrics; see <see cref="ClusteringQualityMetrics"/> for each one's range.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="confusionMatrix"/> is null.</exception>
    public static ClusteringQualityMetrics Evaluate(ClusteringConfusionMatrix confusionMatrix)
    {
        ArgumentNullException.ThrowIfNull(confusionMatrix);
        return new ClusteringQualityMetrics(
            accuracy: Accuracy(confusionMatrix),
            normalizedMutualInformation: NormalizedMutualInformation(confusionMatrix),
            adjustedRandIndex: AdjustedRandIndex(confusionMatrix),
            purity: Purity(confusionMatrix),
            confusionMatrix: confusionMatrix);
    }

    private static double Accuracy(ClusteringConfusionMatrix m)
        => (double)m.MatchedCount / m.NumberOfSamples;

    private static double Purity(ClusteringConfusionMatrix m)
        => (double)m.MajorityCount / m.NumberOfSamples;

    private static double AdjustedRandIndex(ClusteringConfusionMatrix m)
    {
        // With n_ij the cell counts, a_i the cluster sizes, b_j the class sizes and N = C(n, 2):
        //   index = Σ C(n_ij, 2), A = Σ C(a_i, 2), B = Σ C(b_j, 2), expected = A·B / N, max = (A + B) / 2,
        //   ARI = (index - expected) / (max - expected).
        // Multiplying numerator and denominator by 2N keeps everything integral:
        //   ARI = 2 (index·N - A·B) / ((A + B)·N - 2 A·B).
        long n = m.NumberOfSamples;
        long totalPairs = Pairs(n);
        if (totalPairs == 0)
            return 1.0; // A single sample: both partitions are trivially identical.

        long index = 0;
        for (int i = 0; i < m.ClusterIds.Count; i++)
            for (int j = 0; j < m.ClassLabels.Count; j++)
                index += Pairs(m[i, j]);
        long clusterPairs = 0;
        foreach (int size in m.ClusterSizes)
            clusterPairs += Pairs(size);
        long classPairs = 0;
        foreach (int size in m.ClassSizes)
            classPairs += Pairs(size);

        Int128 numerator = 2 * ((Int128)index * totalPairs - (Int128)clusterPairs * classPairs);
        Int128 denominator = ((Int128)clusterPairs + classPairs) * totalPairs - 2 * (Int128)clusterPairs * classPairs;
        if (denominator == 0)
        {
            // Only when both partitions are all-in-one or both are all-singletons, i.e. identical.
            return 1.0;
        }
        return (double)numerator / (double)denominator;
    }

    private static double NormalizedMutualInformation(ClusteringConfusionMatrix m)
    {
        int clusters = m.ClusterIds.Count;
        int classes = m.ClassLabels.Count;
        if (clusters == 1 && classes == 1)
            return 1.0; // Neither partition splits the data: a perfect (if uninformative) match.

        double n = m.NumberOfSamples;
        double mutualInformation = 0;
        for (int i = 0; i < clusters; i++)
        {
            double clusterSize = m.ClusterSizes[i];
            for (int j = 0; j < classes; j++)
            {
                int count = m[i, j];
                if (count == 0)
                    continue;
                // p_ij · log(p_ij / (p_i · p_j)) with p = count / n.
                mutualInformation += count / n * Math.Log(count * n / (clusterSize * m.ClassSizes[j]));
            }
        }
        if (mutualInformation <= 0)
            return 0.0;

        double normalizer = (Entropy(m.ClusterSizes, n) + Entropy(m.ClassSizes, n)) / 2;
        if (normalizer <= 0)
            return 0.0;
        return Math.Clamp(mutualInformation / normalizer, 0.0, 1.0);
    }

    private static double Entropy(IReadOnlyList<int> sizes, double n)
    {
        double h = 0;
        foreach (int size in sizes)
        {
            if (size == 0)
                continue;
            double p = size / n;
            h -= p * Math.Log(p);
        }
        return h;
    }

    private static long Pairs(long count) => count * (count - 1) / 2;

    /// <summary>Dense contingency table from two validated, equally long int arrays.</summary>
    internal static ClusteringConfusionMatrix BuildConfusionMatrix(int[] labels, int[] clusters)
    {
        int[] classValues = DistinctSorted(labels);
        int[] clusterValues = DistinctSorted(clusters);
        var classIndex = IndexOf(classValues);
        var clusterIndex = IndexOf(clusterValues);

        var counts = new int[clusterValues.Length, classValues.Length];
        for (int s = 0; s < labels.Length; s++)
            counts[clusterIndex[clusters[s]], classIndex[labels[s]]]++;
        return new ClusteringConfusionMatrix(clusterValues, classValues, counts);
    }

    private static int[] DistinctSorted(int[] values)
    {
        var set = new HashSet<int>(values);
        var result = new int[set.Count];
        set.CopyTo(result);
        Array.Sort(result);
        return result;
    }

    private static Dictionary<int, int> IndexOf(int[] sortedValues)
    {
        var map = new Dictionary<int, int>(sortedValues.Length);
        for (int i = 0; i < sortedValues.Length; i++)
            map[sortedValues[i]] = i;
        return map;
    }

    private static void ValidatePair<TLabel, TCluster>(TLabel[] trueLabels, TCluster[] predictedClusterIds)
    {
        ArgumentNullException.ThrowIfNull(trueLabels);
        ArgumentNullException.ThrowIfNull(predictedClusterIds);
        if (trueLabels.Length != predictedClusterIds.Length)
        {
            throw new ArgumentException(
                $"The label arrays must have the same length: '{nameof(trueLabels)}' has {trueLabels.Length} elements " +
                $"but '{nameof(predictedClusterIds)}' has {predictedClusterIds.Length}.",
                nameof(predictedClusterIds));
        }
        if (trueLabels.Length == 0)
        {
            throw new ArgumentException(
                $"The label arrays are empty ('{nameof(trueLabels)}' has 0 elements and '{nameof(predictedClusterIds)}' has 0); " +
                "at least one sample is needed to evaluate a clustering.",
                nameof(trueLabels));
        }
    }

    private static int[] ToInt32<T>(T[] values, string paramName)
        where T : struct, IBinaryInteger<T>
    {
        // Note: a runtime type test "values is int[]" would also accept uint[] (CLR array covariance).
        if (typeof(T) == typeof(int))
            return (int[])(object)values;
        var result = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            try
            {
                result[i] = int.CreateChecked(values[i]);
            }
            catch (OverflowException)
            {
                throw new ArgumentOutOfRangeException(paramName,
                    $"'{paramName}[{i}]' = {values[i]} does not fit in an Int32; labels and cluster ids must be in " +
                    $"[{int.MinValue}, {int.MaxValue}].");
            }
        }
        return result;
    }
}
