using Microsoft.ML.DeepClustering.Graphs;
using Microsoft.ML.DeepClustering.Networks;
using Microsoft.ML.DeepClustering.Runtime;
using Microsoft.ML.DeepClustering.Seeding;
using Microsoft.ML.DeepClustering.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>The seeding methods on embeddings whose true clusters are known.</summary>
public class SeedingTests
{
    /// <summary>
    /// Two thin parallel bars, 1 apart and 4 long. k-means prefers cutting them across (inertia per point 16/48 + 1/4
    /// against 16/12 for the true split, true whenever the length exceeds 2); the neighbour graph keeps each bar whole.
    /// </summary>
    private static (Tensor Z, int[] Labels) Bars(int perBar = 200)
    {
        var random = new Random(3);
        var points = new List<float>();
        var labels = new List<int>();
        for (int bar = 0; bar < 2; bar++)
            for (int i = 0; i < perBar; i++)
            {
                points.Add((float)(random.NextDouble() * 4));
                points.Add(bar + (float)(random.NextDouble() - 0.5) * 0.1f);
                labels.Add(bar);
            }
        return (tensor(points.ToArray(), new long[] { 2 * perBar, 2 }), labels.ToArray());
    }

    private static double Accuracy(Tensor z, Tensor centroids, int[] truth)
    {
        using var assigned = Dec.SquaredDistances(z, centroids).argmin(dim: 1);
        var predicted = assigned.data<long>().Select(v => (int)v).ToArray();
        return ClusteringQuality.Accuracy(truth, predicted);
    }

    private static DeepClusterOptions BarOptions(SeedingMethod method) =>
        new() { NumberOfClusters = 2, KMeansInitializations = 5, Seeding = method, SpectralNeighbors = 10 };

    /// <summary>The seeding <paramref name="options"/> names, prepared and clustered for their K, as a fixed-K Fit runs it.</summary>
    internal static SeedingResult Seed(Tensor z, DeepClusterOptions options, int seed = 1, Action<string>? log = null)
    {
        using var context = new TrainingContext(options, CPU, seed, CancellationToken.None, log ?? (_ => { }));
        using var prepared = Seedings.Create(options, context.ForSeeding).Prepare(z, options.NumberOfClusters);
        return prepared.Cluster(options.NumberOfClusters);
    }

    /// <summary>k-means seeding and a manifold seeding of <paramref name="z"/> with the same options but the method: their accuracies and the manifold seeding's centroids.</summary>
    private static (double KMeans, double Manifold, float[] Centroids) AgainstKMeans(Tensor z, int[] truth, Func<SeedingMethod, DeepClusterOptions> options, SeedingMethod manifold)
    {
        var kmeans = Seed(z, options(SeedingMethod.KMeans));
        var seeded = Seed(z, options(manifold));
        return (Accuracy(z, kmeans.Centroids, truth), Accuracy(z, seeded.Centroids, truth), seeded.Centroids.data<float>().ToArray());
    }

    [Fact]
    public void SpectralSeedingFollowsTheManifoldWhereKMeansCutsAcrossIt()
    {
        var (z, truth) = Bars();
        var (kmeansAccuracy, spectralAccuracy, c) = AgainstKMeans(z, truth, BarOptions, SeedingMethod.Spectral);
        Assert.True(kmeansAccuracy < 0.8, $"k-means should cut the bars across: {kmeansAccuracy:F3}");
        Assert.True(spectralAccuracy > 0.99, $"spectral seeding should find the bars: {spectralAccuracy:F3}");
        // Centroids are the mean embedding of each bar: about (2, 0) and (2, 1).
        Assert.Equal(new[] { 0.0, 1.0 }, new[] { c[1], c[3] }.Select(v => Math.Round(v, 1)).Order());
    }

    [Fact]
    public void KMeansSeedingFindsWellSeparatedBlobsAndKeepsTheBestRestart()
    {
        var random = new Random(5);
        var centres = new[] { (0f, 0f), (10f, 0f), (0f, 10f) };
        var points = new List<float>();
        var truth = new List<int>();
        for (int i = 0; i < 300; i++)
        {
            var (x, y) = centres[i % 3];
            points.Add(x + (float)random.NextDouble());
            points.Add(y + (float)random.NextDouble());
            truth.Add(i % 3);
        }
        using var z = tensor(points.ToArray(), new long[] { 300, 2 });
        var result = Seed(z, new DeepClusterOptions { NumberOfClusters = 3, KMeansInitializations = 4 }, seed: 2);
        Assert.Equal(1.0, Accuracy(z, result.Centroids, truth.ToArray()));
        Assert.Equal(4, result.Inertias.Count);
        Assert.Equal(result.Inertias.Min(), result.Inertia);
        Assert.Equal(result.Inertias.Min(), result.Inertias[result.BestRestart]);
    }

