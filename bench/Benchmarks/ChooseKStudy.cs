using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Graphs;
using Microsoft.ML.DeepClustering.Seeding;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// Which criterion picks the true number of clusters K most often? For each dataset and seed: the preset's pretrained
/// embedding (Fit with self-training off; with --checkpoint-dir the pretraining is kept and reused), then for each
/// candidate K k-means++ with restarts on the embedding, and every criterion on the result: silhouette (on a sample),
/// Calinski–Harabasz, Davies–Bouldin, X-means' BIC, the gap statistic (Tibshirani et al. 2001), stability
/// (agreement, by ARI, of clusterings of two overlapping subsamples) and the estimator's modularity (of the partition
/// on UMAP's fuzzy 10-neighbour graph, as a share of 1 − 1/K). Prints a table per run, each criterion's pick,
/// and how often each was exact and within ±1 of the true K.
/// Datasets: the image sets of <see cref="MnistSets"/>, and "blobs" (Gaussian blobs in 10 dimensions, K = 5, 8, 12
/// for seeds 1, 2, 3, taken as the embedding itself).
/// </summary>
internal static class ChooseKStudy
{
    private const int Restarts = 5;
    private const int GapReferences = 5;
    private const int StabilityPairs = 3;

    private static readonly string[] AllCriteria = ["silhouette", "calinski-harabasz", "davies-bouldin", "bic", "gap", "stability", "modularity"];
    private static string[] Criteria = AllCriteria;

    public static int Run(string[] datasets, int[] seeds, string preset, int? epochs, int minK, int maxK, int? maxRows, string? checkpointDir, string[]? criteria = null)
    {
        Criteria = criteria ?? AllCriteria;
        var exact = Criteria.ToDictionary(c => c, _ => 0);
        var near = Criteria.ToDictionary(c => c, _ => 0);
        int runs = 0;
        foreach (string dataset in datasets)
            foreach (int seed in seeds)
            {
                var clock = Stopwatch.StartNew();
                var (rows, trueK, source) = Embedding(dataset, seed, preset, epochs, maxRows, checkpointDir);
                Console.WriteLine($"\n{dataset}, seed {seed}: {rows.Length} rows, embedding {rows[0].Length}-d from {source}, true K {trueK} ({clock.Elapsed.TotalSeconds:F0} s)");
                var picks = Study(rows, seed, minK, maxK);
                Console.WriteLine("picks: " + string.Join(", ", Criteria.Select(c => $"{c} {picks[c]}")) + $"  ({clock.Elapsed.TotalSeconds:F0} s in all)");
                foreach (string c in Criteria)
                {
                    if (picks[c] == trueK) exact[c]++;
                    if (Math.Abs(picks[c] - trueK) <= 1) near[c]++;
                }
                runs++;
            }
        Console.WriteLine($"\nOver {runs} runs (datasets {string.Join(", ", datasets)}; seeds {string.Join(", ", seeds)}; preset {preset}; K {minK}–{maxK}):");
        Console.WriteLine($"{"criterion",-18} {"exact",6} {"±1",6}");
        foreach (string c in Criteria)
            Console.WriteLine($"{c,-18} {exact[c],6} {near[c],6}");
        return 0;
    }

