using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Microsoft.ML.DeepClustering.Evaluation;

namespace Microsoft.ML.DeepClustering.Tests;

public class ClusteringQualityTests
{
    private const int Precision = 12;

    // ---------------------------------------------------------------- perfect and worked examples

    [Fact]
    public void PerfectClusteringWithPermutedIdsScoresOneOnEveryMetric()
    {
        int[] labels = [0, 0, 1, 1, 2, 2, 2];
        int[] clusters = [5, 5, 9, 9, 1, 1, 1];

        var metrics = ClusteringQuality.Evaluate(labels, clusters);

        Assert.Equal(1.0, metrics.Accuracy, Precision);
        Assert.Equal(1.0, metrics.AdjustedRandIndex, Precision);
        Assert.Equal(1.0, metrics.NormalizedMutualInformation, Precision);
        Assert.Equal(1.0, metrics.Purity, Precision);
        Assert.Equal(3, metrics.NumberOfClusters);
        Assert.Equal(3, metrics.NumberOfClasses);
        Assert.Equal(7, metrics.NumberOfSamples);
        Assert.Equal(new Dictionary<int, int> { [5] = 0, [9] = 1, [1] = 2 }, metrics.Mapping);

        Assert.Equal(1.0, ClusteringQuality.Accuracy(labels, clusters), Precision);
        Assert.Equal(1.0, ClusteringQuality.AdjustedRandIndex(labels, clusters), Precision);
        Assert.Equal(1.0, ClusteringQuality.NormalizedMutualInformation(labels, clusters), Precision);
        Assert.Equal(1.0, ClusteringQuality.Purity(labels, clusters), Precision);
    }

    /// <summary>
    /// Contingency table [cluster, class], n = 14:
    /// <code>
    ///        c0 c1 c2 | size
    ///   k0:   4  1  0 |  5
    ///   k1:   0  3  1 |  4
    ///   k2:   3  0  2 |  5
    ///  size:  7  4  3
    /// </code>
    /// ACC, all six one-to-one mappings (k0,k1,k2) → classes:
    ///   (0,1,2) 4+3+2 = 9, (0,2,1) 4+1+0 = 5, (1,0,2) 1+0+2 = 3, (1,2,0) 1+1+3 = 5, (2,0,1) 0+0+0 = 0,
    ///   (2,1,0) 0+3+3 = 6  →  best is the identity, ACC = 9/14.
    /// Purity: row maxima 4 + 3 + 3 = 10 (k2's majority is c0, which k0 also takes) → 10/14.
    /// ARI: Σ C(n_ij, 2) = 6 + 3 + 3 + 1 = 13; Σ C(a_i, 2) = 10 + 6 + 10 = 26; Σ C(b_j, 2) = 21 + 6 + 3 = 30;
    ///   C(14, 2) = 91; expected = 26·30/91 = 780/91; max = (26 + 30)/2 = 28;
    ///   ARI = (13 - 780/91) / (28 - 780/91) = 403/1768 = 31/136.
    /// </summary>
    [Fact]
    public void WorkedThreeByThreeExampleMatchesHandComputation()
    {
        var (labels, clusters) = FromContingency(new[,]
        {
            { 4, 1, 0 },
            { 0, 3, 1 },
            { 3, 0, 2 },
        });

        var metrics = ClusteringQuality.Evaluate(labels, clusters);

        Assert.Equal(9.0 / 14, metrics.Accuracy, Precision);
        Assert.Equal(10.0 / 14, metrics.Purity, Precision);
        Assert.Equal(31.0 / 136, metrics.AdjustedRandIndex, Precision);
        Assert.Equal(new Dictionary<int, int> { [0] = 0, [1] = 1, [2] = 2 }, metrics.Mapping);
        Assert.Equal(new Dictionary<int, int> { [0] = 0, [1] = 1, [2] = 0 }, metrics.ConfusionMatrix.MajorityMapping);
        Assert.Equal(9, metrics.ConfusionMatrix.MatchedCount);
        Assert.Equal(10, metrics.ConfusionMatrix.MajorityCount);

        var m = metrics.ConfusionMatrix;
        Assert.Equal(new[] { 0, 1, 2 }, m.ClusterIds);
        Assert.Equal(new[] { 0, 1, 2 }, m.ClassLabels);
        Assert.Equal(new[] { 5, 4, 5 }, m.ClusterSizes);
        Assert.Equal(new[] { 7, 4, 3 }, m.ClassSizes);
        Assert.Equal(3, m[2, 0]);
        Assert.Equal(0, m[2, 1]);
        Assert.Equal(new[,] { { 4, 1, 0 }, { 0, 3, 1 }, { 3, 0, 2 } }, m.GetCounts());
        Assert.Contains("|", m.ToString());
    }

