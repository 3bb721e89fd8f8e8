using System.Globalization;
using Microsoft.ML.DeepClustering.Samples.Input;
using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Samples.Report.Pictures;

/// <summary>What every picture shares: fonts, colours, text, turning feature vectors into bitmaps, saving PNGs.</summary>
internal static class Drawing
{
    // DejaVu Sans is on nearly every Linux (and is what fc-list shows here); elsewhere the family lookup falls back
    // to the platform's default font. On a machine with no fonts at all, text simply does not show: never a crash.
    public static readonly SKTypeface Regular = LoadTypeface(SKFontStyle.Normal);
    public static readonly SKTypeface Bold = LoadTypeface(SKFontStyle.Bold);

    public static readonly SKColor Ink = new(0x22, 0x22, 0x22);
    public static readonly SKColor Muted = new(0x66, 0x66, 0x66);
    public static readonly SKColor Grid = new(0xdd, 0xdd, 0xdd);
    public static readonly SKColor Stripe = new(0xf4, 0xf4, 0xf6);

    // Tableau 10, then darker and lighter companions: distinct on white, and the first 10 are what people expect.
    private static readonly SKColor[] Palette =
    {
        Hex(0x1f77b4), Hex(0xff7f0e), Hex(0x2ca02c), Hex(0xd62728), Hex(0x9467bd),
        Hex(0x8c564b), Hex(0xe377c2), Hex(0x7f7f7f), Hex(0xbcbd22), Hex(0x17becf),
        Hex(0x393b79), Hex(0xe7ba52), Hex(0x843c39), Hex(0x637939), Hex(0x7b4173),
        Hex(0xaec7e8), Hex(0xffbb78), Hex(0x98df8a), Hex(0xff9896), Hex(0xc5b0d5),
    };

    /// <summary>The colour of cluster id <paramref name="clusterId"/> (1-based), the same in every picture.</summary>
    public static SKColor ClusterColor(int clusterId)
    {
        int index = clusterId - 1;
        if (index >= 0 && index < Palette.Length)
            return Palette[index];
        // Beyond 20 clusters: hues spaced by the golden angle stay apart however many there are.
        float hue = (float)(index * 137.508 % 360);
        return SKColor.FromHsv(hue, 65, 80);
    }

    public static SKPaint TextPaint(float size, SKColor color, bool bold = false, SKTextAlign align = SKTextAlign.Left) => new()
    {
        Typeface = bold ? Bold : Regular,
        TextSize = size,
        Color = color,
        IsAntialias = true,
        TextAlign = align,
    };

    public static void Text(SKCanvas canvas, string text, float x, float y, float size, SKColor color,
        bool bold = false, SKTextAlign align = SKTextAlign.Left)
    {
        using var paint = TextPaint(size, color, bold, align);
        canvas.DrawText(text, x, y, paint);
    }

    public static float MeasureText(string text, float size, bool bold = false)
    {
        using var paint = TextPaint(size, Ink, bold);
        return paint.MeasureText(text);
    }

    /// <summary>Shortens <paramref name="text"/> with an ellipsis until it fits <paramref name="maxWidth"/> pixels.</summary>
    public static string Fit(string text, float size, float maxWidth, bool bold = false)
    {
        if (MeasureText(text, size, bold) <= maxWidth)
            return text;
        for (int n = text.Length - 1; n > 1; n--)
        {
            string shorter = text[..n] + "…";
            if (MeasureText(shorter, size, bold) <= maxWidth)
                return shorter;
        }
        return text[..1];
    }

