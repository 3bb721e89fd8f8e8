using Microsoft.ML.DeepClustering.Graphs;
using Microsoft.ML.DeepClustering.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Seeding;

/// <summary>
/// Choosing K (<see cref="DeepClusterOptions.NumberOfClusters"/> = 0): the seeding is prepared once for the largest
/// candidate, every candidate K from <see cref="DeepClusterOptions.MinimumNumberOfClusters"/> to
/// <see cref="DeepClusterOptions.MaximumNumberOfClusters"/> is clustered from that preparation, and each partition is
/// scored with <see cref="DeepClusterOptions.ClusterCountCriterion"/>. Each candidate starts from the generator state
/// the preparation left, so a candidate does not depend on the order of candidates, and the chosen one's state carries
/// on into self-training. With k-means and UMAP seeding a candidate's seeding is its fixed-K fit's; with spectral
/// seeding the largest candidate's eigenvectors serve all, and their leading columns span the subspace a fixed-K fit
/// computes from another random start, so a candidate can differ from that fit by k-means' draws.
/// </summary>
internal static class ClusterCountChoice
{
    /// <summary>The chosen K, its seeding (the caller disposes its centroids), and every candidate's score.</summary>
    public sealed record Result(int NumberOfClusters, SeedingResult Seeding, List<ClusterCountCandidate> Candidates);

    /// <param name="z">The pretrained embedding [N, E].</param>
    /// <param name="options">The range of K, the criterion and the seeding's settings.</param>
    /// <param name="context">The Fit's generator, cancellation, log and progress.</param>
    /// <param name="seed">Draws the silhouette's sample of rows, the same for every candidate.</param>
    public static Result Run(Tensor z, DeepClusterOptions options, SeedingContext context, int seed)
    {
        var rows = TensorCopies.ToRows(z);
        int[] sample = ClusterCountCriteria.SilhouetteSample(rows.Length, seed);
        var criterion = options.ClusterCountCriterion;
        bool modularity = criterion == ClusterCountCriterion.Modularity;
        // Modularity partitions UMAP's fuzzy graph; UMAP seeding lays out the same graph, so it is built once.
        var graph = modularity ? FuzzyGraph.Of(z, options.UmapNeighbors, context.SeedFor(3), context.Cancellation, options.ApproximateNeighboursFromRows) : null;
        using var prepared = Seedings.Create(options, context, graph).Prepare(z, options.MaximumNumberOfClusters);
        using var afterPreparation = context.Generator.get_state();
        var candidates = new List<(int K, double Score, double Inertia, int[] Sizes, SeedingResult Seeding, Tensor State)>();
        for (int k = options.MinimumNumberOfClusters; k <= options.MaximumNumberOfClusters; k++)
        {
            context.Generator.set_state(afterPreparation);
            var seeding = prepared.Cluster(k);
            var centroidRows = TensorCopies.ToRows(seeding.Centroids);
            double score = modularity
                ? Modularity.Normalised(graph!, seeding.Partition ?? seeding.Assignments, k)
                : ClusterCountCriteria.Score(criterion, rows, seeding.Assignments, centroidRows, sample);
            // In the embedding, whatever the seeding: spectral seeding's own inertia is measured in its spectral space.
            double inertia = ClusterCountCriteria.Inertia(rows, seeding.Assignments, centroidRows);
            var sizes = ClusterCountCriteria.Counts(seeding.Assignments, k).OrderDescending().ToArray();
            candidates.Add((k, score, inertia, sizes, seeding, context.Generator.get_state()));
            context.Log($"K = {k}: {criterion} {score:F4}, inertia {inertia:G6}, clusters of {string.Join(", ", sizes)}.");
        }
        var best = candidates[Choose(criterion, candidates.Select(c => c.Score).ToList())];
        foreach (var candidate in candidates.Where(c => c.K != best.K))
        {
            candidate.Seeding.Centroids.Dispose();
            candidate.State.Dispose();
        }
        context.Generator.set_state(best.State);
        best.State.Dispose();
        context.Log($"Chose K = {best.K} of {options.MinimumNumberOfClusters}–{options.MaximumNumberOfClusters} by {criterion} ({best.Score:F4}): a suggestion from the embedding, not a fact about the data.");
        return new Result(best.K, best.Seeding, candidates.Select(c => new ClusterCountCandidate(c.K, c.Score, c.Inertia, c.Sizes, c.K == best.K)).ToList());
    }

    /// <summary>
    /// The index of the chosen candidate (candidates in ascending K): the best score, ties going to the smaller K;
    /// for modularity to the larger one, since a finer partition that is as clean says more (well-separated blobs
    /// grouped in twos score as well as the blobs themselves).
    /// </summary>
    internal static int Choose(ClusterCountCriterion criterion, IReadOnlyList<double> scores)
    {
        int best = 0;
        for (int i = 1; i < scores.Count; i++)
            if (criterion == ClusterCountCriterion.Modularity
                    ? scores[i] >= scores[best] - 1e-9
                    : ClusterCountCriteria.IsBetter(criterion, scores[i], scores[best]))
                best = i;
        return best;
    }
}