    // ---------------------------------------------------------------- ARI

    [Theory]
    // Examples from scikit-learn's adjusted_rand_score documentation.
    [InlineData(new[] { 0, 0, 1, 2 }, new[] { 0, 0, 1, 1 }, 0.5714285714285715)]
    [InlineData(new[] { 0, 0, 1, 1 }, new[] { 0, 0, 1, 1 }, 1.0)]
    [InlineData(new[] { 0, 0, 1, 1 }, new[] { 1, 1, 0, 0 }, 1.0)]
    [InlineData(new[] { 0, 0, 0, 0 }, new[] { 0, 1, 2, 3 }, 0.0)]
    // By hand: every cell is 1 so index = 0; A = B = 2, N = 6; ARI = (0 - 4/6) / (2 - 4/6) = -0.5.
    [InlineData(new[] { 0, 0, 1, 1 }, new[] { 0, 1, 0, 1 }, -0.5)]
    // Both partitions are one cluster, or both all singletons: identical, defined as 1.
    [InlineData(new[] { 3, 3, 3 }, new[] { 8, 8, 8 }, 1.0)]
    [InlineData(new[] { 0, 1, 2 }, new[] { 2, 0, 1 }, 1.0)]
    [InlineData(new[] { 4 }, new[] { 9 }, 1.0)]
    public void AdjustedRandIndexMatchesKnownValues(int[] labels, int[] clusters, double expected)
    {
        Assert.Equal(expected, ClusteringQuality.AdjustedRandIndex(labels, clusters), Precision);
        // ARI is symmetric.
        Assert.Equal(expected, ClusteringQuality.AdjustedRandIndex(clusters, labels), Precision);
    }

    // ---------------------------------------------------------------- NMI

    [Theory]
    // Examples from scikit-learn's normalized_mutual_info_score documentation.
    [InlineData(new[] { 0, 0, 1, 1 }, new[] { 0, 0, 1, 1 }, 1.0)]
    [InlineData(new[] { 0, 0, 1, 1 }, new[] { 1, 1, 0, 0 }, 1.0)]
    [InlineData(new[] { 0, 0, 0, 0 }, new[] { 0, 1, 2, 3 }, 0.0)]
    // Independent partitions: every (class, cluster) cell holds n/4, so MI = 0.
    [InlineData(new[] { 0, 0, 1, 1 }, new[] { 0, 1, 0, 1 }, 0.0)]
    // Neither partition splits the data: scikit-learn's limit case, 1.
    [InlineData(new[] { 2, 2, 2 }, new[] { 5, 5, 5 }, 1.0)]
    public void NormalizedMutualInformationMatchesKnownValues(int[] labels, int[] clusters, double expected)
    {
        Assert.Equal(expected, ClusteringQuality.NormalizedMutualInformation(labels, clusters), Precision);
        Assert.Equal(expected, ClusteringQuality.NormalizedMutualInformation(clusters, labels), Precision);
    }

