namespace Microsoft.ML.DeepClustering.Samples.Input;

/// <summary>
/// The layout of one feature vector: ExtractPixels' planar order, channel by channel, each channel row by row.
/// The report needs it to turn vectors (inputs, decoded centroids) back into pictures. Fields in the library's order
/// (channels, height, width: ExtractPixels' [C, H, W]).
/// </summary>
public readonly record struct ImageShape(int Channels, int Height, int Width)
{
    /// <summary>Number of values in the feature vector.</summary>
    public int Size => Channels * Height * Width;

    /// <summary>The value of channel <paramref name="c"/> at (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public int IndexOf(int c, int x, int y) => (c * Height + y) * Width + x;

    /// <summary>Best guess when only the vector size is known: a square of one or three channels, else one row.</summary>
    public static ImageShape Guess(int size)
    {
        int side = (int)Math.Round(Math.Sqrt(size));
        if (side * side == size)
            return new ImageShape(1, side, side);
        int colorSide = (int)Math.Round(Math.Sqrt(size / 3.0));
        if (colorSide * colorSide * 3 == size)
            return new ImageShape(3, colorSide, colorSide);
        return new ImageShape(1, 1, size);
    }

    public override string ToString() => $"{Width}×{Height} {(Channels == 3 ? "colour" : "grayscale")}";
}
