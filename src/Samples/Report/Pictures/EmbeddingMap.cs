using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Samples.Report.Pictures;

/// <summary>
/// embedding.png: the learned embedding projected to its two principal components, one dot per row (a few thousand
/// at most, so the picture stays readable), coloured by cluster, with the centroids marked by their id. Well
/// separated blobs mean the encoder found structure; the projection flattens E dimensions into 2, so overlap here
/// does not always mean overlap in the embedding.
/// </summary>
internal static class EmbeddingMap
{
    public const int MaxPoints = 3000;

    private const int Margin = 16;
    private const int HeaderHeight = 58;
    private const int PlotWidth = 720;
    private const int PlotHeight = 540;
    private const int LegendRowHeight = 20;
    private const int LegendColumnWidth = 150;

    /// <param name="embeddings">All rows' embeddings (the PCA is fitted on all of them).</param>
    /// <param name="clusterIds">1-based cluster id per row.</param>
    /// <param name="centroids">Centroids in the embedding (row i = cluster i + 1), or null to mark each cluster's mean instead.</param>
    /// <param name="sizes">Rows per cluster, index 0 = cluster 1.</param>
    public static SKBitmap Draw(IReadOnlyList<float[]> embeddings, IReadOnlyList<int> clusterIds, float[]?[]? centroids,
        IReadOnlyList<int> sizes, int seed)
    {
        int k = sizes.Count;
        var pca = Pca2D.Fit(embeddings);

        // A fixed random subset, drawn in random order so that no cluster is always painted on top of the others.
        var random = new Random(seed);
        var rows = Enumerable.Range(0, embeddings.Count).OrderBy(_ => random.Next()).Take(MaxPoints).ToArray();
        var points = rows.Select(i => pca.Project(embeddings[i])).ToArray();
        var centres = centroids ?? ClusterMeans(embeddings, clusterIds, k);
        var marks = centres.Select((c, i) => (Id: i + 1, Centre: c)).Where(m => m.Centre is not null)
            .Select(m => (m.Id, Point: pca.Project(m.Centre!))).ToArray();

        var all = points.Concat(marks.Select(m => m.Point)).ToArray();
        double minX = all.Min(p => p.X), maxX = all.Max(p => p.X);
        double minY = all.Min(p => p.Y), maxY = all.Max(p => p.Y);
        double padX = Math.Max((maxX - minX) * 0.04, 1e-6), padY = Math.Max((maxY - minY) * 0.04, 1e-6);
        minX -= padX; maxX += padX; minY -= padY; maxY += padY;

        int legendRows = Math.Max(1, (PlotHeight - 10) / LegendRowHeight);
        int legendColumns = (k + legendRows - 1) / legendRows;
        int plotLeft = Margin + 24;
        int plotTop = HeaderHeight + 8;
        int width = plotLeft + PlotWidth + 24 + legendColumns * LegendColumnWidth + Margin;
        int height = plotTop + PlotHeight + 44;
        var (bitmap, canvas) = Drawing.NewCanvas(width, height);
        using (canvas)
        {
            Drawing.Text(canvas, "Embedding map", Margin, 28, 20, Drawing.Ink, bold: true);
            string sample = embeddings.Count > rows.Length ? $"{rows.Length:N0} of {embeddings.Count:N0} rows" : $"{rows.Length:N0} rows";
            Drawing.Text(canvas, $"The embedding projected on its first two principal components; {sample}, coloured by cluster; " +
                (centroids is null ? "numbered discs are the cluster means." : "numbered discs are the centroids."), Margin, 48, 13, Drawing.Muted);

            var plot = new SKRect(plotLeft, plotTop, plotLeft + PlotWidth, plotTop + PlotHeight);
            using (var frame = new SKPaint { Color = Drawing.Grid, Style = SKPaintStyle.Stroke, StrokeWidth = 1 })
                canvas.DrawRect(plot, frame);
            float X(double x) => (float)(plot.Left + (x - minX) / (maxX - minX) * plot.Width);
            float Y(double y) => (float)(plot.Bottom - (y - minY) / (maxY - minY) * plot.Height);

            float radius = rows.Length > 1500 ? 2.2f : 3f;
            using (var dot = new SKPaint { IsAntialias = true })
            {
                for (int n = 0; n < rows.Length; n++)
                {
                    dot.Color = Drawing.ClusterColor(clusterIds[rows[n]]).WithAlpha(170);
                    canvas.DrawCircle(X(points[n].X), Y(points[n].Y), radius, dot);
                }
            }

            foreach (var (id, point) in marks)
            {
                float x = X(point.X), y = Y(point.Y);
                using (var disc = new SKPaint { Color = Drawing.ClusterColor(id), IsAntialias = true })
                    canvas.DrawCircle(x, y, 11, disc);
                using (var ring = new SKPaint { Color = SKColors.Black, Style = SKPaintStyle.Stroke, StrokeWidth = 1.5f, IsAntialias = true })
                    canvas.DrawCircle(x, y, 11, ring);
                Drawing.Text(canvas, $"{id}", x, y + 4.5f, 12, SKColors.White, bold: true, align: SKTextAlign.Center);
            }

            Drawing.Text(canvas, $"PC 1 ({Drawing.Percent(pca.ExplainedFirst)} of the variance)", plot.MidX, plot.Bottom + 24, 13, Drawing.Muted,
                align: SKTextAlign.Center);
            canvas.Save();
            canvas.Translate(plot.Left - 10, plot.MidY);
            canvas.RotateDegrees(-90);
            Drawing.Text(canvas, $"PC 2 ({Drawing.Percent(pca.ExplainedSecond)} of the variance)", 0, 0, 13, Drawing.Muted, align: SKTextAlign.Center);
            canvas.Restore();

            // Legend: colour, id and size of every cluster, in as many columns as it takes.
            for (int c = 0; c < k; c++)
            {
                float left = plot.Right + 24 + (c / legendRows) * LegendColumnWidth;
                float top = plot.Top + 4 + (c % legendRows) * LegendRowHeight;
                using (var swatch = new SKPaint { Color = Drawing.ClusterColor(c + 1), IsAntialias = true })
                    canvas.DrawCircle(left + 6, top + 8, 6, swatch);
                Drawing.Text(canvas, Drawing.Fit($"cluster {c + 1} ({sizes[c]:N0})", 13, LegendColumnWidth - 22), left + 18, top + 13, 13, Drawing.Ink);
            }
        }
        return bitmap;
    }

    /// <summary>Each cluster's mean embedding (a saved model does not expose its centroids); null for an empty cluster.</summary>
    private static float[]?[] ClusterMeans(IReadOnlyList<float[]> embeddings, IReadOnlyList<int> clusterIds, int k)
    {
        int d = embeddings[0].Length;
        var sums = new double[k, d];
        var counts = new int[k];
        for (int i = 0; i < embeddings.Count; i++)
        {
            int c = clusterIds[i] - 1;
            counts[c]++;
            for (int j = 0; j < d; j++)
                sums[c, j] += embeddings[i][j];
        }
        return Enumerable.Range(0, k)
            .Select(c => counts[c] == 0 ? null : Enumerable.Range(0, d).Select(j => (float)(sums[c, j] / counts[c])).ToArray())
            .ToArray();
    }
}
