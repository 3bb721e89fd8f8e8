using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;
using Microsoft.ML.DeepClustering.Evaluation;

namespace Microsoft.ML.DeepClustering;

/// <summary>
/// The contingency table of a clustering against the true classes: how many samples of each class landed in each
/// cluster, together with the best one-to-one cluster → class mapping (the one that unsupervised clustering
/// accuracy uses).
/// </summary>
/// <remarks>
/// Rows are clusters and columns are classes, both in ascending order of their id/label:
/// <c>this[i, j]</c> is the number of samples with predicted cluster <c>ClusterIds[i]</c> and true class
/// <c>ClassLabels[j]</c>. Only values that occur in the data appear; a cluster id that no sample was assigned
/// to has no row. Create one with <see cref="ClusteringQuality.ConfusionMatrix{TLabel, TCluster}"/>.
/// </remarks>
public sealed class ClusteringConfusionMatrix
{
    private readonly int[,] _counts;
    private readonly Lazy<int[]> _assignment;
    private readonly Lazy<IReadOnlyDictionary<int, int>> _mapping;

    internal ClusteringConfusionMatrix(int[] clusterIds, int[] classLabels, int[,] counts)
    {
        _counts = counts;
        ClusterIds = Array.AsReadOnly(clusterIds);
        ClassLabels = Array.AsReadOnly(classLabels);

        var clusterSizes = new int[clusterIds.Length];
        var classSizes = new int[classLabels.Length];
        int total = 0;
        for (int i = 0; i < clusterIds.Length; i++)
        {
            for (int j = 0; j < classLabels.Length; j++)
            {
                int c = counts[i, j];
                clusterSizes[i] += c;
                classSizes[j] += c;
                total += c;
            }
        }
        ClusterSizes = Array.AsReadOnly(clusterSizes);
        ClassSizes = Array.AsReadOnly(classSizes);
        NumberOfSamples = total;

        var majority = new Dictionary<int, int>(clusterIds.Length);
        for (int i = 0; i < clusterIds.Length; i++)
        {
            int best = 0;
            for (int j = 1; j < classLabels.Length; j++)
            {
                if (counts[i, j] > counts[i, best])
                    best = j;
            }
            majority[clusterIds[i]] = classLabels[best];
        }
        MajorityMapping = new ReadOnlyDictionary<int, int>(majority);

        // The Hungarian step is O(k² · max(k, c)); only pay for it when the mapping or accuracy is asked for.
        _assignment = new Lazy<int[]>(ComputeAssignment);
        _mapping = new Lazy<IReadOnlyDictionary<int, int>>(BuildMapping);
    }

    /// <summary>The distinct predicted cluster ids that occur in the data, in ascending order (the rows).</summary>
    public IReadOnlyList<int> ClusterIds { get; }

    /// <summary>The distinct true class labels that occur in the data, in ascending order (the columns).</summary>
    public IReadOnlyList<int> ClassLabels { get; }

    /// <summary>Number of samples in each cluster, aligned with <see cref="ClusterIds"/>.</summary>
    public IReadOnlyList<int> ClusterSizes { get; }

    /// <summary>Number of samples of each class, aligned with <see cref="ClassLabels"/>.</summary>
    public IReadOnlyList<int> ClassSizes { get; }

    /// <summary>The total number of samples counted (the sum of all cells).</summary>
    public int NumberOfSamples { get; }

    /// <summary>
    /// Number of samples whose predicted cluster is <c>ClusterIds[clusterIndex]</c> and whose true class is
    /// <c>ClassLabels[classIndex]</c>. Indices are positions in those lists, not the id/label values themselves.
    /// </summary>
    /// <param name="clusterIndex">Row index, 0 ≤ clusterIndex &lt; <c>ClusterIds.Count</c>.</param>
    /// <param name="classIndex">Column index, 0 ≤ classIndex &lt; <c>ClassLabels.Count</c>.</param>
    public int this[int clusterIndex, int classIndex]
    {
        get
        {
            if ((uint)clusterIndex >= (uint)ClusterIds.Count)
                throw new ArgumentOutOfRangeException(nameof(clusterIndex), clusterIndex,
                    $"Cluster index must be in [0, {ClusterIds.Count}).");
            if ((uint)classIndex >= (uint)ClassLabels.Count)
                throw new ArgumentOutOfRangeException(nameof(classIndex), classIndex,
                    $"Class index must be in [0, {ClassLabels.Count}).");
            return _counts[clusterIndex, classIndex];
        }
    }

