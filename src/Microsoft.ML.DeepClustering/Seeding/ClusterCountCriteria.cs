namespace Microsoft.ML.DeepClustering.Seeding;

/// <summary>
/// Internal validity criteria for choosing the number of clusters K from a partition of an embedding, computed on
/// managed arrays (rows of <c>float[E]</c>). Each takes the rows, each row's cluster in 0..K−1 and the K centroids.
/// Silhouette and Calinski–Harabasz are better higher, Davies–Bouldin lower. Modularity, the default, partitions a
/// graph rather than rows: <see cref="Graphs.Modularity"/>.
/// </summary>
internal static class ClusterCountCriteria
{
    /// <summary>Rows the silhouette is computed on: its cost is quadratic in them.</summary>
    public const int SilhouetteSampleSize = 2000;

    /// <summary>At most <see cref="SilhouetteSampleSize"/> row indices, in order, drawn with <paramref name="seed"/>: the same sample for every candidate K.</summary>
    public static int[] SilhouetteSample(int rows, int seed)
    {
        var random = new Random(seed);
        var indices = Enumerable.Range(0, rows).ToArray();
        random.Shuffle(indices);
        return indices.Take(SilhouetteSampleSize).Order().ToArray();
    }

    /// <summary>The criterion's value for one partition.</summary>
    public static double Score(ClusterCountCriterion criterion, float[][] rows, int[] labels, float[][] centroids, int[] sample) => criterion switch
    {
        ClusterCountCriterion.DaviesBouldin => DaviesBouldin(rows, labels, centroids),
        ClusterCountCriterion.Silhouette => Silhouette(rows, labels, centroids.Length, sample),
        ClusterCountCriterion.CalinskiHarabasz => CalinskiHarabasz(rows, labels, centroids),
        _ => throw new ArgumentOutOfRangeException(nameof(criterion), criterion, $"Unknown ClusterCountCriterion {criterion}."),
    };

    /// <summary>Whether <paramref name="score"/> beats <paramref name="best"/>: lower for Davies–Bouldin, higher for the others; a tie does not.</summary>
    public static bool IsBetter(ClusterCountCriterion criterion, double score, double best) =>
        criterion == ClusterCountCriterion.DaviesBouldin ? score < best : score > best;

    /// <summary>
    /// Mean silhouette (Rousseeuw 1987) of the rows in <paramref name="sample"/>, distances taken within the sample,
    /// as scikit-learn's <c>silhouette_score(sample_size=…)</c> does: s(i) = (b − a) / max(a, b), a the mean distance
    /// from i to the other members of its cluster, b the smallest mean distance from i to another cluster's members.
    /// A row alone in its cluster (within the sample) scores 0.
    /// </summary>
    public static double Silhouette(float[][] rows, int[] labels, int k, int[] sample) =>
        Silhouette((a, b) => Math.Sqrt(SquaredDistance(rows[sample[a]], rows[sample[b]])), sample.Select(i => labels[i]).ToArray(), k);

    /// <summary>The same mean silhouette from the m × m distances of m rows (row-major), <paramref name="labels"/> being those rows' clusters.</summary>
    public static double Silhouette(float[] distances, int[] labels, int k) =>
        Silhouette((a, b) => distances[a * labels.Length + b], labels, k);

    private static double Silhouette(Func<int, int, double> distance, int[] labels, int k)
    {
        int m = labels.Length;
        var sums = new double[k];
        var counts = Counts(labels, k);
        double total = 0;
        for (int i = 0; i < m; i++)
        {
            Array.Clear(sums);
            for (int j = 0; j < m; j++)
                if (j != i)
                    sums[labels[j]] += distance(i, j);
            int own = labels[i];
            if (counts[own] <= 1)
                continue;
            double a = sums[own] / (counts[own] - 1);
            double b = double.PositiveInfinity;
            for (int c = 0; c < k; c++)
                if (c != own && counts[c] > 0)
                    b = Math.Min(b, sums[c] / counts[c]);
            if (double.IsFinite(b))
                total += (b - a) / Math.Max(a, b);
        }
        return total / m;
    }

    /// <summary>Calinski–Harabasz: (between-cluster dispersion / (K − 1)) / (within-cluster dispersion / (N − K)).</summary>
    public static double CalinskiHarabasz(float[][] rows, int[] labels, float[][] centroids)
    {
        int n = rows.Length, k = centroids.Length;
        var mean = Mean(rows);
        var counts = Counts(labels, k);
        double between = 0;
        for (int c = 0; c < k; c++)
            between += counts[c] * SquaredDistance(centroids[c], mean);
        double within = Inertia(rows, labels, centroids);
        return within <= 0 || k < 2 ? double.PositiveInfinity : between / (k - 1) / (within / (n - k));
    }

    /// <summary>
    /// Davies–Bouldin: the mean over clusters of max over other clusters of (s_i + s_j) / ‖μ_i − μ_j‖, s the mean
    /// distance of a cluster's rows to its centroid. Lower is better.
    /// </summary>
    public static double DaviesBouldin(float[][] rows, int[] labels, float[][] centroids)
    {
        int k = centroids.Length;
        var scatter = new double[k];
        var counts = Counts(labels, k);
        for (int i = 0; i < rows.Length; i++)
            scatter[labels[i]] += Math.Sqrt(SquaredDistance(rows[i], centroids[labels[i]]));
        double total = 0;
        int nonEmpty = 0;
        for (int i = 0; i < k; i++)
        {
            if (counts[i] == 0)
                continue;
            nonEmpty++;
            double worst = 0;
            for (int j = 0; j < k; j++)
                if (j != i && counts[j] > 0)
                    worst = Math.Max(worst, (scatter[i] / counts[i] + scatter[j] / counts[j]) / Math.Max(1e-12, Math.Sqrt(SquaredDistance(centroids[i], centroids[j]))));
            total += worst;
        }
        return total / Math.Max(1, nonEmpty);
    }

    /// <summary>The sum of squared distances from each row to its cluster's centroid.</summary>
    public static double Inertia(float[][] rows, int[] labels, float[][] centroids)
    {
        double total = 0;
        for (int i = 0; i < rows.Length; i++)
            total += SquaredDistance(rows[i], centroids[labels[i]]);
        return total;
    }

    public static int[] Counts(int[] labels, int k)
    {
        var counts = new int[k];
        foreach (int label in labels)
            counts[label]++;
        return counts;
    }

    private static float[] Mean(float[][] rows)
    {
        var mean = new double[rows[0].Length];
        foreach (var row in rows)
            for (int d = 0; d < mean.Length; d++)
                mean[d] += row[d];
        return mean.Select(v => (float)(v / rows.Length)).ToArray();
    }

    public static double SquaredDistance(float[] a, float[] b)
    {
        double total = 0;
        for (int d = 0; d < a.Length; d++)
        {
            double diff = a[d] - b[d];
            total += diff * diff;
        }
        return total;
    }
}