    /// <summary>
    /// true = [0,0,1,1], predicted = [0,0,0,1]; n = 4, with natural logs:
    ///   cells: (k0,c0) = 2, (k0,c1) = 1, (k1,c1) = 1; p(k0) = 3/4, p(k1) = 1/4, p(c0) = p(c1) = 1/2.
    ///   MI = 1/2·ln((1/2)/(3/8)) + 1/4·ln((1/4)/(3/8)) + 1/4·ln((1/4)/(1/8))
    ///      = 1/2·ln(4/3) + 1/4·ln(2/3) + 1/4·ln 2 = 3/4·ln(4/3)
    ///   H(true) = ln 2;  H(pred) = 3/4·ln(4/3) + 1/4·ln 4
    ///   NMI = MI / ((H(true) + H(pred)) / 2) ≈ 0.34371.
    /// </summary>
    [Fact]
    public void NormalizedMutualInformationMatchesHandComputation()
    {
        double mi = 0.75 * Math.Log(4.0 / 3);
        double hTrue = Math.Log(2);
        double hPred = 0.75 * Math.Log(4.0 / 3) + 0.25 * Math.Log(4);
        double expected = mi / ((hTrue + hPred) / 2);
        Assert.Equal(0.34371, expected, 4);

        Assert.Equal(expected, ClusteringQuality.NormalizedMutualInformation(new[] { 0, 0, 1, 1 }, new[] { 0, 0, 0, 1 }), Precision);
    }

    // ---------------------------------------------------------------- Hungarian accuracy

    /// <summary>
    /// [cluster, class]: kA = {X: 5, Y: 4}, kB = {X: 4, Y: 0}, n = 13. Taking the largest cell first (kA → X)
    /// leaves kB → Y worth 0, total 5; the optimum is kA → Y, kB → X, total 8.
    /// </summary>
    [Fact]
    public void AccuracyFindsTheOptimumWhereGreedyMatchingFails()
    {
        const int X = 10, Y = 20, A = 1, B = 2;
        var labels = new List<int>();
        var clusters = new List<int>();
        Add(labels, clusters, X, A, 5);
        Add(labels, clusters, Y, A, 4);
        Add(labels, clusters, X, B, 4);

        var metrics = ClusteringQuality.Evaluate(labels.ToArray(), clusters.ToArray());

        Assert.Equal(8.0 / 13, metrics.Accuracy, Precision);
        Assert.Equal(new Dictionary<int, int> { [A] = Y, [B] = X }, metrics.Mapping);
        // Purity maps both clusters to X: 5 + 4.
        Assert.Equal(9.0 / 13, metrics.Purity, Precision);
    }

    [Fact]
    public void HungarianAlgorithmMatchesBruteForceOnRandomMatrices()
    {
        var random = new Random(12345);
        for (int trial = 0; trial < 300; trial++)
        {
            int rows = random.Next(1, 7);
            int cols = random.Next(1, 7);
            var w = new long[rows, cols];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                    w[i, j] = random.Next(0, 20);

            int[] assignment = HungarianAlgorithm.MaximizeAssignment(w);

            Assert.Equal(rows, assignment.Length);
            Assert.Equal(Math.Min(rows, cols), assignment.Count(c => c >= 0));
            Assert.Equal(assignment.Count(c => c >= 0), assignment.Where(c => c >= 0).Distinct().Count());
            long total = 0;
            for (int i = 0; i < rows; i++)
                if (assignment[i] >= 0)
                    total += w[i, assignment[i]];
            Assert.Equal(BruteForceBest(w), total);
        }
    }