    /// <summary>The preset's pretrained embedding of a dataset, one row per line (label first), for study outside .NET.</summary>
    public static int Dump(string dataset, int seed, string preset, int? epochs, int? maxRows, string? checkpointDir, string path)
    {
        var (rows, labels, _, source) = LabelledEmbedding(dataset, seed, preset, epochs, maxRows, checkpointDir);
        using var writer = new StreamWriter(path);
        for (int i = 0; i < rows.Length; i++)
            writer.WriteLine(labels[i].ToString(System.Globalization.CultureInfo.InvariantCulture) + "," + string.Join(",", rows[i].Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
        Console.WriteLine($"{rows.Length} rows of {source} written to {path}");
        return 0;
    }

    private static (float[][] Rows, int TrueK, string Source) Embedding(string dataset, int seed, string preset, int? epochs, int? maxRows, string? checkpointDir)
    {
        if (dataset == "blobs")
        {
            int k = seed switch { 1 => 5, 2 => 8, _ => 12 };
            return (Blobs(k, 2000, 10, seed), k, $"{k} Gaussian blobs");
        }
        var (rows, labels, classes, source) = LabelledEmbedding(dataset, seed, preset, epochs, maxRows, checkpointDir);
        return (rows, classes, source);
    }

    internal static (float[][] Rows, float[] Labels, int Classes, string Source) LabelledEmbedding(string dataset, int seed, string preset, int? epochs, int? maxRows, string? checkpointDir)
    {
        var ml = new MLContext(seed);
        var (data, _, source) = MnistSets.Load(ml, dataset, maxRows);
        var options = DeepClusterPresets.Get(preset);
        options.NumberOfClusters = 10;
        options.MaxIterations = 0;   // the pretrained embedding: seeding does not change it
        options.Seed = seed;
        if (epochs is int e) options.PretrainEpochs = e;
        if (checkpointDir is not null)
        {
            Directory.CreateDirectory(checkpointDir);
            options.CheckpointPath = Path.Combine(checkpointDir, $"{preset}-{dataset}-seed{seed}-{options.PretrainEpochs}.ckpt");
        }
        using var model = ml.Transforms.DeepCluster(options).Fit(data);
        var scored = model.Transform(data);
        var rows = scored.GetColumn<VBuffer<float>>("Embedding").Select(v => v.DenseValues().ToArray()).ToArray();
        var labels = scored.GetColumn<float>("Label").ToArray();
        return (rows, labels, labels.Distinct().Count(), $"{source} ({preset}, {options.PretrainEpochs} epochs)");
    }

    private static Dictionary<string, int> Study(float[][] rows, int seed, int minK, int maxK)
    {
        var random = new Random(seed);
        int[] sample = Sample(rows.Length, Math.Min(ClusterCountCriteria.SilhouetteSampleSize, rows.Length), random);
        var references = !Criteria.Contains("gap") ? [] : Enumerable.Range(0, GapReferences).Select(b => UniformReference(rows, new Random(seed * 7919 + b))).ToArray();
        var scores = new Dictionary<string, Dictionary<int, double>>();
        foreach (string c in AllCriteria) scores[c] = new();
        var gapSd = new Dictionary<int, double>();
        bool Wants(string c) => Criteria.Contains(c);
        // The estimator's modularity: UMAP's fuzzy graph of the rows' 10 nearest neighbours, built once.
        WeightedGraph? graph = null;
        if (Wants("modularity"))
        {
            using var all = TorchSharp.torch.tensor(rows.SelectMany(r => r).ToArray(), new long[] { rows.Length, rows[0].Length });
            graph = FuzzyGraph.Of(all, new DeepClusterOptions().UmapNeighbors, seed: 1, CancellationToken.None);
        }
        Console.WriteLine($"{"K",3} {"inertia",12} {"silhouette",10} {"CH",10} {"DB",7} {"BIC",12} {"gap",7} {"gap sd",7} {"stability",9} {"modularity",10}  sizes");
        for (int k = minK; k <= maxK; k++)
        {
            var (labels, centroids, inertia) = KMeans(rows, k, Restarts, new Random(seed * 1000 + k));
            double Score(string c, Func<double> f) => scores[c][k] = Wants(c) ? f() : double.NaN;
            Score("silhouette", () => ClusterCountCriteria.Silhouette(rows, labels, k, sample));
            Score("calinski-harabasz", () => ClusterCountCriteria.CalinskiHarabasz(rows, labels, centroids));
            Score("davies-bouldin", () => -ClusterCountCriteria.DaviesBouldin(rows, labels, centroids));   // negated: every score is better higher
            Score("bic", () => Bic(rows, labels, centroids));
            gapSd[k] = double.NaN;
            Score("gap", () =>
            {
                var referenceLogs = references.Select((r, b) => Math.Log(KMeans(r, k, 1, new Random(seed * 31 + b * 1000 + k)).Inertia)).ToArray();
                double meanLog = referenceLogs.Average();
                gapSd[k] = Math.Sqrt(referenceLogs.Select(l => (l - meanLog) * (l - meanLog)).Average()) * Math.Sqrt(1 + 1.0 / GapReferences);
                return meanLog - Math.Log(inertia);
            });
            Score("stability", () => Stability(rows, k, new Random(seed * 4099 + k)));
            Score("modularity", () => Modularity.Normalised(graph!, labels, k));
            var sizes = ClusterCountCriteria.Counts(labels, k).OrderByDescending(s => s);
            Console.WriteLine($"{k,3} {inertia,12:F1} {scores["silhouette"][k],10:F4} {scores["calinski-harabasz"][k],10:F1} {-scores["davies-bouldin"][k],7:F3} {scores["bic"][k],12:F0} {scores["gap"][k],7:F3} {gapSd[k],7:F3} {scores["stability"][k],9:F3} {scores["modularity"][k],10:F4}  {string.Join(" ", sizes)}");
        }
        var picks = Criteria.Where(c => c != "gap" && c != "modularity").ToDictionary(c => c, c => scores[c].MaxBy(p => p.Value).Key);
        // The estimator's rule: the highest share, ties going to the larger K.
        if (Criteria.Contains("modularity"))
            picks["modularity"] = minK + ClusterCountChoice.Choose(ClusterCountCriterion.Modularity, Enumerable.Range(minK, maxK - minK + 1).Select(k => scores["modularity"][k]).ToList());
        // Tibshirani's rule: the smallest K with Gap(K) ≥ Gap(K+1) − s(K+1).
        if (Criteria.Contains("gap"))
            picks["gap"] = Enumerable.Range(minK, maxK - minK).FirstOrDefault(k => scores["gap"][k] >= scores["gap"][k + 1] - gapSd[k + 1], maxK);
        return picks;
    }

    /// <summary>Mean ARI, over <see cref="StabilityPairs"/> pairs of random 80 % subsamples, between their k-means partitions on the rows both hold.</summary>
    private static double Stability(float[][] rows, int k, Random random)
    {
        double total = 0;
        int size = rows.Length * 4 / 5;
        for (int p = 0; p < StabilityPairs; p++)
        {
            int[] a = Sample(rows.Length, size, random), b = Sample(rows.Length, size, random);
            var (_, ca, _) = KMeans(a.Select(i => rows[i]).ToArray(), k, 1, random);
            var (_, cb, _) = KMeans(b.Select(i => rows[i]).ToArray(), k, 1, random);
            var both = a.Intersect(b).ToArray();
            var la = both.Select(i => Nearest(rows[i], ca)).ToArray();
            var lb = both.Select(i => Nearest(rows[i], cb)).ToArray();
            total += ClusteringQuality.AdjustedRandIndex(la, lb);
        }
        return total / StabilityPairs;
    }

    /// <summary>k-means++ then Lloyd, <paramref name="restarts"/> times; the lowest inertia wins.</summary>
    internal static (int[] Labels, float[][] Centroids, double Inertia) KMeans(float[][] rows, int k, int restarts, Random random)
    {
        (int[], float[][], double) best = (Array.Empty<int>(), Array.Empty<float[]>(), double.PositiveInfinity);
        for (int r = 0; r < restarts; r++)
        {
            var centroids = PlusPlus(rows, k, random);
            var labels = new int[rows.Length];
            for (int iteration = 0; iteration < 100; iteration++)
            {
                bool changed = iteration == 0;
                for (int i = 0; i < rows.Length; i++)
                {
                    int nearest = Nearest(rows[i], centroids);
                    changed |= nearest != labels[i];
                    labels[i] = nearest;
                }
                if (!changed) break;
                var sums = new double[k, rows[0].Length];
                var counts = new int[k];
                for (int i = 0; i < rows.Length; i++)
                {
                    counts[labels[i]]++;
                    for (int d = 0; d < rows[i].Length; d++) sums[labels[i], d] += rows[i][d];
                }
                for (int c = 0; c < k; c++)
                    if (counts[c] > 0)
                        for (int d = 0; d < rows[0].Length; d++) centroids[c][d] = (float)(sums[c, d] / counts[c]);
            }
            double inertia = ClusterCountCriteria.Inertia(rows, labels, centroids);
            if (inertia < best.Item3) best = (labels, centroids, inertia);
        }
        return best;
    }

    private static float[][] PlusPlus(float[][] rows, int k, Random random)
    {
        var centroids = new float[k][];
        centroids[0] = (float[])rows[random.Next(rows.Length)].Clone();
        var nearest = rows.Select(r => ClusterCountCriteria.SquaredDistance(r, centroids[0])).ToArray();
        for (int c = 1; c < k; c++)
        {
            double target = random.NextDouble() * nearest.Sum();
            int chosen = 0;
            for (double cumulative = 0; chosen < rows.Length - 1; chosen++)
                if ((cumulative += nearest[chosen]) >= target) break;
            centroids[c] = (float[])rows[chosen].Clone();
            for (int i = 0; i < rows.Length; i++)
                nearest[i] = Math.Min(nearest[i], ClusterCountCriteria.SquaredDistance(rows[i], centroids[c]));
        }
        return centroids;
    }

    private static int Nearest(float[] row, float[][] centroids)
    {
        int best = 0;
        double bestDistance = double.PositiveInfinity;
        for (int c = 0; c < centroids.Length; c++)
        {
            double d = ClusterCountCriteria.SquaredDistance(row, centroids[c]);
            if (d < bestDistance) { bestDistance = d; best = c; }
        }
        return best;
    }

    private static int[] Sample(int n, int m, Random random) => Enumerable.Range(0, n).OrderBy(_ => random.Next()).Take(m).Order().ToArray();

    /// <summary>Uniform rows in the bounding box of the data's principal axes (Tibshirani's reference "b"), as many as the data.</summary>
    private static float[][] UniformReference(float[][] rows, Random random)
    {
        int e = rows[0].Length;
        var mean = Enumerable.Range(0, e).Select(d => rows.Average(r => (double)r[d])).ToArray();
        var centred = rows.Select(r => r.Select((v, d) => v - mean[d]).ToArray()).ToArray();
        var axes = PrincipalAxes(centred, e);
        var projected = centred.Select(r => axes.Select(a => r.Zip(a, (x, y) => x * y).Sum()).ToArray()).ToArray();
        var low = Enumerable.Range(0, e).Select(d => projected.Min(p => p[d])).ToArray();
        var high = Enumerable.Range(0, e).Select(d => projected.Max(p => p[d])).ToArray();
        return rows.Select(_ => Enumerable.Range(0, e).Select(d => (float)(low[d] + random.NextDouble() * (high[d] - low[d]))).ToArray()).ToArray();
    }

    /// <summary>The eigenvectors of the covariance, by Jacobi rotations (E is the embedding's 10 or so).</summary>
    private static double[][] PrincipalAxes(double[][] centred, int e)
    {
        var a = new double[e, e];
        foreach (var r in centred)
            for (int i = 0; i < e; i++)
                for (int j = 0; j < e; j++) a[i, j] += r[i] * r[j];
        var v = new double[e, e];
        for (int i = 0; i < e; i++) v[i, i] = 1;
        for (int sweep = 0; sweep < 50; sweep++)
            for (int p = 0; p < e; p++)
                for (int q = p + 1; q < e; q++)
                {
                    if (Math.Abs(a[p, q]) < 1e-12) continue;
                    double theta = (a[q, q] - a[p, p]) / (2 * a[p, q]);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < e; k++)
                    {
                        double akp = a[k, p], akq = a[k, q];
                        a[k, p] = c * akp - s * akq; a[k, q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < e; k++)
                    {
                        double apk = a[p, k], aqk = a[q, k];
                        a[p, k] = c * apk - s * aqk; a[q, k] = s * apk + c * aqk;
                    }
                    for (int k = 0; k < e; k++)
                    {
                        double vkp = v[k, p], vkq = v[k, q];
                        v[k, p] = c * vkp - s * vkq; v[k, q] = s * vkp + c * vkq;
                    }
                }
        return Enumerable.Range(0, e).Select(j => Enumerable.Range(0, e).Select(i => v[i, j]).ToArray()).ToArray();
    }

    private static float[][] Blobs(int k, int n, int dimensions, int seed)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var centres = Enumerable.Range(0, k).Select(_ => Enumerable.Range(0, dimensions).Select(_ => Normal() * 4).ToArray()).ToArray();
        return Enumerable.Range(0, n).Select(i => centres[i % k].Select(c => (float)(c + Normal())).ToArray()).ToArray();
    }

    // Studied for choosing K and not adopted (docs/choosing-k.md): kept beside the study that measures it.
    /// <summary>
    /// X-means' Bayesian information criterion of a k-means partition, modelled as K spherical Gaussians with one
    /// shared variance σ² = W / (E·(N − K)) and mixing weights n_k / N:
    /// log L = Σ_k n_k log(n_k / N) − N·E/2 · log(2πσ²) − E·(N − K)/2, with K − 1 + K·E + 1 parameters;
    /// BIC = log L − parameters/2 · log N. Higher is better.
    /// </summary>
    private static double Bic(float[][] rows, int[] labels, float[][] centroids)
    {
        int n = rows.Length, k = centroids.Length, e = rows[0].Length;
        double within = ClusterCountCriteria.Inertia(rows, labels, centroids);
        double variance = Math.Max(1e-12, within / (e * (double)(n - k)));
        double logLikelihood = -n * e / 2.0 * Math.Log(2 * Math.PI * variance) - e * (n - k) / 2.0;
        foreach (int count in ClusterCountCriteria.Counts(labels, k))
            if (count > 0)
                logLikelihood += count * Math.Log(count / (double)n);
        double parameters = k - 1 + k * e + 1;
        return logLikelihood - parameters / 2 * Math.Log(n);
    }
}
