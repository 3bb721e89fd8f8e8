using Microsoft.ML.DeepClustering.Graphs;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Seeding;

/// <summary>
/// UMAP's layout (McInnes, Healy and Melville 2018; umap-learn's <c>spectral.py</c> for the start and
/// <c>layouts.py</c> for the optimisation) of a fuzzy graph (<see cref="FuzzyGraph"/>) in a few dimensions. One
/// thread, one seeded generator: the layout is the same on every run with the same seed.
/// </summary>
internal static class UmapLayout
{
    /// <summary>
    /// The layout's affinity 1 / (1 + a·d^(2b)), fitted by umap-learn (<c>find_ab_params(spread = 1, min_dist = 0)</c>)
    /// to 1 at d = 0 and e^(−d) beyond.
    /// </summary>
    internal const float A = 1.9328084f, B = 0.79049497f;

    private const int NegativeSamplesPerEdge = 5;
    private const float GradientClip = 4f;
    private const int EigenProducts = 300;

    /// <summary>
    /// The UMAP layout of the <paramref name="n"/> rows of the fuzzy <paramref name="graph"/> in
    /// <paramref name="dimensions"/> dimensions (at most N − 2, the non-trivial eigenvectors of its start), optimised
    /// for <paramref name="epochs"/> epochs (0: umap-learn's choice, 500 up to 10,000 rows and 200 above), with
    /// <paramref name="context"/>'s generator.
    /// </summary>
    /// <returns>Row-major coordinates [N, Dimensions], and Dimensions.</returns>
    public static (float[] Coordinates, int Dimensions) Of(WeightedGraph graph, int n, int dimensions, int epochs, SeedingContext context)
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
        return (y, dimensions);
    }

    /// <summary>
    /// The starting layout: the eigenvectors of D^(−1/2) W D^(−1/2) after the leading one (the smallest non-trivial
    /// eigenvectors of the normalised Laplacian), each column scaled to [0, 10]. A random start takes many more epochs
    /// to untangle.
    /// </summary>
    private static float[] SpectralStart(WeightedGraph graph, int n, int dimensions, SeedingContext context)
    {
        using var scope = NewDisposeScope();
        var s = Affinity.Normalised(graph, n);
        // Columns in ascending order of eigenvalue: the last is the trivial one, proportional to √degree.
        var vectors = LeadingEigenvectors.Of(s, n, dimensions + 1, EigenProducts, context.Generator, context.Cancellation).narrow(1, 0, dimensions);
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
    internal static void Optimise(float[] y, WeightedGraph graph, int n, int dimensions, int epochs, Random random, CancellationToken cancellation)
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