    [Fact]
    public void MoreClustersThanClassesLeavesExtraClustersUnmapped()
    {
        // [cluster, class]: k0 = {c0: 2}, k1 = {c0: 1}, k2 = {c1: 3}. ACC: k0 → c0, k2 → c1 = 5/6;
        // k1 gets no class. Purity: every cluster is pure → 1.
        int[] labels = [0, 0, 0, 1, 1, 1];
        int[] clusters = [0, 0, 1, 2, 2, 2];

        var metrics = ClusteringQuality.Evaluate(labels, clusters);

        Assert.Equal(5.0 / 6, metrics.Accuracy, Precision);
        Assert.Equal(1.0, metrics.Purity, Precision);
        Assert.Equal(3, metrics.NumberOfClusters);
        Assert.Equal(2, metrics.NumberOfClasses);
        Assert.Equal(new Dictionary<int, int> { [0] = 0, [2] = 1 }, metrics.Mapping);
        Assert.Equal(new Dictionary<int, int> { [0] = 0, [1] = 0, [2] = 1 }, metrics.ConfusionMatrix.MajorityMapping);
        Assert.Equal(3, metrics.ConfusionMatrix.ClusterIds.Count);
        Assert.Equal(2, metrics.ConfusionMatrix.ClassLabels.Count);
    }

    [Fact]
    public void FewerClustersThanClassesLeavesSomeClassesUnmatched()
    {
        // [cluster, class]: k0 = {c0: 1, c1: 1}, k1 = {c2: 2}. ACC = (1 + 2)/4; purity the same.
        int[] labels = [0, 1, 2, 2];
        int[] clusters = [0, 0, 1, 1];

        var metrics = ClusteringQuality.Evaluate(labels, clusters);

        Assert.Equal(0.75, metrics.Accuracy, Precision);
        Assert.Equal(0.75, metrics.Purity, Precision);
        Assert.Equal(2, metrics.NumberOfClusters);
        Assert.Equal(3, metrics.NumberOfClasses);
        Assert.Equal(2, metrics.Mapping[1]);
    }

    [Fact]
    public void ArbitraryLabelValuesAndIntegerTypesAreSupported()
    {
        uint[] labels = [3, 3, 7, 7, 42, 42];
        byte[] clusters = [200, 200, 1, 1, 1, 9];
        int[] intLabels = [3, 3, 7, 7, 42, 42];

        var m = ClusteringQuality.ConfusionMatrix(labels, clusters);

        Assert.Equal(new[] { 3, 7, 42 }, m.ClassLabels);
        Assert.Equal(new[] { 1, 9, 200 }, m.ClusterIds);
        Assert.Equal(6, m.NumberOfSamples);
        Assert.Equal(new Dictionary<int, int> { [200] = 3, [1] = 7, [9] = 42 }, m.Mapping);
        // Matched: 2 (200→3) + 2 (1→7) + 1 (9→42) = 5.
        Assert.Equal(5.0 / 6, ClusteringQuality.Accuracy(labels, clusters), Precision);
        Assert.Equal(
            ClusteringQuality.Evaluate(intLabels, clusters.Select(c => (int)c).ToArray()).AdjustedRandIndex,
            ClusteringQuality.AdjustedRandIndex(labels, clusters), Precision);
        Assert.Equal(
            ClusteringQuality.NormalizedMutualInformation(intLabels, new long[] { 200, 200, 1, 1, 1, 9 }),
            ClusteringQuality.NormalizedMutualInformation(labels, clusters), Precision);
    }

    [Fact]
    public void MetricsStayWithinTheirRangesOnRandomClusterings()
    {
        var random = new Random(7);
        for (int trial = 0; trial < 50; trial++)
        {
            int n = random.Next(1, 200);
            var labels = Enumerable.Range(0, n).Select(_ => random.Next(0, 6)).ToArray();
            var clusters = Enumerable.Range(0, n).Select(_ => random.Next(0, 8)).ToArray();

            var m = ClusteringQuality.Evaluate(labels, clusters);

            Assert.InRange(m.Accuracy, 0.0, 1.0);
            Assert.InRange(m.Purity, m.Accuracy, 1.0); // A one-to-one mapping never beats the majority mapping.
            Assert.InRange(m.NormalizedMutualInformation, 0.0, 1.0);
            Assert.InRange(m.AdjustedRandIndex, -0.5, 1.0);
        }
    }

