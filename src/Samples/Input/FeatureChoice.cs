using System.Globalization;
using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Samples.Input;

/// <summary>What the autoencoder clusters for an image folder (--features).</summary>
public enum FeatureRoute
{
    /// <summary>The images' own pixels, resized to --size (grayscale unless --color): the autoencoder learns from scratch.</summary>
    Pixels,

    /// <summary>512 features of ResNet18 pretrained on ImageNet (FeaturizeImages), with the image-features preset.</summary>
    ResNet18,

    /// <summary>The features of the user's ONNX image encoder (--backbone), with the image-features preset.</summary>
    Backbone,
}

/// <summary>The route an image folder takes, and why, in words for the console ("images are colour, median 640×480").</summary>
public sealed record FeatureChoice(FeatureRoute Route, string Reason)
{
    /// <summary>The name --features takes for each route.</summary>
    public static string NameOf(FeatureRoute route) => route switch
    {
        FeatureRoute.ResNet18 => "resnet18",
        FeatureRoute.Backbone => "backbone",
        _ => "pixels",
    };

    /// <summary>The route of a --features value (resnet18 or pixels, any case); null for anything else.</summary>
    public static FeatureRoute? Parse(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "resnet18" => FeatureRoute.ResNet18,
        "pixels" => FeatureRoute.Pixels,
        _ => null,
    };

    /// <summary>Images up to this side (the median's longer side) count as small: digit- or icon-sized, where pixels do.</summary>
    public const int SmallSide = 64;

    /// <summary>How many images are opened to choose: enough for a majority, few enough to take a second or two.</summary>
    public const int SampleSize = 24;

    /// <summary>
    /// The line printed before training: "Features: resnet18 (images are colour, 24 of 24 sampled, median 640×480;
    /// pass --features pixels for the pixel autoencoder)".
    /// </summary>
    public string Describe() => $"{NameOf(Route)} ({Reason})";

    /// <summary>
    /// For a folder given without --features: pretrained features for photos (most sampled images have colour, or
    /// they are larger than <see cref="SmallSide"/> px), the pixel autoencoder for small grayscale images (digits,
    /// glyphs), where ResNet18's ImageNet features describe little and pixels are what DEC was made for. --size or
    /// --color choose pixels: they set the pixel autoencoder's input.
    /// </summary>
    public static FeatureChoice Choose(IReadOnlyList<string> files, bool pixelOptionsGiven)
    {
        const string toPixels = "pass --features pixels for the pixel autoencoder";
        const string toResNet = "pass --features resnet18 for pretrained ResNet18 features";
        if (pixelOptionsGiven)
            return new FeatureChoice(FeatureRoute.Pixels, $"--size or --color set the pixel autoencoder's input; {toResNet}");

        // Spread over the whole listing, which is class by class: the first files would all come from one subfolder.
        var sampled = new List<(int Width, int Height, bool Colour)>();
        int samples = Math.Min(files.Count, SampleSize);
        for (int k = 0; k < samples; k++)
        {
            if (Inspect(files[(int)((long)k * files.Count / samples)]) is { } image)
                sampled.Add(image);
        }
        if (sampled.Count == 0)
            return new FeatureChoice(FeatureRoute.Pixels, $"none of the sampled images could be decoded; {toResNet}");

        var median = sampled.OrderBy(s => (long)s.Width * s.Height).ElementAt(sampled.Count / 2);
        int coloured = sampled.Count(s => s.Colour);
        bool colour = coloured * 2 > sampled.Count;
        bool large = Math.Max(median.Width, median.Height) > SmallSide;
        string counts = string.Create(CultureInfo.InvariantCulture, $"{(colour ? coloured : sampled.Count - coloured)} of {sampled.Count} sampled");
        string size = $"median {median.Width}×{median.Height}";
        return (colour, large) switch
        {
            (true, _) => new FeatureChoice(FeatureRoute.ResNet18, $"images are colour, {counts}, {size}; {toPixels}"),
            (false, true) => new FeatureChoice(FeatureRoute.ResNet18, $"images are grayscale, {counts}, but larger than {SmallSide} px, {size}; {toPixels}"),
            _ => new FeatureChoice(FeatureRoute.Pixels, $"images are small and grayscale, {counts}, {size}; {toResNet}"),
        };
    }

    /// <summary>
    /// The file's size, and whether it has colour: at least 1% of its opaque pixels (read at most 64 px across) have
    /// channels more than 24 levels apart, so that JPEG noise on a gray picture does not count.
    /// </summary>
    private static (int Width, int Height, bool Colour)? Inspect(string path)
    {
        try
        {
            using var codec = SKCodec.Create(path);
            if (codec is null)
                return null;
            var info = codec.Info;
            // The smallest size the codec decodes to directly (JPEG: down to 1/8), then shrunk to 64 px across.
            var scaled = codec.GetScaledDimensions(Math.Min(1f, 64f / Math.Max(1, Math.Max(info.Width, info.Height))));
            using var decoded = SKBitmap.Decode(codec, new SKImageInfo(scaled.Width, scaled.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
            if (decoded is null)
                return null;
            float shrink = Math.Min(1f, 64f / Math.Max(decoded.Width, decoded.Height));
            using var small = shrink < 1
                ? decoded.Resize(new SKImageInfo(Math.Max(1, (int)(decoded.Width * shrink)), Math.Max(1, (int)(decoded.Height * shrink)), SKColorType.Rgba8888, SKAlphaType.Unpremul), SKFilterQuality.Low)
                : null;
            var pixels = (small ?? decoded).Pixels;
            int opaque = 0, coloured = 0;
            foreach (var p in pixels)
            {
                if (p.Alpha < 128)
                    continue;
                opaque++;
                int spread = Math.Max(p.Red, Math.Max(p.Green, p.Blue)) - Math.Min(p.Red, Math.Min(p.Green, p.Blue));
                if (spread > 24)
                    coloured++;
            }
            return (info.Width, info.Height, opaque > 0 && coloured * 100 >= opaque);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }
}
