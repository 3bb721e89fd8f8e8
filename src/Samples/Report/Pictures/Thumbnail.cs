using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Samples.Report.Pictures;

/// <summary>
/// Small copies of image files for the montage on the ResNet18 route, where the Features are not pixels that could
/// be drawn: what the user sees is their own photo, whole (aspect kept, not the network's 224×224 crop).
/// </summary>
internal static class Thumbnail
{
    /// <summary>The side of a photo's square in the montage.</summary>
    public const int Side = 96;

    /// <summary>
    /// The file shrunk to fit <paramref name="side"/>×<paramref name="side"/> with its aspect kept, transparency
    /// composited onto white; a plain gray square when the file cannot be decoded (moved or deleted since it was
    /// featurized), so that the montage still shows the cluster.
    /// </summary>
    public static SKBitmap Load(string path, int side = Side)
    {
        using var codec = File.Exists(path) ? SKCodec.Create(path) : null;
        if (codec is not null)
        {
            var info = codec.Info;
            float scale = Math.Min(1f, (float)side / Math.Max(info.Width, info.Height));
            // Large JPEGs decode straight at 1/2, 1/4 or 1/8 of their size: a 12-megapixel photo is not decoded whole.
            var scaled = codec.GetScaledDimensions(scale);
            using var decoded = SKBitmap.Decode(codec, new SKImageInfo(scaled.Width, scaled.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
            if (decoded is not null)
            {
                int width = Math.Max(1, (int)Math.Round(info.Width * scale)), height = Math.Max(1, (int)Math.Round(info.Height * scale));
                var thumbnail = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
                using var canvas = new SKCanvas(thumbnail);
                canvas.Clear(SKColors.White);
                using var paint = new SKPaint { FilterQuality = SKFilterQuality.High, IsAntialias = true };
                canvas.DrawBitmap(decoded, new SKRect(0, 0, width, height), paint);
                return thumbnail;
            }
        }
        var missing = new SKBitmap(new SKImageInfo(side, side, SKColorType.Rgba8888, SKAlphaType.Premul));
        missing.Erase(Drawing.Grid);
        return missing;
    }
}
