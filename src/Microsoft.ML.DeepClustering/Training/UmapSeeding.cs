using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// N2D's manifold step (McConville et al. 2019) as a seeding: a UMAP layout (McInnes, Healy and Melville 2018) of the
/// pretrained embedding in a few dimensions, k-means++ with restarts on the layout, then the mean embedding of each
/// cluster as DEC's centroid. UMAP pulls each row towards its nearest neighbours and pushes it from random rows, so
/// classes that lie on curved, touching sheets in the embedding come apart in the layout where k-means' round clusters
/// cut across them. The layout is only used to partition the training rows: the model stays encoder + centroids and
/// scores new rows through the same ONNX graph.
/// <code>
///   z [N, E] ──kNN──► fuzzy graph W ──spectral init──► layout Y [N, d] ──SGD (attract edges, repel samples)──► Y
///                                                                                     │ k-means++
///   centroids [K, E] = mean z per cluster ◄───────────────────────────────────────── labels
/// </code>
/// We follow umap-learn's defaults for clustering (N2D's settings): min_dist 0, spread 1, 5 negative samples per
/// edge, learning rate 1 decaying linearly to 0, 500 epochs up to 10,000 rows and 200 above. One thread, one seeded
/// generator: the layout is the same on every run with the same seed.
/// </summary>
internal static class UmapSeeding
{
    /// <summary>
    /// The layout's affinity 1 / (1 + a·d^(2b)), fitted by umap-learn (<c>find_ab_params(spread = 1, min_dist = 0)</c>)
    /// to 1 at d = 0 and e^(−d) beyond.
    /// </summary>
    internal const float A = 1.9328084f, B = 0.79049497f;

    private const int NegativeSamplesPerEdge = 5;
    private const float GradientClip = 4f;
    private const int EigenProducts = 300;

    /// <summary>A layout: row-major coordinates [N, Dimensions].</summary>
    internal sealed record UmapLayout(float[] Coordinates, int Dimensions);

    /// <summary>The layout, then <see cref="Cluster"/>: centroids [K, E] in the space of <paramref name="z"/>, embeddings [N, E] on the training device.</summary>
    public static KMeansSeeding.Result Run(Tensor z, TrainingContext context) => Cluster(z, LayoutOf(z, context), context);

    /// <summary>
    /// The layout with the options' settings, from <paramref name="graph"/> when the caller already built the fuzzy
    /// graph (choosing K by modularity does). It does not depend on K, so choosing K computes it once.
    /// </summary>
    public static UmapLayout LayoutOf(Tensor z, TrainingContext context, Graph? graph = null) =>
        Layout(graph ?? FuzzyGraphOf(z, context.Options.UmapNeighbors, context.Cancellation), (int)z.shape[0],
            context.Options.UmapDimensions, context.Options.UmapEpochs, context);

    /// <summary>k-means++ with restarts on the layout, then the mean embedding per cluster.</summary>
    public static KMeansSeeding.Result Cluster(Tensor z, UmapLayout layout, TrainingContext context)
    {
        var options = context.Options;
        long n = z.shape[0];
        using var scope = NewDisposeScope();
        var y = tensor(layout.Coordinates, new[] { n, (long)layout.Dimensions }).to(z.device);
        var clustering = KMeansSeeding.RunIn(y, z, context, $"UMAP seeding: {layout.Dimensions}-d layout of the {Math.Min(options.UmapNeighbors, n - 1)}-NN graph of {n} rows");
        return clustering with { Centroids = clustering.Centroids.MoveToOuterDisposeScope() };
    }

    /// <summary>
    /// The UMAP layout of the <paramref name="n"/> rows of the fuzzy <paramref name="graph"/> in
    /// <paramref name="dimensions"/> dimensions (at most N − 2, the non-trivial eigenvectors of its start), optimised
    /// for <paramref name="epochs"/> epochs (0: umap-learn's choice, 500 up to 10,000 rows and 200 above), with
    /// <paramref name="context"/>'s generator.
    /// </summary>
    internal static UmapLayout Layout(Graph graph, int n, int dimensions, int epochs, TrainingContext context)
    {
        dimensions = Math.Max(1, Math.Min(dimensions, n - 2));
        if (epochs == 0)
            epochs = n <= 10_000 ? 500 : 200;
        // Edges too weak to be sampled once in all the epochs are dropped, as umap-learn does.
        float strongest = graph.Weights.Max();
        graph = graph.Keep(w => w >= strongest / epochs);
        var y = SpectralStart(graph, n, dimensions, context);
        long seed = randint(int.MaxValue, new long[] { 1 }, generator: context.Generator).item<long>();
        Optimise(y, graph, n, dimensions, epochs, new Random((int)seed), context.Cancellation);
        return new UmapLayout(y, dimensions);
    }