    // ---------------------------------------------------------------- argument validation

    [Fact]
    public void NullArraysThrowWithTheParameterName()
    {
        var e1 = Assert.Throws<ArgumentNullException>(() => ClusteringQuality.Accuracy<int, int>(null!, [1]));
        Assert.Equal("trueLabels", e1.ParamName);
        var e2 = Assert.Throws<ArgumentNullException>(() => ClusteringQuality.Evaluate<int, uint>([1], null!));
        Assert.Equal("predictedClusterIds", e2.ParamName);
    }

    [Fact]
    public void DifferentLengthsThrowWithBothLengths()
    {
        var e = Assert.Throws<ArgumentException>(() => ClusteringQuality.AdjustedRandIndex(new[] { 0, 1, 2 }, new[] { 0, 1 }));
        Assert.Equal("predictedClusterIds", e.ParamName);
        Assert.Contains("trueLabels", e.Message);
        Assert.Contains("3", e.Message);
        Assert.Contains("2", e.Message);
    }

    [Fact]
    public void EmptyArraysThrow()
    {
        var e = Assert.Throws<ArgumentException>(() => ClusteringQuality.Purity(Array.Empty<int>(), Array.Empty<int>()));
        Assert.Equal("trueLabels", e.ParamName);
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void ValuesOutsideInt32Throw()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(
            () => ClusteringQuality.Accuracy(new[] { 0, 1 }, new uint[] { 1, uint.MaxValue }));
        Assert.Equal("predictedClusterIds", e.ParamName);
        Assert.Contains("predictedClusterIds[1]", e.Message);
    }

    // ---------------------------------------------------------------- IDataView overload

    private sealed class KeyRow
    {
        [KeyType(3)]
        public uint Label { get; set; }

        [KeyType(4)]
        public uint PredictedClusterId { get; set; }
    }

    private sealed class FloatRow
    {
        public float Label { get; set; }

        [KeyType(4)]
        public uint PredictedClusterId { get; set; }
    }

    private sealed class TextRow
    {
        public string Label { get; set; } = "";

        [KeyType(4)]
        public uint PredictedClusterId { get; set; }
    }

    private sealed class IntRow
    {
        public int Truth { get; set; }

        public double Cluster { get; set; }
    }

    [Fact]
    public void DataViewWithKeyLabelsMatchesTheArrayOverload()
    {
        var ml = new MLContext(seed: 1);
        // Same contingency as the worked 3x3 example, with classes and clusters as keys. LoadFromEnumerable takes
        // a [KeyType] field as the 0-based key index, so the column holds the key values 1..3.
        var (labels, clusters) = FromContingency(new[,] { { 4, 1, 0 }, { 0, 3, 1 }, { 3, 0, 2 } });
        var rows = labels.Zip(clusters, (l, c) => new KeyRow { Label = (uint)l, PredictedClusterId = (uint)c });
        var data = ml.Data.LoadFromEnumerable(rows);

        var metrics = ClusteringQuality.Evaluate(data);

        Assert.IsType<KeyDataViewType>(data.Schema["Label"].Type);
        Assert.Equal(9.0 / 14, metrics.Accuracy, Precision);
        Assert.Equal(10.0 / 14, metrics.Purity, Precision);
        Assert.Equal(31.0 / 136, metrics.AdjustedRandIndex, Precision);
        Assert.Equal(ClusteringQuality.NormalizedMutualInformation(labels, clusters), metrics.NormalizedMutualInformation, Precision);
        // Key values are reported as they are (1-based).
        Assert.Equal(new[] { 1, 2, 3 }, metrics.ConfusionMatrix.ClassLabels);
        Assert.Equal(new[] { 1, 2, 3 }, metrics.ConfusionMatrix.ClusterIds);
        Assert.Equal(new Dictionary<int, int> { [1] = 1, [2] = 2, [3] = 3 }, metrics.Mapping);
    }

