using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>NumberOfClusters = 0: Fit pretrains once, seeds and scores every candidate K, and self-trains the chosen one.</summary>
public class ChoosingKTests
{
    private const int Blobs = 5;

    private sealed class Row
    {
        [VectorType(8)] public float[] Features { get; set; } = Array.Empty<float>();
        public int Label { get; set; }
    }

    /// <summary>400 rows around <see cref="Blobs"/> centres 12 standard deviations apart in 8 dimensions.</summary>
    private static IDataView BlobData(MLContext ml)
    {
        var random = new Random(3);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var centres = Enumerable.Range(0, Blobs).Select(b => Enumerable.Range(0, 8).Select(d => d == b ? 12.0 : 0.0).ToArray()).ToArray();
        var rows = Enumerable.Range(0, 400).Select(i => new Row
        {
            Label = i % Blobs,
            Features = centres[i % Blobs].Select(c => (float)((c + Normal()) / 12)).ToArray(),
        }).ToList();
        return ml.Data.LoadFromEnumerable(rows);
    }

    private static DeepClusterOptions Choosing(ClusterCountCriterion criterion) => new()
    {
        NumberOfClusters = 0, MinimumNumberOfClusters = 2, MaximumNumberOfClusters = 9, ClusterCountCriterion = criterion,
        HiddenLayers = new[] { 32 }, EmbeddingDimension = 4, PretrainEpochs = 60, BatchSize = 64,
        KMeansInitializations = 5, MaxIterations = 60, UpdateInterval = 20, Seed = 1,
    };

    [Theory]
    [InlineData(ClusterCountCriterion.DaviesBouldin)]
    [InlineData(ClusterCountCriterion.Silhouette)]
    [InlineData(ClusterCountCriterion.Modularity)]
    [InlineData(ClusterCountCriterion.Modularity, SeedingMethod.Umap)]
    [InlineData(ClusterCountCriterion.Modularity, SeedingMethod.Spectral)]
    public void BlobsWithAKnownKAreCountedExactly(ClusterCountCriterion criterion, SeedingMethod seeding = SeedingMethod.KMeans)
    {
        var ml = new MLContext(seed: 1);
        var data = BlobData(ml);
        var options = Choosing(criterion);
        options.Seeding = seeding;
        using var model = ml.Transforms.DeepCluster(options).Fit(data);

        Assert.True(Blobs == model.NumberOfClusters, string.Join(" ", model.History.ClusterCountCandidates.Select(c => $"{c.NumberOfClusters}:{c.Score:F4}:{string.Join("/", c.ClusterSizes)}")));
        Assert.Equal(Blobs, model.Options.NumberOfClusters);
        var history = model.History;
        Assert.Equal(criterion, history.ClusterCountCriterion);
        Assert.Equal(Enumerable.Range(2, 8), history.ClusterCountCandidates.Select(c => c.NumberOfClusters));
        Assert.Equal(Blobs, history.ClusterCountCandidates.Single(c => c.Chosen).NumberOfClusters);
        Assert.All(history.ClusterCountCandidates, c => Assert.Equal(400, c.ClusterSizes.Sum()));
        Assert.All(history.ClusterCountCandidates, c => Assert.Equal(c.NumberOfClusters, c.ClusterSizes.Count));
        // Inertia falls as K grows (each candidate is the best of several restarts).
        Assert.True(history.ClusterCountCandidates[^1].Inertia < history.ClusterCountCandidates[0].Inertia);

        var scored = model.Transform(data);
        Assert.Equal(Blobs, ((VectorDataViewType)scored.Schema["Score"].Type).Size);
        var labels = data.GetColumn<int>("Label").ToArray();
        Assert.Equal(1.0, ClusteringQuality.Accuracy(labels, TestData.KeyColumn(scored, "PredictedClusterId")));
    }

    [Theory]
    [InlineData(SeedingMethod.KMeans)]
    // UMAP's layout is computed once for all candidates: the candidate must still see the generator as a fixed-K fit does.
    [InlineData(SeedingMethod.Umap)]
    // So are spectral seeding's eigenvectors; with one candidate they are as many as the fixed-K fit's.
    [InlineData(SeedingMethod.Spectral)]
    public void ARangeOfOneCandidateIsTheFixedKFitBitForBit(SeedingMethod seeding)
    {
        var ml = new MLContext(seed: 1);
        var data = BlobData(ml);
        var fixedOptions = Choosing(ClusterCountCriterion.DaviesBouldin);
        fixedOptions.NumberOfClusters = 4;   // not the true K: the choice must not matter
        fixedOptions.Seeding = seeding;
        var rangeOptions = Choosing(ClusterCountCriterion.DaviesBouldin);
        rangeOptions.MinimumNumberOfClusters = rangeOptions.MaximumNumberOfClusters = 4;
        rangeOptions.Seeding = seeding;

        using var fixedK = ml.Transforms.DeepCluster(fixedOptions).Fit(data);
        using var ranged = ml.Transforms.DeepCluster(rangeOptions).Fit(data);

        Assert.Equal(fixedK.Centroids, ranged.Centroids);
        Assert.Equal(fixedK.History.SeedingAssignments, ranged.History.SeedingAssignments);
        Assert.Equal(fixedK.History.SelfTrainingUpdates, ranged.History.SelfTrainingUpdates);
        Assert.Equal(TestData.Column(fixedK.Transform(data), "Embedding"), TestData.Column(ranged.Transform(data), "Embedding"));
        Assert.Empty(fixedK.History.ClusterCountCandidates);
        Assert.True(ranged.History.ClusterCountCandidates.Single().Chosen);
    }

