using Microsoft.ML.DeepClustering.Graphs;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>The building blocks of neighbour graphs at scale: NN-descent, the CSR affinity, the Chebyshev eigensolver.</summary>
public class NeighbourGraphTests
{
    /// <summary>A mixture of unit Gaussians in <paramref name="dims"/> dimensions, means spread N(0, 3²) per dimension.</summary>
    private static float[] Blobs(int rows, int dims, int components, int seed)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var means = Enumerable.Range(0, components * dims).Select(_ => (float)(3 * Normal())).ToArray();
        var points = new float[rows * dims];
        for (int i = 0; i < rows; i++)
        {
            int c = random.Next(components);
            for (int t = 0; t < dims; t++)
                points[i * dims + t] = means[c * dims + t] + (float)Normal();
        }
        return points;
    }

    /// <summary>The exact neighbour lists by the library's exact search, as [n, k] arrays.</summary>
    private static (float[] Squared, int[] Indices) Exact(float[] points, int n, int dims, int k)
    {
        using var scope = NewDisposeScope();
        var (squared, indices) = NearestNeighbours.Exact(tensor(points, new long[] { n, dims }), k, CancellationToken.None);
        return (squared.data<float>().ToArray(), indices.data<long>().Select(i => (int)i).ToArray());
    }

    [Fact]
    public void NnDescentFindsNineteenInTwentyOfTheExactNeighboursOnBlobs()
    {
        // Approximate is what runs from NearestNeighbours.ApproximateFromRows rows on; 12,000 rows keep the test quick
        // and need the same search (16 dimensions are as hard for it as the embeddings it is for).
        const int n = 12_000, dims = 16, k = 10;
        var points = Blobs(n, dims, 20, seed: 5);
        var (squared, indices) = NearestNeighbours.Approximate(points, n, dims, k, seed: 1, CancellationToken.None);
        var (_, exact) = Exact(points, n, dims, k);
        long hits = 0;
        for (int i = 0; i < n; i++)
        {
            var found = indices.AsSpan(i * k, k);
            for (int t = 0; t < k; t++)
                if (found.Contains(exact[i * k + t])) hits++;
            // Self excluded, distances ascending and equal to the true squared distances.
            Assert.False(found.Contains(i));
            for (int t = 0; t < k; t++)
            {
                Assert.Equal(NearestNeighbours.SquaredDistance(points, dims, i, found[t]), squared[i * k + t]);
                if (t > 0) Assert.True(squared[i * k + t - 1] <= squared[i * k + t]);
            }
        }
        double recall = hits / (double)(n * k);
        Assert.True(recall >= 0.95, $"recall@{k} {recall:F4} below 0.95");
    }

    [Fact]
    public void TheSameSeedGivesTheSameGraphOnOneAndTwoThreads()
    {
        const int n = 4_000, dims = 8, k = 10;
        var points = Blobs(n, dims, 6, seed: 2);
        var one = NearestNeighbours.Approximate(points, n, dims, k, seed: 7, CancellationToken.None, threads: 1);
        var again = NearestNeighbours.Approximate(points, n, dims, k, seed: 7, CancellationToken.None, threads: 1);
        var two = NearestNeighbours.Approximate(points, n, dims, k, seed: 7, CancellationToken.None, threads: 2);
        Assert.Equal(one.Indices, again.Indices);
        Assert.Equal(one.Indices, two.Indices);
        Assert.Equal(one.SquaredDistances, two.SquaredDistances);
        // The seed does reach the search: another one starts elsewhere and ends in at least a slightly different graph.
        var other = NearestNeighbours.Approximate(points, n, dims, k, seed: 8, CancellationToken.None, threads: 2);
        Assert.NotEqual(one.Indices, other.Indices);
    }

    [Fact]
    public void CsrAffinityMatchesSpectralSeedingsNormalisedAffinity()
    {
        const int n = 300, dims = 4, k = 8;
        var points = Blobs(n, dims, 3, seed: 4);
        var (squared, indices) = Exact(points, n, dims, k);
        var csr = SparseMatrix.SelfTuningAffinity(n, k, squared, indices);

        using var scope = NewDisposeScope();
        var d = tensor(squared, new long[] { n, k });
        var sigma = d[.., k / 2 - 1].sqrt().clamp_min(1e-8);
        var rows = arange(n).unsqueeze(1).expand(n, k).reshape(-1);
        var cols = tensor(indices.Select(i => (long)i).ToArray());
        var w = (-d.reshape(-1) / (sigma[rows] * sigma[cols])).exp();
        var expected = Affinity.Normalised(cat(new[] { rows, cols }), cat(new[] { cols, rows }), cat(new[] { w, w }) / 2, n).to_dense();
        Assert.True(Dense(csr).allclose(expected, rtol: 1e-5, atol: 1e-6));
        // Symmetric, and each row's columns sorted without repeats.
        for (int i = 0; i < n; i++)
            for (int e = csr.RowStart[i] + 1; e < csr.RowStart[i + 1]; e++)
                Assert.True(csr.Columns[e - 1] < csr.Columns[e]);
    }

    private static Tensor Dense(SparseMatrix s)
    {
        var dense = new float[s.Rows * s.Rows];
        for (int i = 0; i < s.Rows; i++)
            for (int e = s.RowStart[i]; e < s.RowStart[i + 1]; e++)
                dense[i * s.Rows + s.Columns[e]] = s.Values[e];
        return tensor(dense, new long[] { s.Rows, s.Rows });
    }

    [Fact]
    public void EigensolverAgreesWithTheDenseEigendecomposition()
    {
        const int n = 1_500, dims = 6, k = 10, count = 12;
        var points = Blobs(n, dims, 4, seed: 6);
        var (squared, indices) = Exact(points, n, dims, k);
        var s = SparseMatrix.SelfTuningAffinity(n, k, squared, indices);

        using var scope = NewDisposeScope();
        using var vectors = ChebyshevEigensolver.LeadingEigenvectors(s, count, maxProducts: 2_000, seed: 3, CancellationToken.None, tolerance: 1e-5, threads: 0, out int products);
        Assert.Equal(new long[] { n, count }, vectors.shape);
        var (values, exact) = linalg.eigh(Dense(s).to(ScalarType.Float64));
        var leading = values.narrow(0, n - count, count);
        var x = vectors.to(ScalarType.Float64);
        // Rayleigh quotients in the same ascending order, and within the tolerance of the true eigenvalues.
        var quotients = (x * Dense(s).to(ScalarType.Float64).mm(x)).sum(dim: 0);
        Assert.True((quotients - leading).abs().max().item<double>() < 1e-4, $"Rayleigh quotients {string.Join(", ", quotients.data<double>().ToArray())} against eigenvalues {string.Join(", ", leading.data<double>().ToArray())}");
        // The same subspace: every principal angle with the true leading eigenvectors is near zero, provided the
        // count-th eigenvalue is separated from the next.
        Assert.True(values[n - count].item<double>() - values[n - count - 1].item<double>() > 1e-3);
        var cosines = linalg.svdvals(exact.narrow(1, n - count, count).t().mm(x));
        Assert.True(cosines.min().item<double>() > 0.999, $"smallest cosine of a principal angle {cosines.min().item<double>()}; {products} products");
        Assert.True(products < 2_000, "the solver did not converge");
    }

    [Fact]
    public void EigensolverMemoryStaysLinearOnTwoHundredThousandNodes()
    {
        if (!OperatingSystem.IsLinux())
            return;
        // A sparse graph of 200,000 nodes, each linked to 10 others by a fixed hash: its shape, not its meaning, matters.
        const int n = 200_000, k = 10, count = 24;
        var indices = new int[n * k];
        var weights = new float[n * k];
        for (int i = 0; i < n; i++)
            for (int t = 0; t < k; t++)
            {
                indices[i * k + t] = (int)((i + 1 + (long)(t * t + 1) * 7919 * (t + 1)) % n);
                weights[i * k + t] = 1f / (t + 1);
            }
        var s = SparseMatrix.Symmetrised(n, k, indices, weights).Normalised();
        // A small run first, so that libtorch's and MKL's one-off start-up (code pages, thread buffers) is not counted.
        var small = SparseMatrix.Symmetrised(2_000, k, indices.Select(i => i % 2_000).Take(2_000 * k).ToArray(), weights).Normalised();
        ChebyshevEigensolver.LeadingEigenvectors(small, count, 12, 1, CancellationToken.None, 1e-4, 0, out _).Dispose();
        GC.Collect();
        long before = Resident("VmRSS");
        File.WriteAllText("/proc/self/clear_refs", "5"); // resets VmHWM, the peak resident set
        using (var vectors = ChebyshevEigensolver.LeadingEigenvectors(s, count, maxProducts: 12, seed: 1, CancellationToken.None, 1e-4, 0, out int products))
            Assert.Equal(new long[] { n, count }, vectors.shape);
        long peak = Resident("VmHWM") - before;
        // Three blocks of 32 float32 columns are 77 MB and the result's 24 columns 19 MB; nothing else block-sized may
        // come and go (libtorch's QR added two more blocks). A Krylov basis of 30 blocks of 29 columns would take 700 MB.
        Assert.True(peak < 120L << 20, $"peak resident growth {peak >> 20} MB");
    }

    private static long Resident(string field) =>
        File.ReadLines("/proc/self/status").Where(l => l.StartsWith(field + ":"))
            .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) << 10).First();
}
