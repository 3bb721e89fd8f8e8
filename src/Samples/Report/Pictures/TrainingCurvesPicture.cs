using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Samples.Report.Pictures;

/// <summary>
/// training-curves.png, two panels: the autoencoder's reconstruction MSE per pretraining epoch (it should fall and
/// flatten), and the share of rows that changed cluster at each self-training target update, on a log scale with
/// the stopping tolerance (self-training stops once it drops below).
/// </summary>
internal static class TrainingCurvesPicture
{
    private const int Margin = 16;
    private const int HeaderHeight = 58;
    private const int PanelWidth = 500;
    private const int PanelHeight = 340;
    private const int AxisLeft = 64;
    private const int AxisBottom = 46;
    private const int PanelTitle = 26;

    public static SKBitmap Draw(TrainingCurves curves, bool cancelled)
    {
        int width = Margin * 2 + 2 * PanelWidth + 24;
        int height = HeaderHeight + PanelHeight + Margin;
        var (bitmap, canvas) = Drawing.NewCanvas(width, height);
        using (canvas)
        {
            Drawing.Text(canvas, cancelled ? "Training curves (stopped early)" : "Training curves", Margin, 28, 20, Drawing.Ink, bold: true);
            Drawing.Text(canvas, "Left: autoencoder pretraining. Right: DEC self-training, one point per target-distribution update.",
                Margin, 48, 13, Drawing.Muted);

            var left = new SKRect(Margin, HeaderHeight, Margin + PanelWidth, HeaderHeight + PanelHeight);
            var right = new SKRect(left.Right + 24, HeaderHeight, left.Right + 24 + PanelWidth, HeaderHeight + PanelHeight);
            DrawPretraining(canvas, left, curves);
            DrawSelfTraining(canvas, right, curves, cancelled);
        }
        return bitmap;
    }

    private static void DrawPretraining(SKCanvas canvas, SKRect panel, TrainingCurves curves)
    {
        Drawing.Text(canvas, $"Reconstruction MSE per epoch ({curves.PretrainLosses.Count} of {curves.PlannedEpochs})",
            panel.Left, panel.Top + 16, 14, Drawing.Ink, bold: true);
        var plot = PlotArea(panel);
        var losses = curves.PretrainLosses.Select((loss, i) => (X: (double)(i + 1), Y: loss)).Where(p => double.IsFinite(p.Y)).ToArray();
        if (losses.Length == 0)
        {
            Empty(canvas, plot, curves.PlannedEpochs == 0 ? "No pretraining (0 epochs)." : "No epoch finished.");
            return;
        }
        double minY = losses.Min(p => p.Y), maxY = losses.Max(p => p.Y);
        double pad = Math.Max((maxY - minY) * 0.08, Math.Abs(maxY) * 0.02 + 1e-12);
        var xAxis = new Axis(1, Math.Max(2, losses.Length), Log: false);
        var yAxis = new Axis(Math.Max(0, minY - pad), maxY + pad, Log: false);
        DrawAxes(canvas, plot, xAxis, yAxis, "epoch", v => Drawing.Format(v, v >= 1 ? "0.###" : "0.####"), integerX: true);
        DrawSeries(canvas, plot, xAxis, yAxis, losses, new SKColor(0x1f, 0x77, 0xb4));
    }

    private static void DrawSelfTraining(SKCanvas canvas, SKRect panel, TrainingCurves curves, bool cancelled)
    {
        Drawing.Text(canvas, "Rows changing cluster per update", panel.Left, panel.Top + 16, 14, Drawing.Ink, bold: true);
        var plot = PlotArea(panel);
        if (curves.MaxIterations == 0)
        {
            Empty(canvas, plot, "Self-training skipped (max iterations 0):", "the model is autoencoder + k-means.");
            return;
        }
        var updates = curves.SelfTrainingUpdates
            .Select(u => (X: (double)u.Step, Y: u.LabelChangeFraction))
            .Where(p => double.IsFinite(p.Y))
            .ToArray();
        if (updates.Length == 0)
        {
            Empty(canvas, plot, cancelled ? "Stopped before self-training." : "No self-training update.");
            return;
        }
        // Log scale: the fraction falls from 100% towards the tolerance (0.1% by default) over orders of magnitude.
        double floor = Math.Max(1e-5, Math.Min(curves.Tolerance, updates.Where(p => p.Y > 0).Select(p => p.Y).DefaultIfEmpty(1).Min()) / 2);
        var points = updates.Select(p => (p.X, Y: Math.Max(p.Y, floor))).ToArray();
        var xAxis = new Axis(0, Math.Max(1, points.Max(p => p.X)), Log: false);
        var yAxis = new Axis(floor, 1, Log: true);
        DrawAxes(canvas, plot, xAxis, yAxis, "self-training step", v => Drawing.Format(v * 100, v >= 0.01 ? "0" : "0.###") + "%", integerX: true);

        if (curves.Tolerance > 0)
        {
            float y = yAxis.Map(curves.Tolerance, plot.Bottom, plot.Top);
            using var dashed = new SKPaint
            {
                Color = new SKColor(0xd6, 0x27, 0x28), StrokeWidth = 1.5f, IsAntialias = true,
                PathEffect = SKPathEffect.CreateDash(new[] { 6f, 4f }, 0),
            };
            canvas.DrawLine(plot.Left, y, plot.Right, y, dashed);
            Drawing.Text(canvas, $"tolerance {Drawing.Format(curves.Tolerance * 100, "0.###")}%", plot.Left + 6, y - 5, 12,
                new SKColor(0xd6, 0x27, 0x28));
        }
        DrawSeries(canvas, plot, xAxis, yAxis, points, new SKColor(0xff, 0x7f, 0x0e));
    }