    [Fact]
    public void DataViewWithFloatLabelsAndMapValueToKeyGiveTheSameMetrics()
    {
        var ml = new MLContext(seed: 1);
        float[] digits = [7, 7, 2, 2, 2, 9, 9, 9, 9, 7];
        uint[] predicted = [1, 1, 2, 2, 3, 3, 3, 3, 1, 2];
        var data = ml.Data.LoadFromEnumerable(digits.Zip(predicted, (d, p) => new FloatRow { Label = d, PredictedClusterId = p }));

        var fromFloats = ClusteringQuality.Evaluate(data);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var fromKeys = ClusteringQuality.Evaluate(keyed);
        var fromArrays = ClusteringQuality.Evaluate(digits.Select(d => (int)d).ToArray(), predicted);

        Assert.Equal(new[] { 2, 7, 9 }, fromFloats.ConfusionMatrix.ClassLabels);
        Assert.IsType<KeyDataViewType>(keyed.Schema["Label"].Type);
        foreach (var m in new[] { fromKeys, fromArrays })
        {
            Assert.Equal(fromFloats.Accuracy, m.Accuracy, Precision);
            Assert.Equal(fromFloats.NormalizedMutualInformation, m.NormalizedMutualInformation, Precision);
            Assert.Equal(fromFloats.AdjustedRandIndex, m.AdjustedRandIndex, Precision);
            Assert.Equal(fromFloats.Purity, m.Purity, Precision);
        }
        // [cluster, class 2/7/9]: k1 = {7: 2, 9: 1}, k2 = {2: 2, 7: 1}, k3 = {2: 1, 9: 3}
        // → k1→7, k2→2, k3→9 matches 2 + 2 + 3 = 7 of 10.
        Assert.Equal(0.7, fromFloats.Accuracy, Precision);
    }