    /// <summary>A feature vector (values in [0, 1], ExtractPixels' planar order) as a bitmap; values outside are clamped.</summary>
    public static SKBitmap ToBitmap(ReadOnlySpan<float> values, ImageShape shape)
    {
        var bitmap = new SKBitmap(new SKImageInfo(shape.Width, shape.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < shape.Height; y++)
        {
            for (int x = 0; x < shape.Width; x++)
            {
                byte r = ToByte(values[shape.IndexOf(0, x, y)]);
                byte g = shape.Channels == 3 ? ToByte(values[shape.IndexOf(1, x, y)]) : r;
                byte b = shape.Channels == 3 ? ToByte(values[shape.IndexOf(2, x, y)]) : r;
                bitmap.SetPixel(x, y, new SKColor(r, g, b));
            }
        }
        return bitmap;
    }

    /// <summary>
    /// Draws a small image scaled into <paramref name="destination"/>: nearest neighbour when enlarging (crisp
    /// pixels, as the model sees them), smooth when shrinking.
    /// </summary>
    public static void DrawImage(SKCanvas canvas, SKBitmap bitmap, SKRect destination)
    {
        using var paint = new SKPaint
        {
            FilterQuality = destination.Width >= bitmap.Width ? SKFilterQuality.None : SKFilterQuality.Medium,
        };
        canvas.DrawBitmap(bitmap, destination, paint);
    }

    /// <summary>
    /// Draws an image as large as fits in <paramref name="cell"/> with its aspect kept, centred on white (so that a
    /// photo's transparent parts and the cell's unused margins are white whatever is behind).
    /// </summary>
    public static void DrawFitted(SKCanvas canvas, SKBitmap bitmap, SKRect cell)
    {
        using (var white = new SKPaint { Color = SKColors.White })
            canvas.DrawRect(cell, white);
        float scale = Math.Min(cell.Width / bitmap.Width, cell.Height / bitmap.Height);
        float width = bitmap.Width * scale, height = bitmap.Height * scale;
        float left = cell.Left + (cell.Width - width) / 2, top = cell.Top + (cell.Height - height) / 2;
        DrawImage(canvas, bitmap, new SKRect(left, top, left + width, top + height));
    }

    /// <summary>The on-screen side of one small image: enlarged when tiny (MNIST's 28 px → 56), capped when large.</summary>
    public static int DisplaySize(ImageShape shape, int minimum = 56, int maximum = 96)
    {
        int side = Math.Max(shape.Width, shape.Height);
        int scale = Math.Max(1, minimum / Math.Max(1, side));
        return Math.Clamp(side * scale, Math.Min(minimum, side * scale), maximum);
    }

    /// <summary>The width a picture needs for its title (20 px bold) and subtitle (13 px) lines, margins included.</summary>
    public static int HeaderWidth(string title, string subtitle, int margin = 16) =>
        (int)Math.Ceiling(Math.Max(MeasureText(title, 20, bold: true), MeasureText(subtitle, 13))) + 2 * margin;

    public static (SKBitmap Bitmap, SKCanvas Canvas) NewCanvas(int width, int height)
    {
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        return (bitmap, canvas);
    }

    public static void SavePng(SKBitmap bitmap, string path)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.Write(path, stream => data.SaveTo(stream));
    }

    /// <summary>Round tick values between <paramref name="min"/> and <paramref name="max"/> (1, 2 or 5 × a power of ten apart).</summary>
    public static double[] NiceTicks(double min, double max, int target = 5)
    {
        if (!(max > min))
            return new[] { min };
        double rough = (max - min) / Math.Max(1, target - 1);
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        double step = new[] { 1, 2, 2.5, 5, 10 }.Select(m => m * magnitude).First(s => s >= rough);
        var ticks = new List<double>();
        for (double v = Math.Ceiling(min / step) * step; v <= max + step * 1e-9; v += step)
            ticks.Add(Math.Abs(v) < step * 1e-9 ? 0 : v);
        return ticks.ToArray();
    }

    public static string Format(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>"84%": invariant digits without the space .NET's invariant "P" format puts before the sign.</summary>
    public static string Percent(double share, int decimals = 0) =>
        (share * 100).ToString(decimals == 0 ? "0" : "0." + new string('0', decimals), CultureInfo.InvariantCulture) + "%";

    private static byte ToByte(float v) => (byte)Math.Round(Math.Clamp(float.IsNaN(v) ? 0 : v, 0f, 1f) * 255);

    private static SKColor Hex(uint rgb) => new((byte)(rgb >> 16), (byte)(rgb >> 8), (byte)rgb);

    private static SKTypeface LoadTypeface(SKFontStyle style)
    {
        try
        {
            return SKTypeface.FromFamilyName("DejaVu Sans", style) ?? SKTypeface.Default;
        }
        catch (Exception)
        {
            return SKTypeface.Default;
        }
    }
}
