namespace Microsoft.ML.DeepClustering.Model;

/// <summary>Channels, height and width of the images behind a feature vector.</summary>
internal sealed record ImageShape(int Channels, int Height, int Width)
{
    /// <summary>Values per image, C·H·W.</summary>
    public int Size => Channels * Height * Width;

    public override string ToString() => $"{Channels}×{Height}×{Width}";

    /// <summary>
    /// From <paramref name="height"/> and <paramref name="width"/> when given (<paramref name="channels"/> defaulting
    /// to 1; null when they do not multiply to <paramref name="size"/>), else from the column's dimensions
    /// ([C, H, W] from ExtractPixels, [H, W]), else a square single-channel image when the vector's size is a perfect
    /// square (784 → 1×28×28).
    /// </summary>
    public static ImageShape? Infer(IReadOnlyList<int> dimensions, int size, int? height, int? width, int? channels)
    {
        if (height is int h && width is int w)
        {
            int c = channels ?? 1;
            return c * h * w == size ? new ImageShape(c, h, w) : null;
        }
        if (dimensions.Count == 3)
            return new ImageShape(dimensions[0], dimensions[1], dimensions[2]);
        if (dimensions.Count == 2)
            return new ImageShape(1, dimensions[0], dimensions[1]);
        int side = (int)Math.Round(Math.Sqrt(size));
        return side * side == size ? new ImageShape(1, side, side) : null;
    }
}