    private static SKRect PlotArea(SKRect panel) =>
        new(panel.Left + AxisLeft, panel.Top + PanelTitle + 10, panel.Right - 12, panel.Bottom - AxisBottom);

    private static void Empty(SKCanvas canvas, SKRect plot, params string[] lines)
    {
        using (var frame = new SKPaint { Color = Drawing.Grid, Style = SKPaintStyle.Stroke })
            canvas.DrawRect(plot, frame);
        for (int i = 0; i < lines.Length; i++)
            Drawing.Text(canvas, lines[i], plot.MidX, plot.MidY + i * 18, 13, Drawing.Muted, align: SKTextAlign.Center);
    }

    private static void DrawAxes(SKCanvas canvas, SKRect plot, Axis x, Axis y, string xTitle, Func<double, string> yLabel, bool integerX)
    {
        using var grid = new SKPaint { Color = Drawing.Grid, StrokeWidth = 1 };
        foreach (double tick in y.Ticks())
        {
            float py = y.Map(tick, plot.Bottom, plot.Top);
            canvas.DrawLine(plot.Left, py, plot.Right, py, grid);
            Drawing.Text(canvas, yLabel(tick), plot.Left - 6, py + 4, 12, Drawing.Muted, align: SKTextAlign.Right);
        }
        foreach (double tick in x.Ticks().Where(t => !integerX || t == Math.Floor(t)))
        {
            float px = x.Map(tick, plot.Left, plot.Right);
            canvas.DrawLine(px, plot.Bottom, px, plot.Bottom + 4, grid);
            Drawing.Text(canvas, Drawing.Format(tick, "0.##"), px, plot.Bottom + 18, 12, Drawing.Muted, align: SKTextAlign.Center);
        }
        using (var frame = new SKPaint { Color = new SKColor(0x99, 0x99, 0x99), Style = SKPaintStyle.Stroke, StrokeWidth = 1 })
            canvas.DrawRect(plot, frame);
        Drawing.Text(canvas, xTitle, plot.MidX, plot.Bottom + 38, 13, Drawing.Muted, align: SKTextAlign.Center);
    }

    private static void DrawSeries(SKCanvas canvas, SKRect plot, Axis x, Axis y, IReadOnlyList<(double X, double Y)> points, SKColor color)
    {
        using var line = new SKPaint { Color = color, StrokeWidth = 2, IsAntialias = true, Style = SKPaintStyle.Stroke };
        using var dot = new SKPaint { Color = color, IsAntialias = true };
        using var path = new SKPath();
        for (int i = 0; i < points.Count; i++)
        {
            float px = x.Map(points[i].X, plot.Left, plot.Right), py = y.Map(points[i].Y, plot.Bottom, plot.Top);
            if (i == 0)
                path.MoveTo(px, py);
            else
                path.LineTo(px, py);
        }
        canvas.DrawPath(path, line);
        // Dots only while they stay apart; 200 epochs would be a smear.
        if (points.Count <= 60)
            foreach (var p in points)
                canvas.DrawCircle(x.Map(p.X, plot.Left, plot.Right), y.Map(p.Y, plot.Bottom, plot.Top), 3, dot);
    }

    private readonly record struct Axis(double Min, double Max, bool Log)
    {
        public float Map(double value, float from, float to)
        {
            double t = Log
                ? (Math.Log10(value) - Math.Log10(Min)) / (Math.Log10(Max) - Math.Log10(Min))
                : (value - Min) / (Max - Min);
            return (float)(from + Math.Clamp(t, 0, 1) * (to - from));
        }

        public IEnumerable<double> Ticks()
        {
            if (!Log)
                return Drawing.NiceTicks(Min, Max);
            var ticks = new List<double>();
            for (int e = (int)Math.Ceiling(Math.Log10(Min) - 1e-9); e <= 0; e++)
                ticks.Add(Math.Pow(10, e));
            return ticks;
        }
    }
}