    [Fact]
    public void NearestNeighbourSearchOverSeveralChunksEqualsBruteForce()
    {
        // 5,000 rows make several distance chunks (838 rows each) and a short last one, the case that the
        // preallocated results and the in-place distances must get right at every chunk boundary.
        long chunk = TorchRuntime.HeapChunkRows(sizeof(float) * 5000);
        Assert.InRange(chunk, 2, 2500);
        Assert.NotEqual(0, 5000 % chunk);
        using var scope = NewDisposeScope();
        using var generator = new TorchSharp.torch.Generator(7);
        var z = randn(new long[] { 5000, 4 }, generator: generator);
        const int neighbours = 5;
        var (distances, indices) = NearestNeighbours.Exact(z, neighbours, CancellationToken.None);
        Assert.Equal(new long[] { 5000, neighbours }, distances.shape);

        var rowsChecked = Enumerable.Range(0, 5000).Where(row => row % 97 == 0 || row % chunk == 0 || row % chunk == chunk - 1 || row >= 4995).ToArray();
        foreach (int row in rowsChecked)
        {
            var all = (z - z[row]).square().sum(dim: 1);
            all[row] = float.PositiveInfinity;
            var (expectedValues, expectedIndices) = all.topk(neighbours, largest: false);
            Assert.Equal(expectedIndices.data<long>().ToArray(), indices[row].data<long>().ToArray());
            var expected = expectedValues.data<float>().ToArray();
            var actual = distances[row].data<float>().ToArray();
            for (int j = 0; j < neighbours; j++)
                Assert.True(Math.Abs(expected[j] - actual[j]) <= 1e-4 * (1 + expected[j]), $"row {row}, neighbour {j}: {actual[j]} against {expected[j]}");
        }
    }

    [Fact]
    public void TopEigenvectorsSpanTheLeadingEigenspaceOfASymmetricMatrix()
    {
        // S = Q diag(λ) Qᵀ with four leading eigenvalues (1, 0.98, 0.96, 0.94) just above a bulk in [−0.9, 0.9]: too
        // small a gap for the random start alone, so one restart must build its Krylov blocks right to find them.
        using var scope = NewDisposeScope();
        const int n = 1000, k = 4;
        using var generator = new TorchSharp.torch.Generator(11);
        var q = linalg.qr(randn(new long[] { n, n }, generator: generator)).Q;
        var leading = tensor(new[] { 1f, 0.98f, 0.96f, 0.94f });
        var eigenvalues = cat(new[] { leading, linspace(-0.9, 0.9, n - k) });
        var dense = q.mm(eigenvalues.unsqueeze(1) * q.t());
        var s = ((dense + dense.t()) / 2).to_sparse();
        using var start = new TorchSharp.torch.Generator(1);

        var y = LeadingEigenvectors.Of(s, n, k, products: 30, start, CancellationToken.None);

        Assert.Equal(new long[] { n, k }, y.shape);
        // Orthonormal columns, and the same subspace as the true leading eigenvectors: every singular value of
        // Q_kᵀ Y (the cosines of the principal angles) is 1.
        Assert.True((y.t().mm(y) - eye(k)).abs().max().item<float>() < 1e-4f, "the vectors are not orthonormal");
        var cosines = linalg.svdvals(q.narrow(1, 0, k).t().mm(y)).data<float>().ToArray();
        Assert.All(cosines, c => Assert.True(c > 0.999f, $"principal-angle cosines {string.Join(", ", cosines)}"));
        var rayleigh = y.t().mm(s.mm(y)).diagonal().sort().Values.data<float>().ToArray();
        Assert.Equal(new[] { 0.94, 0.96, 0.98, 1.0 }, rayleigh.Select(v => Math.Round(v, 3)));
    }

