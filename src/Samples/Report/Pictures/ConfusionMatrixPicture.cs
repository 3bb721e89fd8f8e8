using Microsoft.ML.DeepClustering.Samples.Input;
using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Samples.Report.Pictures;

/// <summary>
/// confusion-matrix.png: clusters (rows) × true classes (columns), the count in each cell, shaded by the share of
/// the cluster it holds. Rows are ordered by the class each cluster is matched to, so a good clustering shows a
/// diagonal; the matched cells (the matching behind ACC) are outlined.
/// </summary>
internal static class ConfusionMatrixPicture
{
    private const int Margin = 16;
    private const int HeaderHeight = 58;
    private const string Title = "Clusters × true classes";
    private const string Subtitle = "Counts; shade = share of the cluster; outlined = the cluster → class matching used for ACC.";

    public static SKBitmap Draw(ClusteringConfusionMatrix matrix, LabelSet labels)
    {
        int clusters = matrix.ClusterIds.Count;
        int classes = matrix.ClassLabels.Count;
        int cell = Math.Clamp(600 / Math.Max(clusters, classes), 22, 52);
        float countSize = Math.Clamp(cell * 0.3f, 9, 14);
        bool showCounts = cell >= 26;

        var classNames = matrix.ClassLabels.Select(labels.NameOf).ToArray();
        float longest = classNames.Max(n => Drawing.MeasureText(n, 13));
        bool rotate = longest > cell - 6;
        float columnHeader = rotate ? Math.Min(longest, 140) * 0.72f + 24 : 26;
        const float rowHeaderWidth = 150;
        const float totalsWidth = 80;

        // Clusters matched to a class first, in class order; the rest after, by id.
        var mapping = matrix.Mapping;
        var classIndex = matrix.ClassLabels.Select((label, j) => (label, j)).ToDictionary(p => p.label, p => p.j);
        var order = Enumerable.Range(0, clusters)
            .OrderBy(i => mapping.TryGetValue(matrix.ClusterIds[i], out int c) ? classIndex[c] : int.MaxValue)
            .ThenBy(i => matrix.ClusterIds[i])
            .ToArray();

        float gridLeft = Margin + rowHeaderWidth;
        float gridTop = HeaderHeight + 22 + columnHeader;
        int width = (int)(gridLeft + classes * cell + totalsWidth + Margin);
        width = Math.Max(width, Drawing.HeaderWidth(Title, Subtitle, Margin));
        int height = (int)(gridTop + clusters * cell + 56);
        var (bitmap, canvas) = Drawing.NewCanvas(width, height);
        using (canvas)
        {
            Drawing.Text(canvas, Title, Margin, 28, 20, Drawing.Ink, bold: true);
            Drawing.Text(canvas, Subtitle, Margin, 48, 13, Drawing.Muted);
            Drawing.Text(canvas, "true class →", gridLeft, HeaderHeight + 14, 13, Drawing.Muted);

            // Column headers: class names, slanted when they do not fit the cell.
            for (int j = 0; j < classes; j++)
            {
                float x = gridLeft + j * cell + cell / 2f;
                float y = gridTop - 8;
                if (rotate)
                {
                    canvas.Save();
                    canvas.Translate(x + 4, y);
                    canvas.RotateDegrees(-45);
                    Drawing.Text(canvas, Drawing.Fit(classNames[j], 13, 140), 0, 0, 13, Drawing.Ink);
                    canvas.Restore();
                }
                else
                {
                    Drawing.Text(canvas, classNames[j], x, y, 13, Drawing.Ink, align: SKTextAlign.Center);
                }
            }
            Drawing.Text(canvas, "size", gridLeft + classes * cell + 10, gridTop - 8, 13, Drawing.Muted);

            for (int r = 0; r < clusters; r++)
            {
                int i = order[r];
                int id = matrix.ClusterIds[i];
                int size = matrix.ClusterSizes[i];
                float top = gridTop + r * cell;
                float middle = top + cell / 2f + 5;
                using (var swatch = new SKPaint { Color = Drawing.ClusterColor(id), IsAntialias = true })
                    canvas.DrawCircle(Margin + 6, top + cell / 2f, 5, swatch);
                Drawing.Text(canvas, $"cluster {id}", Margin + 18, middle, 13, Drawing.Ink, bold: true);
                Drawing.Text(canvas, $"{size:N0}", gridLeft + classes * cell + 10, middle, 13, Drawing.Muted);

                for (int j = 0; j < classes; j++)
                {
                    int count = matrix[i, j];
                    double share = size == 0 ? 0 : (double)count / size;
                    var rect = new SKRect(gridLeft + j * cell, top, gridLeft + (j + 1) * cell, top + cell);
                    using (var fill = new SKPaint { Color = Shade(share) })
                        canvas.DrawRect(rect, fill);
                    using (var line = new SKPaint { Color = SKColors.White, Style = SKPaintStyle.Stroke, StrokeWidth = 1 })
                        canvas.DrawRect(rect, line);
                    if (showCounts && count > 0)
                    {
                        Drawing.Text(canvas, $"{count}", rect.MidX, rect.MidY + countSize * 0.36f, countSize,
                            share > 0.45 ? SKColors.White : Drawing.Ink, align: SKTextAlign.Center);
                    }
                }
                if (mapping.TryGetValue(id, out int matched))
                {
                    int j = classIndex[matched];
                    var rect = new SKRect(gridLeft + j * cell + 1.5f, top + 1.5f, gridLeft + (j + 1) * cell - 1.5f, top + cell - 1.5f);
                    using var outline = new SKPaint { Color = new SKColor(0xe6, 0x55, 0x0d), Style = SKPaintStyle.Stroke, StrokeWidth = 3 };
                    canvas.DrawRect(rect, outline);
                }
            }

            Drawing.Text(canvas, $"{matrix.NumberOfSamples:N0} rows, {clusters} clusters, {classes} classes",
                Margin, gridTop + clusters * cell + 30, 13, Drawing.Muted);
        }
        return bitmap;
    }

    /// <summary>White to dark blue (ColorBrewer "Blues"), so that 0 reads as empty and the majority stands out.</summary>
    private static SKColor Shade(double share)
    {
        SKColor[] stops = { new(0xf7, 0xfb, 0xff), new(0xc6, 0xdb, 0xef), new(0x6b, 0xae, 0xd6), new(0x21, 0x71, 0xb5), new(0x08, 0x30, 0x6b) };
        double t = Math.Clamp(share, 0, 1) * (stops.Length - 1);
        int k = Math.Min((int)t, stops.Length - 2);
        double f = t - k;
        byte Mix(byte a, byte b) => (byte)Math.Round(a + (b - a) * f);
        return new SKColor(Mix(stops[k].Red, stops[k + 1].Red), Mix(stops[k].Green, stops[k + 1].Green), Mix(stops[k].Blue, stops[k + 1].Blue));
    }
}