    [Fact]
    public void DataViewWithCustomColumnNamesAndIntegerTypes()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[]
        {
            new IntRow { Truth = 5, Cluster = 0 },
            new IntRow { Truth = 5, Cluster = 0 },
            new IntRow { Truth = 6, Cluster = 3 },
        });

        var metrics = ClusteringQuality.Evaluate(data, labelColumnName: "Truth", predictedClusterIdColumnName: "Cluster");

        Assert.Equal(1.0, metrics.Accuracy, Precision);
        Assert.Equal(new[] { 0, 3 }, metrics.ConfusionMatrix.ClusterIds);
    }

    [Fact]
    public void DataViewWrongColumnTypeNamesColumnExpectedAndFoundTypes()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(new[] { new TextRow { Label = "cat", PredictedClusterId = 1 } });

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ClusteringQuality.Evaluate(data));

        Assert.Equal("labelColumnName", e.ParamName);
        Assert.Contains("'Label'", e.Message);
        Assert.Contains("found String", e.Message);
        Assert.Contains("key, Single, Double, Int32, UInt32 or Byte", e.Message);
    }

    [Fact]
    public void DataViewMissingColumnListsAvailableColumns()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(new[] { new FloatRow { Label = 1, PredictedClusterId = 1 } });

        var e = Assert.Throws<ArgumentOutOfRangeException>(
            () => ClusteringQuality.Evaluate(data, predictedClusterIdColumnName: "PredictedLabel"));

        Assert.Equal("predictedClusterIdColumnName", e.ParamName);
        Assert.Contains("'PredictedLabel'", e.Message);
        Assert.Contains("'Label'", e.Message);
        Assert.Contains("'PredictedClusterId'", e.Message);
    }

    private sealed class RawClusterRow
    {
        public float Label { get; set; }

        public float Cluster { get; set; }
    }

    [Fact]
    public void DataViewMissingKeyValueNamesColumnAndRow()
    {
        var ml = new MLContext();
        // A key column whose row 2 holds the missing key (0): MapValueToKey maps values it has not seen to 0.
        var seen = ml.Data.LoadFromEnumerable(new[] { new RawClusterRow { Cluster = 1 }, new RawClusterRow { Cluster = 2 } });
        var data = ml.Data.LoadFromEnumerable(new[]
        {
            new RawClusterRow { Label = 1, Cluster = 1 },
            new RawClusterRow { Label = 2, Cluster = 2 },
            new RawClusterRow { Label = 3, Cluster = 3 },
        });
        var keyed = ml.Transforms.Conversion.MapValueToKey("PredictedClusterId", "Cluster").Fit(seen).Transform(data);
        Assert.Equal(new uint[] { 1, 2, 0 }, keyed.GetColumn<uint>("PredictedClusterId").ToArray());

        var e = Assert.Throws<ArgumentException>(() => ClusteringQuality.Evaluate(keyed));

        Assert.Equal("predictedClusterIdColumnName", e.ParamName);
        Assert.Contains("'PredictedClusterId'", e.Message);
        Assert.Contains("row 2", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void DataViewNaNOrFractionalLabelNamesColumnAndRow()
    {
        var ml = new MLContext();
        var nan = ml.Data.LoadFromEnumerable(new[]
        {
            new FloatRow { Label = 1, PredictedClusterId = 1 },
            new FloatRow { Label = float.NaN, PredictedClusterId = 1 },
        });
        var fractional = ml.Data.LoadFromEnumerable(new[] { new FloatRow { Label = 1.5f, PredictedClusterId = 1 } });

        var e1 = Assert.Throws<ArgumentException>(() => ClusteringQuality.Evaluate(nan));
        var e2 = Assert.Throws<ArgumentException>(() => ClusteringQuality.Evaluate(fractional));

        Assert.Equal("labelColumnName", e1.ParamName);
        Assert.Contains("'Label'", e1.Message);
        Assert.Contains("NaN", e1.Message);
        Assert.Contains("row 1", e1.Message);
        Assert.Contains("1.5", e2.Message);
        Assert.Contains("row 0", e2.Message);
    }

    [Fact]
    public void DataViewWithoutRowsThrows()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(Array.Empty<KeyRow>());

        var e = Assert.Throws<ArgumentException>(() => ClusteringQuality.Evaluate(data));

        Assert.Equal("data", e.ParamName);
        Assert.Contains("no rows", e.Message);
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>Expands a [cluster, class] count table into label/cluster arrays (class j, cluster i).</summary>
    private static (int[] Labels, int[] Clusters) FromContingency(int[,] counts)
    {
        var labels = new List<int>();
        var clusters = new List<int>();
        for (int i = 0; i < counts.GetLength(0); i++)
            for (int j = 0; j < counts.GetLength(1); j++)
                Add(labels, clusters, j, i, counts[i, j]);
        return (labels.ToArray(), clusters.ToArray());
    }

    private static void Add(List<int> labels, List<int> clusters, int label, int cluster, int times)
    {
        for (int t = 0; t < times; t++)
        {
            labels.Add(label);
            clusters.Add(cluster);
        }
    }

    private static long BruteForceBest(long[,] w)
    {
        int rows = w.GetLength(0), cols = w.GetLength(1);
        long best = long.MinValue;
        void Search(int row, bool[] usedCols, int assigned, long sum)
        {
            if (row == rows)
            {
                if (assigned == Math.Min(rows, cols))
                    best = Math.Max(best, sum);
                return;
            }
            // Leave this row unassigned (only useful when rows > cols) ...
            Search(row + 1, usedCols, assigned, sum);
            // ... or give it any free column.
            for (int c = 0; c < cols; c++)
            {
                if (usedCols[c])
                    continue;
                usedCols[c] = true;
                Search(row + 1, usedCols, assigned + 1, sum + w[row, c]);
                usedCols[c] = false;
            }
        }
        Search(0, new bool[cols], 0, 0);
        return best;
    }
}