    /// <summary>
    /// A broad blob (σ = 2, 300 rows) and two tight ones (σ = 0.1, 100 rows each) 1 apart, 8 from it, in 5 dimensions.
    /// k-means halves the broad blob (its inertia falls by hundreds) and merges the tight pair (costing tens); UMAP
    /// sizes every neighbourhood to the same number of neighbours, so the three come apart as blobs of equal standing.
    /// </summary>
    private static (Tensor Z, int[] Labels) UnevenBlobs()
    {
        var random = new Random(5);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var points = new List<float>();
        var labels = new List<int>();
        foreach (var (label, count, centre, sigma) in new[] { (0, 300, 0.0, 2.0), (1, 100, 8.0, 0.1), (2, 100, 9.0, 0.1) })
            for (int i = 0; i < count; i++)
            {
                for (int d = 0; d < 5; d++)
                    points.Add((float)((d == 0 ? centre : 0) + sigma * Normal()));
                labels.Add(label);
            }
        return (tensor(points.ToArray(), new long[] { labels.Count, 5 }), labels.ToArray());
    }

    [Fact]
    public void UmapSeedingSeparatesBlobsOfUnevenSpreadWhereKMeansSplitsTheBroadOne()
    {
        var (z, truth) = UnevenBlobs();
        var (kmeansAccuracy, umapAccuracy, c) = AgainstKMeans(z, truth,
            method => new() { NumberOfClusters = 3, KMeansInitializations = 5, Seeding = method, UmapDimensions = 2 }, SeedingMethod.Umap);
        Assert.True(kmeansAccuracy < 0.9, $"k-means should split the broad blob: {kmeansAccuracy:F3}");
        Assert.True(umapAccuracy > 0.97, $"UMAP seeding should find the three blobs: {umapAccuracy:F3}, k-means {kmeansAccuracy:F3}");
        // Centroids are the mean embedding of each blob: about 0, 8 and 9 on the first axis.
        Assert.Equal(new[] { 0.0, 8.0, 9.0 }, new[] { c[0], c[5], c[10] }.Select(v => Math.Round(v)).Order());
    }

    [Fact]
    public void UmapLayoutIsTheSameForTheSameSeedAndDiffersForAnother()
    {
        var (z, _) = Bars(100);
        float[] Layout(int seed)
        {
            using var context = new TrainingContext(new DeepClusterOptions(), CPU, seed, CancellationToken.None, _ => { });
            return UmapLayout.Of(FuzzyGraph.Of(z, neighbours: 10, seed: 1, CancellationToken.None), (int)z.shape[0], dimensions: 2, epochs: 50, context.ForSeeding).Coordinates;
        }
        Assert.Equal(Layout(1), Layout(1));
        Assert.NotEqual(Layout(1), Layout(2));
    }

    [Fact]
    public void UmapBandwidthMakesTheMembershipsSumToTheTarget()
    {
        // Distances 1, 2, 3 with ρ = 1: at σ = 1 the memberships are 1, e^−1, e^−2.
        float[] row = [1f, 2f, 3f];
        double target = 1 + Math.Exp(-1) + Math.Exp(-2);
        Assert.Equal(1.0, FuzzyGraph.Bandwidth(row, 1f, target), 4);
        // At σ = 2: 1, e^−1/2, e^−1.
        Assert.Equal(2.0, FuzzyGraph.Bandwidth(row, 1f, 1 + Math.Exp(-0.5) + Math.Exp(-1)), 4);
    }

    [Fact]
    public void UmapFuzzyGraphJoinsBothDirectionsAsAFuzzyUnion()
    {
        // Four points on a line at 0, 1, 3 and 6, three neighbours each (memberships summing to log2(3)). A row's
        // nearest neighbour gets membership 1; a farther one exp(−(d − ρ)/σ) with the row's own σ.
        float[] distances = [1, 3, 6, 1, 2, 5, 2, 3, 3, 3, 5, 6];
        long[] indices = [1, 2, 3, 0, 2, 3, 1, 0, 3, 2, 1, 0];
        var graph = FuzzyGraph.FromNeighbours(distances, indices, n: 4, neighbours: 3);
        Assert.Equal(new[] { 0, 0, 0, 1, 1, 2 }, graph.From);
        Assert.Equal(new[] { 1, 2, 3, 2, 3, 3 }, graph.To);
        // 0 and 1 are each other's nearest: 1 + 1 − 1·1.
        Assert.Equal(1f, graph.Weights[0]);
        // 0–3 is 5 beyond ρ₀ = 1 seen from 0, and 3 beyond ρ₃ = 3 seen from 3.
        double sigma0 = FuzzyGraph.Bandwidth(new float[] { 1, 3, 6 }, 1, Math.Log2(3));
        double sigma3 = FuzzyGraph.Bandwidth(new float[] { 3, 5, 6 }, 3, Math.Log2(3));
        double a = Math.Exp(-5 / sigma0), b = Math.Exp(-3 / sigma3);
        Assert.InRange(a, 1e-3, 0.5);
        Assert.InRange(b, 1e-3, 0.5);
        Assert.Equal(a + b - a * b, graph.Weights[2], 5);
    }

