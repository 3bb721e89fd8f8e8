using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// Stage 2: k-means on the embedding, seeded by k-means++ (D² sampling), restarted
/// <see cref="DeepClusterOptions.KMeansInitializations"/> times; the restart with the lowest inertia wins, as in
/// DEC's use of scikit-learn's KMeans(n_init=20).
/// </summary>
internal static class KMeansSeeding
{
    /// <summary>
    /// A seeding's outcome: the centroids [K, E], the k-means inertias (of the best restart and of each), and the
    /// Partition, the rows' clusters as the seeding found them where they differ from the nearest centroid's (the
    /// manifold seedings partition a graph or a layout, then average the embedding per cluster); null for k-means.
    /// </summary>
    public sealed record Result(Tensor Centroids, double Inertia, List<double> Inertias, int BestRestart, int[]? Partition = null);

    /// <param name="z">Embeddings [N, E], on the training device.</param>
    /// <param name="context">K, restarts, generator and cancellation of this Fit.</param>
    public static Result Run(Tensor z, TrainingContext context)
    {
        var options = context.Options;
        int k = options.NumberOfClusters;
        Tensor? best = null;
        double bestInertia = double.PositiveInfinity;
        int bestRestart = 0;
        var inertias = new List<double>(options.KMeansInitializations);
        using var squaredNorms = z.square().sum(dim: 1, keepdim: true);
        for (int restart = 0; restart < options.KMeansInitializations; restart++)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var centroids = PlusPlus(z, k, context.Generator);
            double inertia = Lloyd(z, squaredNorms, ref centroids, options.KMeansMaxIterations, context.Cancellation);
            inertias.Add(inertia);
            if (inertia < bestInertia)
            {
                best?.Dispose();
                best = centroids.MoveToOuterDisposeScope();
                bestInertia = inertia;
                bestRestart = restart;
            }
            context.Report(DeepClusterStage.Seeding, restart + 1, options.KMeansInitializations, inertia, null);
        }
        return new Result(best!, bestInertia, inertias, bestRestart);
    }

    /// <summary>
    /// The manifold seedings' last step: k-means++ with restarts on <paramref name="space"/> (a spectral basis or a
    /// layout, row i standing for row i of <paramref name="z"/>), then each cluster's mean of <paramref name="z"/> as its
    /// centroid; the Partition is the clusters found in <paramref name="space"/>. Call it inside a dispose scope and
    /// move the centroids out of it. <paramref name="what"/> starts the log line that gives the cluster sizes.
    /// </summary>
    public static Result RunIn(Tensor space, Tensor z, TrainingContext context, string what)
    {
        var clustering = Run(space, context);
        var labels = Dec.SquaredDistances(space, clustering.Centroids).argmin(dim: 1);
        clustering.Centroids.Dispose();
        var (means, counts) = ClusterMeans(z, labels, context.Options.NumberOfClusters);
        context.Log($"{what}, cluster sizes {string.Join(", ", counts.squeeze(1).data<float>().ToArray().Select(c => (int)c))}.");
        return clustering with { Centroids = means, Partition = IndexTensors.ToInt32Array(labels) };
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
            nearest.copy_(minimum(nearest, Dec.SquaredDistances(z, last).squeeze(1)));
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
        var distances = SquaredDistancesByProducts(z, z.square().sum(dim: 1, keepdim: true), centroids);
        return IndexTensors.ToInt32Array(distances.argmin(dim: 1));
    }

    /// <summary>
    /// Squared distances [N, K] as ‖z‖² − 2 z·μᵀ + ‖μ‖², clamped at 0: one small matrix product instead of an
    /// [N, K, E] difference tensor per Lloyd iteration (on 70k rows, 28 MB written and read each time). The rounding
    /// of the expansion (relative 1e-7 of ‖z‖²) cannot move an assignment that matters; q, which training
    /// differentiates and ONNX reproduces, keeps the direct differences (<see cref="Dec.SquaredDistances"/>).
    /// </summary>
    internal static Tensor SquaredDistancesByProducts(Tensor z, Tensor squaredNorms, Tensor centroids)
    {
        using var products = z.mm(centroids.t());
        using var centroidNorms = centroids.square().sum(dim: 1).unsqueeze(0);
        var distances = squaredNorms + centroidNorms;
        // In place on the result: add_ and clamp_min_ return the same tensor, which the caller owns.
        distances.add_(products, alpha: -2).clamp_min_(0);
        return distances;
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
            var labels = SquaredDistancesByProducts(z, squaredNorms, centroids).argmin(dim: 1);
            bool changed = previous is null || !labels.eq(previous).all().item<bool>();
            previous?.Dispose();
            previous = labels.MoveToOuterDisposeScope();
            if (!changed)
                break;
            var (updated, counts) = ClusterMeans(z, labels, k);
            centroids = where(counts > 0, updated, centroids).MoveToOuterDisposeScope();
        }
        using var final = NewDisposeScope();
        return SquaredDistancesByProducts(z, squaredNorms, centroids).min(dim: 1).values.to_type(ScalarType.Float64).sum().item<double>();
    }
}
