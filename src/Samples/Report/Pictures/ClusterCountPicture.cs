using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Samples.Report.Pictures;

/// <summary>
/// choose-k.png, when the run chose K: each candidate's criterion on the pretrained embedding, with the pick marked.
/// The title says what the pick is: a suggestion from the data, to be checked against the montage.
/// </summary>
internal static class ClusterCountPicture
{
    private const int Margin = 16;
    private const int HeaderHeight = 58;
    private const int PanelWidth = 640;
    private const int PanelHeight = 340;

    public static SKBitmap Draw(IReadOnlyList<ClusterCountCandidate> candidates, ClusterCountCriterion criterion)
    {
        var chosen = candidates.Single(c => c.Chosen);
        string better = criterion == ClusterCountCriterion.DaviesBouldin ? "lowest" : "highest";
        string title = $"Choosing K: {Name(criterion)} suggests K = {chosen.NumberOfClusters}";
        string subtitle = $"Each candidate seeded on the pretrained embedding; the {better} score wins. A suggestion, not a fact about the data.";
        var (bitmap, canvas) = Drawing.NewCanvas(Math.Max(Margin * 2 + PanelWidth, Drawing.HeaderWidth(title, subtitle, Margin)), HeaderHeight + PanelHeight + Margin);
        using (canvas)
        {
            Drawing.Text(canvas, title, Margin, 28, 20, Drawing.Ink, bold: true);
            Drawing.Text(canvas, subtitle, Margin, 48, 13, Drawing.Muted);
            var panel = new SKRect(Margin, HeaderHeight, Margin + PanelWidth, HeaderHeight + PanelHeight);
            Drawing.Text(canvas, Name(criterion) + $" ({better} is best)", panel.Left, panel.Top + 16, 14, Drawing.Ink, bold: true);
            var plot = LinePlot.PlotArea(panel);
            var points = candidates.Select(c => (X: (double)c.NumberOfClusters, Y: c.Score)).Where(p => double.IsFinite(p.Y)).ToArray();
            if (points.Length == 0)
            {
                LinePlot.Empty(canvas, plot, "No finite score.");
                return bitmap;
            }
            double minY = points.Min(p => p.Y), maxY = points.Max(p => p.Y);
            double pad = Math.Max((maxY - minY) * 0.08, Math.Abs(maxY) * 0.02 + 1e-12);
            var xAxis = new LinePlot.Axis(points.Min(p => p.X) - 0.5, points.Max(p => p.X) + 0.5, Log: false);
            var yAxis = new LinePlot.Axis(minY - pad, maxY + pad, Log: false);
            LinePlot.DrawAxes(canvas, plot, xAxis, yAxis, "K (number of clusters)", v => Drawing.Format(v, "0.###"), integerX: true);
            LinePlot.DrawSeries(canvas, plot, xAxis, yAxis, points, new SKColor(0x1f, 0x77, 0xb4));
            float px = xAxis.Map(chosen.NumberOfClusters, plot.Left, plot.Right), py = yAxis.Map(chosen.Score, plot.Bottom, plot.Top);
            using var mark = new SKPaint { Color = new SKColor(0xd6, 0x27, 0x28), Style = SKPaintStyle.Stroke, StrokeWidth = 2.5f, IsAntialias = true };
            canvas.DrawCircle(px, py, 8, mark);
            Drawing.Text(canvas, $"K = {chosen.NumberOfClusters}", px, py - 14, 13, new SKColor(0xd6, 0x27, 0x28), bold: true, align: SKTextAlign.Center);
        }
        return bitmap;
    }

    public static string Name(ClusterCountCriterion criterion) => criterion switch
    {
        ClusterCountCriterion.DaviesBouldin => "Davies–Bouldin index",
        ClusterCountCriterion.Silhouette => "mean silhouette",
        ClusterCountCriterion.CalinskiHarabasz => "Calinski–Harabasz index",
        ClusterCountCriterion.Modularity => "modularity of the neighbour graph, as a share of 1 − 1/K",
        _ => criterion.ToString(),
    };
}
