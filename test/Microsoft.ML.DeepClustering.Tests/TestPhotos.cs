using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>
/// Small picture files in two groups any pretrained network tells apart: suns (a warm disc on a blue sky, where the
/// sun stands varies) and stripes (black bars on white, slanted one way or the other); PNG and JPEG files of several
/// sizes, one stripes picture stored as a grayscale PNG.
/// </summary>
internal static class TestPhotos
{
    public static readonly SKColor Sky = new(110, 190, 235);
    public static readonly SKColor SunColour = new(255, 190, 20);

    /// <summary>
    /// Writes <paramref name="perGroup"/> pictures of each group: sun{i} (every third a JPEG) into
    /// <paramref name="sunFolder"/>, stripes{i}.png (the first grayscale) into <paramref name="stripesFolder"/>.
    /// </summary>
    /// <returns>Each file and its group: 0 for suns, 1 for stripes; suns and stripes alternate.</returns>
    public static List<(string Path, int Group)> Write(string sunFolder, string stripesFolder, int perGroup, int seed = 7)
    {
        Directory.CreateDirectory(sunFolder);
        Directory.CreateDirectory(stripesFolder);
        var random = new Random(seed);
        var images = new List<(string, int)>();
        for (int i = 0; i < perGroup; i++)
        {
            int width = 48 + random.Next(80), height = 40 + random.Next(60);
            images.Add((Save(Path.Combine(sunFolder, $"sun{i}.{(i % 3 == 0 ? "jpg" : "png")}"), Sun(width, height, random)), 0));
            images.Add((Save(Path.Combine(stripesFolder, $"stripes{i}.png"), Stripes(width, height, random), grayscale: i == 0), 1));
        }
        return images;
    }

    /// <summary>Encodes <paramref name="bitmap"/> (then disposes it) as JPEG for a .jpg name, else PNG; optionally as one gray channel.</summary>
    public static string Save(string path, SKBitmap bitmap, bool grayscale = false)
    {
        using (bitmap)
        {
            using var image = grayscale ? bitmap.Copy(SKColorType.Gray8) : bitmap.Copy();
            using var file = File.Create(path);
            image.Encode(file, path.EndsWith(".jpg") ? SKEncodedImageFormat.Jpeg : SKEncodedImageFormat.Png, 95);
        }
        return path;
    }

    public static SKBitmap Sun(int width, int height, Random random)
    {
        // One sky and one sun colour: the pictures differ in size and in where the sun stands.
        var bitmap = Solid(width, height, Sky);
        using var canvas = new SKCanvas(bitmap);
        using var paint = new SKPaint { Color = SunColour, IsAntialias = true };
        canvas.DrawCircle(width * (0.3f + 0.4f * (float)random.NextDouble()), height * (0.3f + 0.4f * (float)random.NextDouble()), Math.Min(width, height) * 0.3f, paint);
        return bitmap;
    }

    public static SKBitmap Stripes(int width, int height, Random random)
    {
        var bitmap = Solid(width, height, SKColors.White);
        using var canvas = new SKCanvas(bitmap);
        // One stroke and spacing, so that every stripes picture has about the same mean gray.
        using var paint = new SKPaint { Color = SKColors.Black, StrokeWidth = 3 };
        float slant = height * (random.Next(2) == 0 ? 0.5f : -0.5f);
        for (int x = -height; x < width + height; x += 8)
            canvas.DrawLine(x, 0, x + slant, height, paint);
        return bitmap;
    }

    public static SKBitmap Solid(int width, int height, SKColor colour)
    {
        var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        bitmap.Erase(colour);
        return bitmap;
    }
}