    /// <summary>
    /// A copy of the counts as a <c>[cluster index, class index]</c> array
    /// (<c>ClusterIds.Count × ClassLabels.Count</c>).
    /// </summary>
    public int[,] GetCounts() => (int[,])_counts.Clone();

    /// <summary>
    /// The best one-to-one mapping from cluster id to class label: the assignment, found with the Hungarian
    /// algorithm, that maximises the number of samples whose cluster is mapped to their own class.
    /// </summary>
    /// <remarks>
    /// No two clusters map to the same class. When there are more clusters than classes, the clusters left over
    /// are absent from this dictionary (their samples count as errors for
    /// <see cref="ClusteringQuality.Accuracy{TLabel, TCluster}"/>); when there are fewer clusters than classes,
    /// some classes are not the image of any cluster. For a many-to-one mapping that covers every cluster, see
    /// <see cref="MajorityMapping"/>. Ties between equally good assignments are broken deterministically but
    /// arbitrarily.
    /// </remarks>
    public IReadOnlyDictionary<int, int> Mapping => _mapping.Value;

    /// <summary>
    /// For every cluster id, the class label most frequent in that cluster (ties go to the smallest label).
    /// Several clusters may map to the same class; this is the mapping behind
    /// <see cref="ClusteringQuality.Purity{TLabel, TCluster}"/>.
    /// </summary>
    public IReadOnlyDictionary<int, int> MajorityMapping { get; }

    /// <summary>
    /// The number of samples whose cluster is mapped to their true class by <see cref="Mapping"/>, i.e. the
    /// numerator of the unsupervised clustering accuracy.
    /// </summary>
    public int MatchedCount
    {
        get
        {
            int[] assignment = _assignment.Value;
            int matched = 0;
            for (int i = 0; i < assignment.Length; i++)
            {
                if (assignment[i] >= 0)
                    matched += _counts[i, assignment[i]];
            }
            return matched;
        }
    }

    /// <summary>
    /// The number of samples that fall in the majority class of their cluster, i.e. the numerator of purity.
    /// </summary>
    public int MajorityCount
    {
        get
        {
            int sum = 0;
            for (int i = 0; i < ClusterIds.Count; i++)
            {
                int max = 0;
                for (int j = 0; j < ClassLabels.Count; j++)
                    max = Math.Max(max, _counts[i, j]);
                sum += max;
            }
            return sum;
        }
    }

    /// <summary>
    /// A plain-text table of the counts (clusters as rows, classes as columns), with each cluster's mapped class
    /// from <see cref="Mapping"/> in the last column ("-" when the cluster is unmapped).
    /// </summary>
    public override string ToString()
    {
        var culture = CultureInfo.InvariantCulture;
        int width = 5;
        foreach (int c in _counts)
            width = Math.Max(width, c.ToString(culture).Length);
        foreach (int label in ClassLabels)
            width = Math.Max(width, label.ToString(culture).Length);
        foreach (int id in ClusterIds)
            width = Math.Max(width, id.ToString(culture).Length + 1);
        width = Math.Max(width, "class".Length);

        var sb = new StringBuilder();
        sb.Append("cluster".PadRight(Math.Max(width, 7)));
        foreach (int label in ClassLabels)
            sb.Append(' ').Append(label.ToString(culture).PadLeft(width));
        sb.Append(" | ").Append("->".PadLeft(width)).AppendLine();

        var mapping = Mapping;
        for (int i = 0; i < ClusterIds.Count; i++)
        {
            sb.Append(ClusterIds[i].ToString(culture).PadRight(Math.Max(width, 7)));
            for (int j = 0; j < ClassLabels.Count; j++)
                sb.Append(' ').Append(_counts[i, j].ToString(culture).PadLeft(width));
            string mapped = mapping.TryGetValue(ClusterIds[i], out int cls) ? cls.ToString(culture) : "-";
            sb.Append(" | ").Append(mapped.PadLeft(width)).AppendLine();
        }
        return sb.ToString();
    }

    private int[] ComputeAssignment()
    {
        var weights = new long[ClusterIds.Count, ClassLabels.Count];
        for (int i = 0; i < ClusterIds.Count; i++)
            for (int j = 0; j < ClassLabels.Count; j++)
                weights[i, j] = _counts[i, j];
        return HungarianAlgorithm.MaximizeAssignment(weights);
    }

    private IReadOnlyDictionary<int, int> BuildMapping()
    {
        int[] assignment = _assignment.Value;
        var map = new Dictionary<int, int>();
        for (int i = 0; i < assignment.Length; i++)
        {
            if (assignment[i] >= 0)
                map[ClusterIds[i]] = ClassLabels[assignment[i]];
        }
        return new ReadOnlyDictionary<int, int>(map);
    }
}