    /// <summary>The fuzzy graph of <paramref name="z"/>'s <paramref name="neighbours"/> nearest neighbours (see <see cref="FuzzyGraph"/>).</summary>
    public static Graph FuzzyGraphOf(Tensor z, int neighbours, CancellationToken cancellation)
    {
        int n = (int)z.shape[0];
        neighbours = Math.Min(neighbours, n - 1);
        var (distances, indices) = NeighbourLists(z, neighbours, cancellation);
        return FuzzyGraph(distances, indices, n, neighbours);
    }

    /// <summary>Each row's nearest neighbours (itself excluded) with their Euclidean distances, on the CPU.</summary>
    private static (float[] Distances, long[] Indices) NeighbourLists(Tensor z, int neighbours, CancellationToken cancellation)
    {
        using var scope = NewDisposeScope();
        var (squared, indices) = SpectralSeeding.NearestNeighbours(z, neighbours, cancellation);
        return (squared.sqrt().cpu().data<float>().ToArray(), indices.cpu().data<long>().ToArray());
    }

    /// <summary>An undirected weighted graph as a list of edges (each pair once).</summary>
    internal sealed record Graph(int[] From, int[] To, float[] Weights)
    {
        public Graph Keep(Func<float, bool> predicate)
        {
            var keep = Enumerable.Range(0, Weights.Length).Where(e => predicate(Weights[e])).ToArray();
            return new Graph(keep.Select(e => From[e]).ToArray(), keep.Select(e => To[e]).ToArray(), keep.Select(e => Weights[e]).ToArray());
        }
    }

    /// <summary>
    /// UMAP's fuzzy simplicial set. Row i's membership of neighbour j is exp(−(d_ij − ρ_i)/σ_i), with ρ_i the distance
    /// to its nearest neighbour (so every row is fully connected to at least one other) and σ_i set by bisection so
    /// that the memberships sum to log₂(k): each row sees a neighbourhood of the same size whatever the local density.
    /// The two directions combine as a fuzzy union, w = a + b − a·b.
    /// </summary>
    internal static Graph FuzzyGraph(float[] distances, long[] indices, int n, int neighbours)
    {
        double target = Math.Log2(neighbours);
        double meanDistance = distances.Average(d => (double)d);
        var membership = new Dictionary<long, (float Forward, float Backward)>(n * neighbours);
        for (int i = 0; i < n; i++)
        {
            var row = new ReadOnlySpan<float>(distances, i * neighbours, neighbours);
            float rho = 0;
            foreach (float d in row)
                if (d > 0) { rho = d; break; }
            double sigma = Bandwidth(row, rho, target);
            double rowMean = 0;
            foreach (float d in row) rowMean += d;
            rowMean /= neighbours;
            // umap-learn's floor, so that a row whose neighbours all sit at ρ does not get a zero bandwidth.
            sigma = Math.Max(sigma, 1e-3 * (rho > 0 ? rowMean : meanDistance));
            for (int t = 0; t < neighbours; t++)
            {
                int j = (int)indices[i * neighbours + t];
                double excess = row[t] - rho;
                float w = excess <= 0 ? 1f : (float)Math.Exp(-excess / sigma);
                long key = Math.Min(i, j) * (long)n + Math.Max(i, j);
                membership.TryGetValue(key, out var pair);
                membership[key] = i < j ? pair with { Forward = w } : pair with { Backward = w };
            }
        }
        var from = new int[membership.Count];
        var to = new int[membership.Count];
        var weights = new float[membership.Count];
        int e = 0;
        foreach (var (key, (a, b)) in membership.OrderBy(p => p.Key))
        {
            from[e] = (int)(key / n);
            to[e] = (int)(key % n);
            weights[e] = a + b - a * b;
            e++;
        }
        return new Graph(from, to, weights);
    }

    /// <summary>The σ at which Σ_j exp(−max(0, d_j − ρ)/σ) = target, by bisection (umap-learn's smooth_knn_dist).</summary>
    internal static double Bandwidth(ReadOnlySpan<float> row, float rho, double target)
    {
        double low = 0, high = double.PositiveInfinity, mid = 1;
        for (int step = 0; step < 64; step++)
        {
            double sum = 0;
            foreach (float d in row)
            {
                double excess = d - rho;
                sum += excess > 0 ? Math.Exp(-excess / mid) : 1;
            }
            if (Math.Abs(sum - target) < 1e-5)
                break;
            if (sum > target)
            {
                high = mid;
                mid = (low + high) / 2;
            }
            else
            {
                low = mid;
                mid = double.IsPositiveInfinity(high) ? mid * 2 : (low + high) / 2;
            }
        }
        return mid;
    }