    [Theory]
    [InlineData(150, 150)]
    [InlineData(30, 150)]
    [InlineData(150, 0)]
    [InlineData(2, 150, 100)]
    public void SelfTrainingCanAimAtTheSeedingsPartition(int updateInterval, int partitionSteps, int fullPassRows = 200_000)
    {
        // 200 rows; the centroids split them one way, the "seeding's partition" another (the sign of the first feature).
        // Aimed at that partition (over one target update or five), self-training carries it into the encoder; with
        // DEC's own target it sharpens the centroids' split instead. A tolerance of 50% would stop DEC early; it must
        // not stop steps that aim at a fixed partition.
        // The last case samples its target updates (200 rows above FullPassRows = 100): each of its 75 updates aims
        // at the partition's rows that the next 2 steps visit.
        bool fromPartition = partitionSteps > 0;
        using var scope = NewDisposeScope();
        random.manual_seed(4);
        using var generator = new TorchSharp.torch.Generator(4);
        var x = randn(new long[] { 200, 6 }, generator: generator);
        int[] partition = x[.., 0].data<float>().Select(v => v > 0 ? 1 : 0).ToArray();
        using var autoencoder = new DenseAutoencoder(6, new[] { 16 }, 2);
        var options = new DeepClusterOptions
        {
            NumberOfClusters = 2, BatchSize = 50, UpdateInterval = updateInterval, MaxIterations = 150,
            SeedingPartitionSteps = partitionSteps, Tolerance = 0.5f,
            SelfTrainingOptimizer = SelfTrainingOptimizer.Adam, SelfTrainingLearningRate = 0.01f, FullPassRows = fullPassRows,
        };
        using var context = new TrainingContext(options, CPU, 4, CancellationToken.None, _ => { });
        Tensor start;
        using (no_grad())
        {
            var z = autoencoder.Embed(x);
            start = z.index_select(0, tensor(new long[] { 0, 1 })).clone();
        }
        double Agreement(int[] labels) => labels.Zip(partition).Count(p => p.First == p.Second) / 200.0;
        var initial = KMeans.Assign(autoencoder.Embed(x).detach(), start);
        using var centroids = new TorchSharp.Modules.Parameter(start);

        // The trainer passes the partition whenever the seeding has one; the option decides how long it is the target.
        var result = SelfTraining.Run(autoencoder, centroids, TrainingRows.Resident(x), context, partition);

        // Sampled updates label only their monitor rows: every row's label comes from the trained encoder.
        Assert.Equal(fullPassRows < 200, result.Labels is null);
        var labels = result.Labels ?? KMeans.Assign(autoencoder.Embed(x).detach(), centroids.detach());
        double before = Agreement(initial), after = Agreement(labels);
        if (fromPartition)
        {
            Assert.True(after > 0.9 && after > before + 0.2, $"agreement with the partition {before:F3} → {after:F3}");
            Assert.Equal((150, SelfTrainingStopReason.MaxIterations), (result.Steps, result.StopReason));
        }
        else
            Assert.True(after < 0.8, $"DEC's own target should not find the partition: {before:F3} → {after:F3}");
    }

    // UMAP's 10-d layout needs 11 eigenvectors and Krylov blocks of 16 columns, spectral seeding's for K = 5 (6
    // eigenvectors) blocks of 11: fewer rows than two blocks take the dense eigendecomposition instead.
    [Theory]
    [InlineData(SeedingMethod.Umap, 12, 2)]
    [InlineData(SeedingMethod.Umap, 4, 2)]
    [InlineData(SeedingMethod.Spectral, 12, 5)]
    public void ManifoldSeedingsWorkOnFewerRowsThanTheirBasis(SeedingMethod method, int rows, int k)
    {
        using var generator = new TorchSharp.torch.Generator(2);
        var z = randn(new long[] { rows, 3 }, generator: generator);
        var result = Seed(z, new DeepClusterOptions { NumberOfClusters = k, KMeansInitializations = 2, Seeding = method });
        Assert.Equal(new long[] { k, 3 }, result.Centroids.shape);
        Assert.Equal(rows, result.Partition!.Length);
    }