    [Fact]
    public void SpectralSeedingComputesTheGraphsEigenvectorsOnceAndEachCandidateClustersItsOwnLeadingOnes()
    {
        var ml = new MLContext(seed: 1);
        var data = BlobData(ml);
        var options = Choosing(ClusterCountCriterion.Modularity);
        options.Seeding = SeedingMethod.Spectral;
        options.MaxIterations = 0;
        var lines = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("Spectral seeding:")) lines.Add(e.Message); };
        using var model = ml.Transforms.DeepCluster(options).Fit(data);

        // K = 2..9 take K + ⌊K/5⌋ eigenvectors: 10 for K = 9, computed once.
        Assert.Single(lines, line => line.Contains("leading eigenvectors of the"));
        Assert.Contains(lines, line => line.Contains("10 leading eigenvectors of the 10-NN graph of 400 rows"));
        var used = lines.Where(line => line.Contains("k-means on the leading"))
            .Select(line => int.Parse(System.Text.RegularExpressions.Regex.Match(line, @"k-means on the leading (\d+) of them").Groups[1].Value));
        Assert.Equal(new[] { 2, 3, 4, 6, 7, 8, 9, 10 }, used);
    }

    [Fact]
    public void CandidatesDoNotDependOnTheRange()
    {
        // Each candidate is seeded from the same generator state, so K = 3 scores the same in 2..4 as in 3..6.
        var ml = new MLContext(seed: 1);
        var data = BlobData(ml);
        var narrow = Choosing(ClusterCountCriterion.Silhouette);
        narrow.MinimumNumberOfClusters = 2;
        narrow.MaximumNumberOfClusters = 4;
        narrow.MaxIterations = 0;
        var wide = Choosing(ClusterCountCriterion.Silhouette);
        wide.MinimumNumberOfClusters = 3;
        wide.MaximumNumberOfClusters = 6;
        wide.MaxIterations = 0;
        using var a = ml.Transforms.DeepCluster(narrow).Fit(data);
        using var b = ml.Transforms.DeepCluster(wide).Fit(data);
        var inA = a.History.ClusterCountCandidates.Single(c => c.NumberOfClusters == 3);
        var inB = b.History.ClusterCountCandidates.Single(c => c.NumberOfClusters == 3);
        Assert.Equal(inA.Score, inB.Score);
        Assert.Equal(inA.Inertia, inB.Inertia);
        Assert.Equal(inA.ClusterSizes, inB.ClusterSizes);
    }

    [Fact]
    public void BadRangesAreNamed()
    {
        var ml = new MLContext(seed: 1);
        var tooSmall = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.DeepCluster(new DeepClusterOptions { NumberOfClusters = 0, MinimumNumberOfClusters = 1 }));
        Assert.Equal(nameof(DeepClusterOptions.MinimumNumberOfClusters), tooSmall.ParamName);
        Assert.Contains("at least 2", tooSmall.Message);

        var inverted = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.DeepCluster(new DeepClusterOptions { NumberOfClusters = 0, MinimumNumberOfClusters = 8, MaximumNumberOfClusters = 5 }));
        Assert.Equal(nameof(DeepClusterOptions.MaximumNumberOfClusters), inverted.ParamName);
        Assert.Contains("MinimumNumberOfClusters (8)", inverted.Message);

        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.DeepCluster(new DeepClusterOptions { NumberOfClusters = -3 }));
        Assert.Equal(nameof(DeepClusterOptions.NumberOfClusters), negative.ParamName);
        Assert.Contains("0 to choose K", negative.Message);

        var options = TestData.TinyOptions();
        options.NumberOfClusters = 0;
        options.MaximumNumberOfClusters = 500;
        var data = TestData.Mnist(ml, 100);
        var tooMany = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.DeepCluster(options).Fit(data));
        Assert.Equal(nameof(DeepClusterOptions.MaximumNumberOfClusters), tooMany.ParamName);
        Assert.Contains("number of training rows (100)", tooMany.Message);
    }
}
