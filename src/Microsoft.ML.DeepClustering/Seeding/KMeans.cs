using Microsoft.ML.DeepClustering.Graphs;
using Microsoft.ML.DeepClustering.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Seeding;

/// <summary>
/// k-means on a matrix of rows: k-means++ (D² sampling) starts, Lloyd iterations, restarts of which the lowest
/// inertia wins, as in DEC's use of scikit-learn's KMeans(n_init=20). Every seeding ends here: on the embedding
/// itself (<see cref="KMeansSeeding"/>), or on a spectral basis or a layout (<see cref="In"/>).
/// </summary>
internal static class KMeans
{
    /// <summary>
    /// <paramref name="restarts"/> k-means++ starts on <paramref name="rows"/> [N, E], each refined by at most
    /// <paramref name="maxIterations"/> Lloyd iterations; the centroids [K, E] of the lowest inertia. The result's
    /// Assignments are left empty: the caller knows in which space they are wanted. When <paramref name="sampleRows"/>
    /// is positive and below the rows' count, the restarts run on a seeded sample of that many rows, in row order, and
    /// the best of them is refined by Lloyd iterations on every row (<see cref="SampleRowsFor"/>).
    /// </summary>
    public static SeedingResult Run(Tensor rows, int k, int restarts, int maxIterations, SeedingContext context, int sampleRows = 0)
    {
        long n = rows.shape[0];
        if (sampleRows <= 0 || sampleRows >= n)
            return Restarts(rows, k, restarts, maxIterations, context);
        using var scope = NewDisposeScope();
        using var picked = randperm(n, generator: context.Generator).narrow(0, 0, sampleRows).sort().Values.to(rows.device);
        var onSample = Restarts(rows.index_select(0, picked), k, restarts, maxIterations, context);
        var centroids = onSample.Centroids;
        var squaredNorms = rows.square().sum(dim: 1, keepdim: true);
        double inertia = Lloyd(rows, squaredNorms, ref centroids, maxIterations, context.Cancellation);
        context.Log($"k-means: {restarts} restarts on a seeded sample of {sampleRows:N0} of {n:N0} rows (best inertia there {onSample.Inertia:G6}), the best refined on every row (inertia {inertia:G6}).");
        return onSample with { Centroids = centroids.MoveToOuterDisposeScope(), Inertia = inertia };
    }

    /// <summary>
    /// The sample <see cref="Run"/>'s restarts take for <paramref name="rows"/> rows and <paramref name="k"/> clusters:
    /// from <see cref="DeepClusterOptions.ApproximateNeighboursFromRows"/> rows (the large-data path of the seedings),
    /// <see cref="DeepClusterOptions.KMeansSampleRows"/> rows and at least 50 per cluster; below it, 0 (every row).
    /// </summary>
    public static int SampleRowsFor(DeepClusterOptions options, long rows, int k) =>
        rows >= options.ApproximateNeighboursFromRows ? Math.Max(options.KMeansSampleRows, 50 * k) : 0;

