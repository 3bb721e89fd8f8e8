using Microsoft.ML.DeepClustering.Networks;
using Microsoft.ML.DeepClustering.Runtime;
using Microsoft.ML.DeepClustering.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>The two seeding methods on embeddings whose true clusters are known.</summary>
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

    private static TrainingContext Context(SeedingMethod method) => new(
        new DeepClusterOptions { NumberOfClusters = 2, KMeansInitializations = 5, Seeding = method, SpectralNeighbors = 10 },
        CPU, seed: 1, CancellationToken.None, _ => { });

    [Fact]
    public void SpectralSeedingFollowsTheManifoldWhereKMeansCutsAcrossIt()
    {
        var (z, truth) = Bars();
        using var kmeansContext = Context(SeedingMethod.KMeans);
        var kmeans = KMeansSeeding.Run(z, kmeansContext);
        using var spectralContext = Context(SeedingMethod.Spectral);
        var spectral = SpectralSeeding.Run(z, spectralContext);

        double kmeansAccuracy = Accuracy(z, kmeans.Centroids, truth);
        double spectralAccuracy = Accuracy(z, spectral.Centroids, truth);
        Assert.True(kmeansAccuracy < 0.8, $"k-means should cut the bars across: {kmeansAccuracy:F3}");
        Assert.True(spectralAccuracy > 0.99, $"spectral seeding should find the bars: {spectralAccuracy:F3}");
        // Centroids are the mean embedding of each bar: about (2, 0) and (2, 1).
        var c = spectral.Centroids.data<float>().ToArray();
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
        using var context = new TrainingContext(new DeepClusterOptions { NumberOfClusters = 3, KMeansInitializations = 4 }, CPU, 2, CancellationToken.None, _ => { });
        var result = KMeansSeeding.Run(z, context);
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
        var (distances, indices) = SpectralSeeding.NearestNeighbours(z, neighbours, CancellationToken.None);
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
        using var context = Context(SeedingMethod.Spectral);

        var y = SpectralSeeding.TopEigenvectors(s, n, k, products: 30, context);

        Assert.Equal(new long[] { n, k }, y.shape);
        // Orthonormal columns, and the same subspace as the true leading eigenvectors: every singular value of
        // Q_kᵀ Y (the cosines of the principal angles) is 1.
        Assert.True((y.t().mm(y) - eye(k)).abs().max().item<float>() < 1e-4f, "the vectors are not orthonormal");
        var cosines = linalg.svdvals(q.narrow(1, 0, k).t().mm(y)).data<float>().ToArray();
        Assert.All(cosines, c => Assert.True(c > 0.999f, $"principal-angle cosines {string.Join(", ", cosines)}"));
        var rayleigh = y.t().mm(s.mm(y)).diagonal().sort().Values.data<float>().ToArray();
        Assert.Equal(new[] { 0.94, 0.96, 0.98, 1.0 }, rayleigh.Select(v => Math.Round(v, 3)));
    }
}
