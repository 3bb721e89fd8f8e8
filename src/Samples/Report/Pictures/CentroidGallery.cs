using Microsoft.ML.DeepClustering.Samples.Input;
using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Samples.Report.Pictures;

/// <summary>
/// centroids.png: each cluster centre mapped back to pixels through the trained decoder — the model's idea of the
/// typical member of each cluster.
/// </summary>
internal static class CentroidGallery
{
    private const int Margin = 16;
    private const int Gap = 14;
    private const int HeaderHeight = 58;
    private const int CaptionHeight = 40;
    private const string Subtitle = "Each cluster centre passed through the trained decoder: the model's typical member of the cluster.";

    /// <param name="decoded">transformer.DecodeCentroids(): row i is cluster id i + 1.</param>
    /// <param name="sizes">Rows per cluster, index 0 = cluster 1.</param>
    /// <param name="caption">Second caption line per cluster id (e.g. "→ 7"), or null.</param>
    public static SKBitmap Draw(float[][] decoded, ImageShape shape, IReadOnlyList<int> sizes, Func<int, string?> caption)
    {
        int tile = Drawing.DisplaySize(shape, minimum: 84, maximum: 128);
        int columnWidth = Math.Max(tile, 150);
        int columns = Math.Min(decoded.Length, 10);
        int rows = (decoded.Length + columns - 1) / columns;
        int width = Margin * 2 + columns * columnWidth + (columns - 1) * Gap;
        width = Math.Max(width, Drawing.HeaderWidth("Decoded centroids", Subtitle, Margin));
        int height = HeaderHeight + rows * (tile + CaptionHeight + Gap) + Margin;
        var (bitmap, canvas) = Drawing.NewCanvas(width, height);
        using (canvas)
        {
            Drawing.Text(canvas, "Decoded centroids", Margin, 28, 20, Drawing.Ink, bold: true);
            Drawing.Text(canvas, Subtitle, Margin, 48, 13, Drawing.Muted);
            for (int i = 0; i < decoded.Length; i++)
            {
                int id = i + 1;
                float left = Margin + (i % columns) * (columnWidth + Gap);
                float top = HeaderHeight + (i / columns) * (tile + CaptionHeight + Gap);
                float imageLeft = left + (columnWidth - tile) / 2f;
                using (var image = Drawing.ToBitmap(decoded[i], shape))
                    Drawing.DrawImage(canvas, image, new SKRect(imageLeft, top, imageLeft + tile, top + tile));
                using (var frame = new SKPaint { Color = Drawing.ClusterColor(id), Style = SKPaintStyle.Stroke, StrokeWidth = 3, IsAntialias = true })
                    canvas.DrawRect(imageLeft - 1.5f, top - 1.5f, tile + 3, tile + 3, frame);

                float centre = left + columnWidth / 2f;
                string size = i < sizes.Count ? $" ({sizes[i]:N0})" : "";
                Drawing.Text(canvas, Drawing.Fit($"Cluster {id}{size}", 13, columnWidth, bold: true), centre, top + tile + 18, 13,
                    Drawing.Ink, bold: true, align: SKTextAlign.Center);
                if (caption(id) is { } second)
                    Drawing.Text(canvas, Drawing.Fit(second, 12, columnWidth), centre, top + tile + 34, 12, Drawing.Muted, align: SKTextAlign.Center);
            }
        }
        return bitmap;
    }
}