    /// <summary><paramref name="restarts"/> k-means++ starts on every row of <paramref name="rows"/>, each refined by Lloyd; the lowest inertia wins.</summary>
    private static SeedingResult Restarts(Tensor rows, int k, int restarts, int maxIterations, SeedingContext context)
    {
        Tensor? best = null;
        double bestInertia = double.PositiveInfinity;
        int bestRestart = 0;
        var inertias = new List<double>(restarts);
        using var squaredNorms = rows.square().sum(dim: 1, keepdim: true);
        for (int restart = 0; restart < restarts; restart++)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var centroids = PlusPlus(rows, k, context.Generator);
            double inertia = Lloyd(rows, squaredNorms, ref centroids, maxIterations, context.Cancellation);
            inertias.Add(inertia);
            if (inertia < bestInertia)
            {
                best?.Dispose();
                best = centroids.MoveToOuterDisposeScope();
                bestInertia = inertia;
                bestRestart = restart;
            }
            context.ReportRestart(restart + 1, restarts, inertia);
        }
        return new SeedingResult(best!, bestInertia, inertias, bestRestart, Array.Empty<int>());
    }

    /// <summary>
    /// The manifold seedings' last step: <see cref="Run"/> on <paramref name="space"/> (a spectral basis or a layout,
    /// row i standing for row i of <paramref name="z"/>), then each cluster's mean of <paramref name="z"/> as its
    /// centroid; the Partition is the clusters found in <paramref name="space"/>. <paramref name="what"/> starts the
    /// log line that gives the cluster sizes.
    /// </summary>
    public static SeedingResult In(Tensor space, Tensor z, int k, int restarts, int maxIterations, SeedingContext context, string what, int sampleRows = 0)
    {
        using var scope = NewDisposeScope();
        var clustering = Run(space, k, restarts, maxIterations, context, sampleRows);
        var labels = Distances.Squared(space, clustering.Centroids).argmin(dim: 1);
        clustering.Centroids.Dispose();
        var (means, counts) = ClusterMeans(z, labels, k);
        context.Log($"{what}, cluster sizes {string.Join(", ", counts.squeeze(1).data<float>().ToArray().Select(c => (int)c))}.");
        return clustering with { Centroids = means.MoveToOuterDisposeScope(), Assignments = Assign(z, means), Partition = TensorCopies.ToInt32Array(labels) };
    }

    /// <summary>k-means++: the first centre uniformly, each next one with probability proportional to D², the squared distance to the nearest centre so far.</summary>
    private static Tensor PlusPlus(Tensor z, int k, Generator generator)
    {
        long n = z.shape[0];
        var chosen = new long[k];
        chosen[0] = randint(n, new long[] { 1 }, generator: generator).item<long>();
        using var nearest = full(n, float.PositiveInfinity, device: z.device);
        for (int c = 1; c < k; c++)
        {
            using var scope = NewDisposeScope();
            var last = z[chosen[c - 1]].unsqueeze(0);
            nearest.copy_(minimum(nearest, Distances.Squared(z, last).squeeze(1)));
            var weights = nearest.to(CPU).to_type(ScalarType.Float64);
            double total = weights.sum().item<double>();
            chosen[c] = total > 0
                ? multinomial(weights / total, 1, generator: generator).item<long>()
                // Fewer distinct points than clusters: any point will do; Lloyd will leave a duplicate centre empty.
                : randint(n, new long[] { 1 }, generator: generator).item<long>();
        }
        using var index = tensor(chosen, device: z.device);
        return z.index_select(0, index);
    }

    /// <summary>The mean of the rows of <paramref name="z"/> in each of the k clusters (0 for an empty one), and the counts [k, 1].</summary>
    public static (Tensor Means, Tensor Counts) ClusterMeans(Tensor z, Tensor labels, int k)
    {
        var sums = zeros(k, z.shape[1], device: z.device).index_add_(0, labels, z, 1);
        var counts = bincount(labels, minlength: k).to_type(ScalarType.Float32).unsqueeze(1);
        return (sums / counts.clamp_min(1), counts);
    }

    /// <summary>The nearest centroid of each row of <paramref name="z"/>, in row order.</summary>
    public static int[] Assign(Tensor z, Tensor centroids)
    {
        using var scope = NewDisposeScope();
        var distances = Distances.SquaredByProducts(z, z.square().sum(dim: 1, keepdim: true), centroids);
        return TensorCopies.ToInt32Array(distances.argmin(dim: 1));
    }

    /// <summary>Lloyd iterations until no row changes cluster. Returns the inertia; an emptied cluster keeps its centre.</summary>
    private static double Lloyd(Tensor z, Tensor squaredNorms, ref Tensor centroids, int maxIterations, CancellationToken cancellation)
    {
        int k = (int)centroids.shape[0];
        Tensor? previous = null;
        for (int iteration = 0; iteration < maxIterations; iteration++)
        {
            cancellation.ThrowIfCancellationRequested();
            // One scope per iteration so that memory stays flat however many iterations run;
            // only the labels and centroids survive it (into the caller's per-restart scope).
            using var step = NewDisposeScope();
            var labels = Distances.SquaredByProducts(z, squaredNorms, centroids).argmin(dim: 1);
            bool changed = previous is null || !labels.eq(previous).all().item<bool>();
            previous?.Dispose();
            previous = labels.MoveToOuterDisposeScope();
            if (!changed)
                break;
            var (updated, counts) = ClusterMeans(z, labels, k);
            centroids = where(counts > 0, updated, centroids).MoveToOuterDisposeScope();
        }
        using var final = NewDisposeScope();
        return Distances.SquaredByProducts(z, squaredNorms, centroids).min(dim: 1).values.to_type(ScalarType.Float64).sum().item<double>();
    }
}
