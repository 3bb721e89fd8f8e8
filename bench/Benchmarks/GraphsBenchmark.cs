using System.Diagnostics;
using Cloud.Unum.USearch;
using Microsoft.ML.DeepClustering.Graphs;
using Microsoft.ML.DeepClustering.Seeding;
using Microsoft.ML.DeepClustering.Samples.Input;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// `bench graphs`: the neighbour graph and the leading eigenvectors of its normalised affinity at scale (issue 35).
/// Times NN-descent and USearch's HNSW against the exact search (recall@10 on a sample of rows, exact by brute force),
/// then the Chebyshev eigensolver on the self-tuning affinity, with the peak resident memory of each step.
/// </summary>
internal static class GraphsBenchmark
{
    public static int Run(string data, int rows, int dims, int k, int count, int seed, bool usearch, bool exactSearch, int sample, int? seedingK = null, bool chooseK = false, string? settings = null)
    {
        if (data.StartsWith("embedding:") || data.StartsWith("embedding-file:"))
            return OnEmbedding(data, k, seed, sample, settings);
        if (seedingK is int clusters)
            return SeedingStage(data, rows, dims, clusters, seed, chooseK);
        Console.WriteLine($"graphs: {data}, {rows:N0} rows × {dims} dims, k = {k}, {count} eigenvectors, seed {seed}, {Environment.ProcessorCount} processors");
        var points = data switch
        {
            "blobs" => Blobs(rows, dims, 20, seed),
            "mnist-pca" => MnistPca(rows, dims),
            _ => throw new ArgumentException($"graphs: unknown --data '{data}'; expected blobs or mnist-pca."),
        };
        int n = points.Length / dims;
        var queries = Enumerable.Range(0, Math.Min(sample, n)).Select(i => (int)((long)i * n / Math.Min(sample, n))).ToArray();
        var exact = Exact(points, n, dims, queries, Math.Min(10, k));

        var clock = Stopwatch.StartNew();
        ResetPeak();
        clock.Restart();
        var (distances, indices) = NearestNeighbours.Approximate(points, n, dims, k, (ulong)seed, CancellationToken.None, 0, out int rounds);
        Report($"NN-descent ({rounds} rounds)", clock.Elapsed, Recall(indices, k, queries, exact));

        if (usearch)
        {
            ResetPeak();
            clock.Restart();
            var found = USearchGraph(points, n, dims, k, out var build);
            Report($"USearch (build {build.TotalSeconds:F1} s, then search, both on one thread)", clock.Elapsed, Recall(found, k, queries, exact));
        }

        if (count == 0)
        {
            Console.WriteLine($"whole process peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 >> 20} MB");
            return 0;
        }
        ResetPeak();
        clock.Restart();
        var s = SparseMatrix.SelfTuningAffinity(n, k, distances, indices);
        var affinity = clock.Elapsed;
        using var vectors = ChebyshevEigensolver.LeadingEigenvectors(s, count, 600, (ulong)seed, CancellationToken.None, 1e-3, 0, out int products,
            (done, cut, residual) => Console.Error.WriteLine($"  {clock.Elapsed.TotalSeconds,6:F1} s: {done} products, cut {cut:F5}, largest residual {residual:E2}"));
        Report($"affinity ({affinity.TotalSeconds:F1} s, {s.Entries:N0} entries) + {count} eigenvectors ({products} block products)", clock.Elapsed, null);
        if (exactSearch)
        {
            // The exact search spectral seeding runs today (quadratic), on the whole data set; last, because libtorch's
            // freed blocks stay resident and would count in the later steps' peaks.
            ResetPeak();
            clock.Restart();
            using var scope = NewDisposeScope();
            NearestNeighbours.Exact(tensor(points, new long[] { n, dims }), k, CancellationToken.None);
            Report("exact search (libtorch, all rows)", clock.Elapsed, 1);
        }

        Console.WriteLine($"whole process peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 >> 20} MB");
        return 0;
    }