    [Theory]
    [InlineData(10, 0, 12)]
    [InlineData(5, 0, 6)]
    [InlineData(4, 0, 4)]
    [InlineData(2, 0, 2)]
    [InlineData(10, 7, 7)]
    public void SpectralSeedingRunsKMeansOnKPlusAFifthEigenvectorsUnlessTold(int k, int option, int expected)
    {
        var options = new DeepClusterOptions { NumberOfClusters = k, SpectralEigenvectors = option, Seeding = SeedingMethod.Spectral };
        Assert.Equal(expected, SpectralSeeding.EigenvectorCount(options, options.NumberOfClusters));
        // And the seeding uses that many: its log names them.
        using var generator = new TorchSharp.torch.Generator(3);
        var z = randn(new long[] { 40, 3 }, generator: generator);
        var lines = new List<string>();
        Seed(z, options, log: lines.Add).Centroids.Dispose();
        Assert.Contains(lines, line => line.Contains($"{expected} leading eigenvectors of the 10-NN graph of 40 rows"));
        Assert.Contains(lines, line => line.Contains($"k-means on the leading {expected} of them"));
    }

    [Fact]
    public void AboveTheRowThresholdSpectralSeedingUsesTheApproximateGraphAndStillFindsTheBlobsTheSameWayTwice()
    {
        // The threshold lowered to 500 rows: NN-descent's graph and the Chebyshev eigensolver, as from 100,000 rows.
        var (z, truth) = UnevenBlobs();
        var options = new DeepClusterOptions { NumberOfClusters = 3, KMeansInitializations = 5, Seeding = SeedingMethod.Spectral, ApproximateNeighboursFromRows = 400 };
        var lines = new List<string>();
        var first = Seed(z, options, log: lines.Add);
        var second = Seed(z, options);
        Assert.Contains(lines, line => line.Contains("leading eigenvectors of the approximate 10-NN graph (NN-descent) of 500 rows"));
        Assert.Equal(first.Partition, second.Partition);
        Assert.Equal(first.Centroids.data<float>().ToArray(), second.Centroids.data<float>().ToArray());
        Assert.True(ClusteringQuality.Accuracy(truth, first.Partition!) > 0.97, $"seeding ACC {ClusteringQuality.Accuracy(truth, first.Partition!):F3}");
        // Below the threshold the exact path runs, with its own log line.
        lines.Clear();
        Seed(z, new DeepClusterOptions { NumberOfClusters = 3, KMeansInitializations = 5, Seeding = SeedingMethod.Spectral }, log: lines.Add).Centroids.Dispose();
        Assert.Contains(lines, line => line.Contains("leading eigenvectors of the 10-NN graph of 500 rows"));
    }
    [Fact]
    public void AboveTheRowThresholdKMeansRestartsOnASampleAndRefinesTheBestOnEveryRow()
    {
        // Four separated blobs of 150 rows, interleaved; the large-data path lowered to 400 rows, its sample to 200 rows.
        var random = new Random(11);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var points = new List<float>();
        var truth = new int[600];
        for (int i = 0; i < truth.Length; i++)
        {
            truth[i] = i % 4;
            points.AddRange(new[] { 10.0 * (truth[i] % 2) + Normal(), 10.0 * (truth[i] / 2) + Normal(), Normal() }.Select(v => (float)v));
        }
        using var z = tensor(points.ToArray(), new long[] { truth.Length, 3 });
        var options = new DeepClusterOptions { NumberOfClusters = 4, KMeansInitializations = 5, Seeding = SeedingMethod.KMeans, ApproximateNeighboursFromRows = 400, KMeansSampleRows = 200 };
        var lines = new List<string>();
        var first = Seed(z, options, log: lines.Add);
        var second = Seed(z, options);

        Assert.Contains(lines, line => line.Contains("k-means: 5 restarts on a seeded sample of 200 of 600 rows"));
        Assert.Equal(first.Assignments, second.Assignments);
        Assert.Equal(first.Centroids.data<float>().ToArray(), second.Centroids.data<float>().ToArray());
        Assert.True(ClusteringQuality.Accuracy(truth, first.Assignments) > 0.99, $"ACC {ClusteringQuality.Accuracy(truth, first.Assignments):F3}");
        // The inertia it reports is every row's, to the refined centroids, not the sample's.
        double everyRow = (z.unsqueeze(1) - first.Centroids.unsqueeze(0)).square().sum(2).min(1).values.sum().item<float>();
        Assert.Equal(everyRow, first.Inertia, everyRow * 1e-4);
        Assert.Equal(5, first.Inertias.Count);

        // Below the threshold every restart sees every row, as before.
        lines.Clear();
        options.ApproximateNeighboursFromRows = 100_000;
        Seed(z, options, log: lines.Add).Centroids.Dispose();
        Assert.DoesNotContain(lines, line => line.Contains("seeded sample"));
    }
}
