using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Samples.Report.Pictures;

/// <summary>The images of one cluster picked for the montage, and what to write beside them.</summary>
/// <param name="ClusterId">1-based cluster id.</param>
/// <param name="Size">Rows in the cluster.</param>
/// <param name="Images">A few of its members as pictures (their pixels, or thumbnails of their files); the caller disposes them.</param>
/// <param name="Caption">A line about its content when labels are known (e.g. "mostly 7 (94%)"), else null.</param>
internal sealed record ClusterSamples(int ClusterId, int Size, IReadOnlyList<SKBitmap> Images, string? Caption);

/// <summary>
/// clusters.png: one row per cluster — its id, size and colour at the left, then samples of its members. The
/// quickest way to see what the model grouped together, labels or not.
/// </summary>
internal static class ClusterMontage
{
    public const int SamplesPerCluster = 12;

    private const int Margin = 16;
    private const int LeftColumn = 180;
    private const int Gap = 6;
    private const int HeaderHeight = 58;
    private const string Title = "Samples of each cluster";
    private static readonly string Subtitle = $"Up to {SamplesPerCluster} members of each cluster, drawn at random; one row per cluster.";

    /// <param name="cell">The side of each picture's square: <see cref="Drawing.DisplaySize"/> for pixels, <see cref="Thumbnail.Side"/> for photos.</param>
    public static SKBitmap Draw(IReadOnlyList<ClusterSamples> clusters, int cell)
    {
        int rowHeight = Math.Max(cell, 58) + 2 * Gap;
        int width = Margin * 2 + LeftColumn + SamplesPerCluster * (cell + Gap);
        width = Math.Max(width, Drawing.HeaderWidth(Title, Subtitle, Margin));
        int height = HeaderHeight + clusters.Count * rowHeight + Margin;
        var (bitmap, canvas) = Drawing.NewCanvas(width, height);
        using (canvas)
        {
            Drawing.Text(canvas, Title, Margin, 28, 20, Drawing.Ink, bold: true);
            Drawing.Text(canvas, Subtitle, Margin, 48, 13, Drawing.Muted);

            for (int r = 0; r < clusters.Count; r++)
            {
                var cluster = clusters[r];
                float top = HeaderHeight + r * rowHeight;
                if (r % 2 == 0)
                {
                    using var stripe = new SKPaint { Color = Drawing.Stripe };
                    canvas.DrawRect(Margin - 6, top, width - 2 * Margin + 12, rowHeight, stripe);
                }
                // The cluster's colour, as in the embedding map and the centroid picture.
                using (var swatch = new SKPaint { Color = Drawing.ClusterColor(cluster.ClusterId), IsAntialias = true })
                    canvas.DrawRoundRect(Margin, top + Gap, 8, rowHeight - 2 * Gap, 3, 3, swatch);

                float textX = Margin + 16;
                float textWidth = LeftColumn - 24;
                float middle = top + rowHeight / 2f;
                Drawing.Text(canvas, $"Cluster {cluster.ClusterId}", textX, middle - 8, 16, Drawing.Ink, bold: true);
                Drawing.Text(canvas, Drawing.Fit($"{cluster.Size:N0} image{(cluster.Size == 1 ? "" : "s")}", 13, textWidth), textX, middle + 10, 13, Drawing.Muted);
                if (cluster.Caption is not null)
                    Drawing.Text(canvas, Drawing.Fit(cluster.Caption, 13, textWidth), textX, middle + 27, 13, Drawing.Muted);

                float imageTop = top + (rowHeight - cell) / 2f;
                for (int i = 0; i < cluster.Images.Count && i < SamplesPerCluster; i++)
                {
                    float left = Margin + LeftColumn + i * (cell + Gap);
                    Drawing.DrawFitted(canvas, cluster.Images[i], new SKRect(left, imageTop, left + cell, imageTop + cell));
                }
                if (cluster.Images.Count == 0)
                    Drawing.Text(canvas, "(empty cluster)", Margin + LeftColumn, middle + 5, 13, Drawing.Muted);
            }
        }
        return bitmap;
    }
}