    /// <summary>
    /// The whole seeding stage as Fit runs it on an embedding of <paramref name="rows"/> rows: <c>Recommended()</c>'s
    /// spectral seeding for K = <paramref name="clusters"/> (graph, eigenvectors, k-means with its restarts, centroids),
    /// then, with <paramref name="chooseK"/>, choosing K over 2–20 by modularity as <c>NumberOfClusters = 0</c> does. Each
    /// with its time, ACC against the mixture's components, and the stage's own memory: the peak resident set during the
    /// stage less what was resident before it (the embedding and the bench's rows).
    /// </summary>
    private static int SeedingStage(string data, int rows, int dims, int clusters, int seed, bool chooseK)
    {
        if (data != "blobs")
            throw new ArgumentException("graphs --seeding-k: only --data blobs has labels.");
        var (points, labels) = BlobsWithLabels(rows, dims, 20, seed);
        Console.WriteLine($"seeding stage: blobs, {rows:N0} rows × {dims} dims (20 components), Recommended()'s spectral seeding, seed {seed}, {Environment.ProcessorCount} processors");
        using var z = tensor(points, new long[] { rows, dims });
        points = null!;
        var options = DeepClusterPresets.Recommended();
        options.Seed = seed;
        foreach (bool choosing in chooseK ? new[] { false, true } : new[] { false })
        {
            using var generator = new Generator().manual_seed(seed);
            var context = new SeedingContext(generator, CancellationToken.None, line => Console.Error.WriteLine($"  {line}"), (_, _, _) => { }, seed);
            ResetPeak();
            long before = CurrentMegabytes();
            var clock = Stopwatch.StartNew();
            int[] assignments;
            string what;
            if (!choosing)
            {
                using var prepared = Seedings.Create(options, context).Prepare(z, clusters);
                var result = prepared.Cluster(clusters);
                result.Centroids.Dispose();
                assignments = result.Assignments;
                what = $"one K ({clusters})";
            }
            else
            {
                var range = DeepClusterPresets.Recommended();
                range.Seed = seed;
                range.NumberOfClusters = 0;
                var result = ClusterCountChoice.Run(z, range, context, seed);
                result.Seeding.Centroids.Dispose();
                assignments = result.Seeding.Assignments;
                what = $"choosing K over {range.MinimumNumberOfClusters}–{range.MaximumNumberOfClusters} by {range.ClusterCountCriterion} (chose {result.NumberOfClusters})";
            }
            var time = clock.Elapsed;
            var m = ClusteringQuality.Evaluate(labels, assignments.Select(a => (uint)(a + 1)).ToArray());
            long peak = PeakMegabytes();
            Console.WriteLine($"{what}: {time.TotalSeconds:F1} s ({1e6 * time.TotalSeconds / rows:F0} µs a row), ACC {m.Accuracy:F4}, NMI {m.NormalizedMutualInformation:F4}; " +
                $"resident {before} MB before, peak {peak} MB, the stage's own {peak - before} MB");
        }
        return 0;
    }

    /// <summary>
    /// <c>--data embedding:DATASET:EPOCHS:CHECKPOINT_DIR</c>: <c>Recommended()</c>'s pretrained embedding of DATASET
    /// (from the checkpoint <c>recommended-DATASET-seed1-EPOCHS.ckpt</c> in CHECKPOINT_DIR, else pretrained and kept
    /// there), then NN-descent's recall@10 against the exact search on <paramref name="sample"/> rows, and spectral
    /// seeding's ACC for as many clusters as classes three ways: the exact path, NN-descent and Chebyshev with k-means
    /// on every row, and the whole large-data path (k-means' restarts on a sample too).
    /// </summary>
    private static int OnEmbedding(string data, int k, int seed, int sample, string? settings)
    {
        var (points, labels, classes, dims, source) = data.StartsWith("embedding-file:") ? ReadEmbedding(data["embedding-file:".Length..]) : PretrainedEmbedding(data, seed);
        int n = labels.Length;
        Console.WriteLine($"graphs on an embedding: {source}, {n:N0} rows × {dims} dims, {classes} classes, seed {seed}");
        var queries = Enumerable.Range(0, Math.Min(sample, n)).Select(i => (int)((long)i * n / Math.Min(sample, n))).ToArray();
        var exact = Exact(points, n, dims, queries, Math.Min(10, k));
        var clock = Stopwatch.StartNew();
        var options = DeepClusterPresets.Recommended();
        var (_, indices) = NearestNeighbours.Approximate(points, n, dims, options.SpectralNeighbors, (ulong)seed, CancellationToken.None, 0, out int rounds);
        Console.WriteLine($"NN-descent, {options.SpectralNeighbors} neighbours ({rounds} rounds, {clock.Elapsed.TotalSeconds:F1} s): recall@10 {Recall(indices, options.SpectralNeighbors, queries, exact):F4} on {queries.Length:N0} rows");

        using var z = tensor(points, new long[] { n, dims });
        var paths = new[] { ("exact graph, k-means on every row", int.MaxValue, int.MaxValue), ("NN-descent + Chebyshev, k-means on every row", 1, int.MaxValue), ("NN-descent + Chebyshev, k-means restarts on a sample (the large-data path)", 1, options.KMeansSampleRows) };
        // Above 100,000 rows the exact graph is quadratic (minutes to hours): the large-data path alone.
        foreach (var (name, approximateFrom, sampleRows) in n > 100_000 ? paths[2..] : paths)
        {
            var seeding = DeepClusterPresets.Recommended();
            OptionSettings.Apply(seeding, settings);
            seeding.Seed = seed;
            seeding.NumberOfClusters = classes;
            seeding.ApproximateNeighboursFromRows = approximateFrom;
            seeding.KMeansSampleRows = sampleRows;
            using var generator = new Generator().manual_seed(seed);
            var context = new SeedingContext(generator, CancellationToken.None, line => Console.Error.WriteLine($"  {line}"), (_, _, _) => { }, seed);
            clock.Restart();
            using var prepared = Seedings.Create(seeding, context).Prepare(z, classes);
            var result = prepared.Cluster(classes);
            // Each row's nearest centroid: the partition DEC's first target starts from (k-means seeding has no other).
            var nearest = KMeans.Assign(z, result.Centroids);
            result.Centroids.Dispose();
            var partition = result.Partition ?? nearest;
            var m = ClusteringQuality.Evaluate(labels, partition.Select(a => (uint)(a + 1)).ToArray());
            var byCentroid = ClusteringQuality.Evaluate(labels, nearest.Select(a => (uint)(a + 1)).ToArray());
            Console.WriteLine($"{seeding.Seeding} seeding, {name}: ACC {m.Accuracy:F4}, NMI {m.NormalizedMutualInformation:F4}; nearest centroids ACC {byCentroid.Accuracy:F4}, NMI {byCentroid.NormalizedMutualInformation:F4} ({clock.Elapsed.TotalSeconds:F1} s)");
            // What each cluster holds: its size and its two largest classes, which shows a merge or a split at a glance.
            Console.WriteLine("  clusters: " + string.Join("; ", Enumerable.Range(0, classes).Select(c =>
            {
                var members = Enumerable.Range(0, n).Where(i => partition[i] == c).Select(i => labels[i]).ToArray();
                var top = members.GroupBy(l => l).OrderByDescending(g => g.Count()).Take(2).Select(g => $"{g.Key}:{g.Count()}");
                return $"{members.Length} ({string.Join(" ", top)})";
            })));
        }
        return 0;
    }

