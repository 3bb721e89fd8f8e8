using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Graphs;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// Large inputs made on the fly, row by row and deterministically from (seed, row index), so that a million rows
/// need no disk and every run sees the same rows:
/// <list type="bullet">
/// <item>MNIST-like digits: MNIST's own images first, then deformed copies of them, as infiMNIST and MNIST-8M were
///   made (Loosli, Canu and Bottou 2007): a random affine map (rotation, scale, shear, shift) and an elastic
///   deformation (Simard, Steinkraus and Platt 2003: a random displacement field smoothed by a Gaussian), labels kept;</item>
/// <item>vectors of a known mixture in the shape of sentence embeddings: unit-length rows around C directions of
///   uneven weight, with isotropic noise and a low-rank spread per component.</item>
/// </list>
/// </summary>
internal static class ScaleData
{
    public sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public float Label { get; set; }
    }

    /// <summary>A lazily generated IDataView of <paramref name="rows"/> rows (its row count is not known to ML.NET).</summary>
    public static IDataView View(MLContext ml, IEnumerable<Row> rows, int dimensions)
    {
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dimensions);
        return ml.Data.LoadFromEnumerable(rows, schema);
    }

    /// <summary><paramref name="count"/> MNIST-like rows from <paramref name="source"/> (pixels in [0, 1], labels).</summary>
    public static IEnumerable<Row> MnistLike(IReadOnlyList<(float[] Pixels, int Label)> source, long count, int seed)
    {
        for (long i = 0; i < count; i++)
        {
            var (pixels, label) = source[(int)(i % source.Count)];
            yield return new Row { Features = i < source.Count ? pixels : Deform(pixels, RowRandom(seed, i)), Label = label };
        }
    }

    /// <summary>
    /// A generator for row <paramref name="i"/> alone: the same row whatever order or subset is read, and in every
    /// process. (It was seeded with <c>HashCode.Combine</c>, which .NET randomises per process, so each run drew other
    /// rows from the same distribution and two runs of one command never matched.) The hash is SplitMix64's
    /// finaliser, the one NN-descent hashes its random choices with.
    /// </summary>
    private static Random RowRandom(int seed, long i) =>
        new((int)(NearestNeighbours.Mix(NearestNeighbours.Mix((ulong)(uint)seed) ^ (ulong)i) >> 33));

    /// <summary>A 28×28 image under a random affine map and elastic deformation, sampled bilinearly.</summary>
    internal static float[] Deform(float[] image, Random random)
    {
        const int size = 28;
        double angle = (random.NextDouble() * 2 - 1) * 12 * Math.PI / 180;
        double scale = 0.9 + random.NextDouble() * 0.2;
        double shear = (random.NextDouble() * 2 - 1) * 0.15;
        double dx = (random.NextDouble() * 2 - 1) * 2, dy = (random.NextDouble() * 2 - 1) * 2;
        var fieldX = SmoothField(random, size, sigma: 4, alpha: 6);
        var fieldY = SmoothField(random, size, sigma: 4, alpha: 6);
        double cos = Math.Cos(angle) / scale, sin = Math.Sin(angle) / scale;
        var result = new float[size * size];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                // Output pixel → source position: inverse affine map about the centre, then the elastic offset.
                double u = x - 13.5 - dx, v = y - 13.5 - dy;
                double sx = cos * u - sin * v + shear * v + 13.5 + fieldX[y * size + x];
                double sy = sin * u + cos * v + 13.5 + fieldY[y * size + x];
                result[y * size + x] = Bilinear(image, size, sx, sy);
            }
        return result;
    }

    private static float[] SmoothField(Random random, int size, double sigma, double alpha)
    {
        var field = new double[size * size];
        for (int i = 0; i < field.Length; i++)
            field[i] = random.NextDouble() * 2 - 1;
        int radius = (int)Math.Ceiling(2 * sigma);
        var kernel = Enumerable.Range(-radius, 2 * radius + 1).Select(t => Math.Exp(-t * t / (2 * sigma * sigma))).ToArray();
        double norm = kernel.Sum();
        var pass = new double[field.Length];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                double sum = 0;
                for (int t = -radius; t <= radius; t++)
                    sum += kernel[t + radius] * field[y * size + Math.Clamp(x + t, 0, size - 1)];
                pass[y * size + x] = sum / norm;
            }
        var smooth = new float[field.Length];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                double sum = 0;
                for (int t = -radius; t <= radius; t++)
                    sum += kernel[t + radius] * pass[Math.Clamp(y + t, 0, size - 1) * size + x];
                smooth[y * size + x] = (float)(alpha * sum / norm);
            }
        return smooth;
    }

    private static float Bilinear(float[] image, int size, double x, double y)
    {
        int x0 = (int)Math.Floor(x), y0 = (int)Math.Floor(y);
        double fx = x - x0, fy = y - y0;
        float At(int xx, int yy) => xx < 0 || yy < 0 || xx >= size || yy >= size ? 0f : image[yy * size + xx];
        return (float)((1 - fx) * (1 - fy) * At(x0, y0) + fx * (1 - fy) * At(x0 + 1, y0) + (1 - fx) * fy * At(x0, y0 + 1) + fx * fy * At(x0 + 1, y0 + 1));
    }

    /// <summary>
    /// <paramref name="count"/> unit-length rows of <paramref name="dimensions"/> around <paramref name="components"/>
    /// random directions with weights ∝ 1/√(c + 1): each row is its component's direction, plus a draw from that
    /// component's 8 spread directions (scale 0.6) and isotropic noise (σ = <paramref name="noise"/> per dimension
    /// times √(1/dimensions)), normalised to length 1.
    /// </summary>
    public static IEnumerable<Row> Mixture(long count, int dimensions, int components, double noise, int seed)
    {
        var setup = new Random(seed);
        double Normal(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
        float[] Direction(Random r)
        {
            var v = Enumerable.Range(0, dimensions).Select(_ => Normal(r)).ToArray();
            double length = Math.Sqrt(v.Sum(a => a * a));
            return v.Select(a => (float)(a / length)).ToArray();
        }
        var means = Enumerable.Range(0, components).Select(_ => Direction(setup)).ToArray();
        var spreads = Enumerable.Range(0, components).Select(_ => Enumerable.Range(0, 8).Select(_ => Direction(setup)).ToArray()).ToArray();
        var weights = Enumerable.Range(0, components).Select(c => 1 / Math.Sqrt(c + 1)).ToArray();
        double total = weights.Sum();
        var cumulative = weights.Select((w, c) => weights.Take(c + 1).Sum() / total).ToArray();
        double perDimension = noise / Math.Sqrt(dimensions);
        for (long i = 0; i < count; i++)
        {
            var random = RowRandom(seed, i);
            double u = random.NextDouble();
            int c = Array.FindIndex(cumulative, p => u <= p);
            if (c < 0) c = components - 1;
            var row = (float[])means[c].Clone();
            foreach (var spread in spreads[c])
            {
                double a = 0.6 * Normal(random) / Math.Sqrt(spreads[c].Length);
                for (int d = 0; d < dimensions; d++)
                    row[d] += (float)(a * spread[d]);
            }
            for (int d = 0; d < dimensions; d++)
                row[d] += (float)(perDimension * Normal(random));
            double length = Math.Sqrt(row.Sum(a => (double)a * a));
            for (int d = 0; d < dimensions; d++)
                row[d] = (float)(row[d] / length);
            yield return new Row { Features = row, Label = c };
        }
    }
}
