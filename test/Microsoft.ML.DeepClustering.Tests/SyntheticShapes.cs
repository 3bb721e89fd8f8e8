using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>
/// 16×16 grey images of four shapes (filled square, ring, plus, diagonal cross) of random size and position, with
/// noise: easy for a convolutional network, and cheap enough for the suite. Column Features is [1, 16, 16], as
/// ExtractPixels gives it, and Label is the shape (0..3).
/// </summary>
internal static class SyntheticShapes
{
    public const int Side = 16;
    public const int Classes = 4;

    public sealed class Row
    {
        [VectorType(1, Side, Side)] public float[] Features { get; set; } = Array.Empty<float>();
        public float Label { get; set; }
    }

    public static IDataView Load(MLContext ml, int rowsPerClass, int seed)
    {
        var rng = new Random(seed);
        var rows = new List<Row>();
        for (int i = 0; i < rowsPerClass; i++)
            for (int shape = 0; shape < Classes; shape++)
                rows.Add(new Row { Features = Draw(shape, rng), Label = shape });
        return ml.Data.LoadFromEnumerable(rows);
    }

    private static float[] Draw(int shape, Random rng)
    {
        var pixels = new float[Side * Side];
        double cy = 7.5 + rng.Next(-1, 2), cx = 7.5 + rng.Next(-1, 2), r = 4 + rng.NextDouble() * 0.5;
        for (int y = 0; y < Side; y++)
            for (int x = 0; x < Side; x++)
            {
                double dy = y - cy, dx = x - cx;
                bool on = shape switch
                {
                    0 => Math.Abs(dy) <= r && Math.Abs(dx) <= r,
                    1 => Math.Abs(Math.Sqrt(dy * dy + dx * dx) - r) <= 0.8,
                    2 => (Math.Abs(dy) <= 1 && Math.Abs(dx) <= r) || (Math.Abs(dx) <= 1 && Math.Abs(dy) <= r),
                    _ => Math.Abs(dy) <= r && Math.Abs(dx) <= r && (Math.Abs(dy - dx) <= 1 || Math.Abs(dy + dx) <= 1),
                };
                pixels[y * Side + x] = Math.Clamp((on ? 1f : 0f) + (float)(rng.NextDouble() - 0.5) * 0.2f, 0f, 1f);
            }
        return pixels;
    }
}