    /// <summary>Recommended()'s pretrained embedding of a labelled data set (<c>embedding:DATASET:EPOCHS:CHECKPOINT_DIR</c>).</summary>
    private static (float[] Points, int[] Labels, int Classes, int Dims, string Source) PretrainedEmbedding(string data, int seed)
    {
        var parts = data.Split(':', 4);
        if (parts.Length != 4)
            throw new ArgumentException("graphs --data embedding:DATASET:EPOCHS:CHECKPOINT_DIR, e.g. embedding:fashion-full:20:ckpt");
        var (rows, labelValues, classes, source) = ChooseKStudy.LabelledEmbedding(parts[1], seed, "recommended", int.Parse(parts[2]), null, parts[3]);
        return (rows.SelectMany(r => r).ToArray(), labelValues.Select(l => (int)l).ToArray(), classes, rows[0].Length, source);
    }

    /// <summary>An embedding written by <c>scale --embedding-out FILE</c>.</summary>
    private static (float[] Points, int[] Labels, int Classes, int Dims, string Source) ReadEmbedding(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        int n = reader.ReadInt32(), dims = reader.ReadInt32();
        var labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = reader.ReadInt32();
        var points = new float[(long)n * dims];
        for (long i = 0; i < points.LongLength; i++) points[i] = reader.ReadSingle();
        return (points, labels, labels.Distinct().Count(), dims, path);
    }