    /// <summary>
    /// The starting layout: the eigenvectors of D^(−1/2) W D^(−1/2) after the leading one (the smallest non-trivial
    /// eigenvectors of the normalised Laplacian), each column scaled to [0, 10]. A random start takes many more epochs
    /// to untangle.
    /// </summary>
    private static float[] SpectralStart(Graph graph, int n, int dimensions, TrainingContext context)
    {
        using var scope = NewDisposeScope();
        var from = tensor(graph.From.Concat(graph.To).Select(i => (long)i).ToArray());
        var to = tensor(graph.To.Concat(graph.From).Select(i => (long)i).ToArray());
        var values = tensor(graph.Weights.Concat(graph.Weights).ToArray());
        var s = SpectralSeeding.NormalisedAffinity(from, to, values, n);
        // Columns in ascending order of eigenvalue: the last is the trivial one, proportional to √degree.
        var vectors = SpectralSeeding.TopEigenvectors(s, n, dimensions + 1, EigenProducts, context).narrow(1, 0, dimensions);
        var low = vectors.amin(new long[] { 0 }, keepdim: true);
        var high = vectors.amax(new long[] { 0 }, keepdim: true);
        var scaled = (vectors - low) / (high - low).clamp_min(1e-12) * 10;
        scaled.add_(randn(scaled.shape, generator: context.Generator) * 1e-4f);
        return scaled.contiguous().data<float>().ToArray();
    }

    /// <summary>
    /// umap-learn's layout optimisation: every edge is sampled in proportion to its weight; a sample pulls both ends
    /// together along the gradient of log(1 / (1 + a·d^(2b))) and pushes the head from 5 random rows along the gradient
    /// of log(1 − 1 / (1 + a·d^(2b))), each component clipped to ±4, with a learning rate falling linearly to 0.
    /// </summary>
    internal static void Optimise(float[] y, Graph graph, int n, int dimensions, int epochs, Random random, CancellationToken cancellation)
    {
        // Each undirected edge is sampled from both ends, as umap-learn walks its symmetric matrix's entries.
        int edges = graph.Weights.Length * 2;
        var head = new int[edges];
        var tail = new int[edges];
        var period = new float[edges];
        float strongest = graph.Weights.Max();
        for (int e = 0; e < graph.Weights.Length; e++)
        {
            head[2 * e] = graph.From[e]; tail[2 * e] = graph.To[e];
            head[2 * e + 1] = graph.To[e]; tail[2 * e + 1] = graph.From[e];
            period[2 * e] = period[2 * e + 1] = strongest / graph.Weights[e];
        }
        var nextSample = (float[])period.Clone();
        var negativePeriod = period.Select(p => p / NegativeSamplesPerEdge).ToArray();
        var nextNegative = (float[])negativePeriod.Clone();
        const float twoAB = 2 * A * B;
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            cancellation.ThrowIfCancellationRequested();
            float rate = 1f - epoch / (float)epochs;
            for (int e = 0; e < edges; e++)
            {
                if (nextSample[e] > epoch)
                    continue;
                var yj = new Span<float>(y, head[e] * dimensions, dimensions);
                var yk = new Span<float>(y, tail[e] * dimensions, dimensions);
                float d2 = SquaredDistance(yj, yk);
                float pull = d2 > 0 ? -twoAB * MathF.Pow(d2, B - 1) / (A * MathF.Pow(d2, B) + 1) : 0;
                for (int t = 0; t < dimensions; t++)
                {
                    float g = Math.Clamp(pull * (yj[t] - yk[t]), -GradientClip, GradientClip) * rate;
                    yj[t] += g;
                    yk[t] -= g;
                }
                nextSample[e] += period[e];
                int negatives = (int)((epoch - nextNegative[e]) / negativePeriod[e]);
                for (int p = 0; p < negatives; p++)
                {
                    int other = random.Next(n);
                    if (other == head[e])
                        continue;
                    var yo = new Span<float>(y, other * dimensions, dimensions);
                    d2 = SquaredDistance(yj, yo);
                    float push = d2 > 0 ? 2 * B / ((0.001f + d2) * (A * MathF.Pow(d2, B) + 1)) : 0;
                    for (int t = 0; t < dimensions; t++)
                        yj[t] += (push > 0 ? Math.Clamp(push * (yj[t] - yo[t]), -GradientClip, GradientClip) : GradientClip) * rate;
                }
                nextNegative[e] += negatives * negativePeriod[e];
            }
        }
    }

    private static float SquaredDistance(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float sum = 0;
        for (int t = 0; t < a.Length; t++)
        {
            float d = a[t] - b[t];
            sum += d * d;
        }
        return sum;
    }
}