    private static long CurrentMegabytes() =>
        File.ReadLines("/proc/self/status").Where(l => l.StartsWith("VmRSS:")).Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) >> 10).FirstOrDefault();

    private static void Report(string step, TimeSpan time, double? recall) =>
        Console.WriteLine($"{step}: {time.TotalSeconds:F1} s{(recall is double r ? $", recall@10 {r:F4}" : "")}, peak resident {PeakMegabytes()} MB");

    /// <summary>Linux's peak resident set (VmHWM), reset by <see cref="ResetPeak"/> so that each step reports its own.</summary>
    private static long PeakMegabytes() =>
        File.ReadLines("/proc/self/status").Where(l => l.StartsWith("VmHWM:")).Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) >> 10).FirstOrDefault();

    private static void ResetPeak()
    {
        GC.Collect();
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { }
    }

    /// <summary>A mixture of <paramref name="components"/> unit Gaussians with means spread N(0, 3²) per dimension.</summary>
    private static float[] Blobs(int rows, int dims, int components, int seed) => BlobsWithLabels(rows, dims, components, seed).Points;

    /// <summary><see cref="Blobs"/> with each row's component.</summary>
    private static (float[] Points, int[] Labels) BlobsWithLabels(int rows, int dims, int components, int seed)
    {
        var labels = new int[rows];
        var random = new Random(seed);
        var means = new float[components * dims];
        for (int i = 0; i < means.Length; i++) means[i] = (float)(3 * Normal(random));
        var points = new float[(long)rows * dims];
        for (int i = 0; i < rows; i++)
        {
            int c = labels[i] = random.Next(components);
            for (int t = 0; t < dims; t++)
                points[(long)i * dims + t] = means[c * dims + t] + (float)Normal(random);
        }
        return (points, labels);
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>MNIST-full's pixels (up to 70,000 rows) projected on their leading principal components.</summary>
    private static float[] MnistPca(int rows, int dims)
    {
        string dir = MnistSets.Find(Path.Combine("..", "shared", "data", "mnist"), "train-images-idx3-ubyte.gz")
            ?? MnistSets.Find("mnist-full", "train-images-idx3-ubyte.gz")
            ?? throw new FileNotFoundException("graphs --data mnist-pca needs MNIST-full: run build/fetch-mnist.sh.");
        var images = new[] { "train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz" }.Select(f => MnistIdx.ReadImages(Path.Combine(dir, f))).ToArray();
        var pixels = new List<float>();
        int taken = 0;
        foreach (var set in images)
            for (int i = 0; i < set.Count && taken < rows; i++, taken++)
                pixels.AddRange(set.GetImage(i).ToArray().Select(b => b / 255f));
        using var scope = NewDisposeScope();
        var x = tensor(pixels.ToArray(), new long[] { taken, pixels.Count / taken });
        x = x - x.mean(new long[] { 0 }, keepdim: true);
        var (_, vectors) = linalg.eigh(x.t().mm(x));
        var projected = x.mm(vectors.narrow(1, vectors.shape[1] - dims, dims)).contiguous();
        return projected.data<float>().ToArray();
    }

    /// <summary>The exact nearest neighbours of the query rows by brute force, itself excluded.</summary>
    private static int[][] Exact(float[] points, int n, int dims, int[] queries, int k)
    {
        using var scope = NewDisposeScope();
        var all = tensor(points, new long[] { n, dims });
        var norms = all.square().sum(1).unsqueeze(0);
        var result = new int[queries.Length][];
        // Queries in groups whose [group, n] distance block stays near 256 MB.
        int group = (int)Math.Clamp((256L << 20) / (4L * n), 1, queries.Length);
        for (int start = 0; start < queries.Length; start += group)
        {
            using var step = NewDisposeScope();
            var ids = queries.Skip(start).Take(group).Select(i => (long)i).ToArray();
            var q = all[tensor(ids)];
            var d = q.mm(all.t()).mul_(-2).add_(q.square().sum(1, keepdim: true)).add_(norms);
            d.index_put_(float.PositiveInfinity, arange(ids.Length), tensor(ids));
            var flat = d.topk(k, dim: 1, largest: false).indexes.data<long>().ToArray();
            for (int r = 0; r < ids.Length; r++)
                result[start + r] = flat.Skip(r * k).Take(k).Select(i => (int)i).ToArray();
        }
        return result;
    }

    private static double Recall(int[] indices, int k, int[] queries, int[][] exact)
    {
        long hits = 0, total = 0;
        for (int r = 0; r < queries.Length; r++)
        {
            var found = indices.AsSpan(queries[r] * k, Math.Min(k, exact[r].Length));
            foreach (int j in exact[r]) { total++; if (found.Contains(j)) hits++; }
        }
        return hits / (double)total;
    }

    /// <summary>
    /// USearch's HNSW: inserted one row at a time on one thread (its concurrent build is not deterministic), then each
    /// row's k + 1 nearest searched and the row itself dropped.
    /// </summary>
    private static int[] USearchGraph(float[] points, int n, int dims, int k, out TimeSpan build)
    {
        var clock = Stopwatch.StartNew();
        using var index = new USearchIndex(MetricKind.L2sq, ScalarKind.Float32, (ulong)dims, 16, 128, (ulong)Math.Max(64, 2 * k), false);
        var vector = new float[dims];
        for (int i = 0; i < n; i++)
        {
            Array.Copy(points, (long)i * dims, vector, 0, dims);
            index.Add((ulong)i, vector);
        }
        build = clock.Elapsed;
        // Searched on one thread too: the managed API cannot reserve a search context per thread, and searches from
        // .NET's pool threads fail with "Reserve capacity ahead of searches!".
        var result = new int[(long)n * k];
        for (int i = 0; i < n; i++)
        {
            Array.Copy(points, (long)i * dims, vector, 0, dims);
            index.Search(vector, k + 1, out ulong[] keys, out float[] _);
            int t = 0;
            foreach (ulong key in keys)
                if ((int)key != i && t < k) result[(long)i * k + t++] = (int)key;
            for (; t < k; t++) result[(long)i * k + t] = -1;
        }
        return result;
    }
}
