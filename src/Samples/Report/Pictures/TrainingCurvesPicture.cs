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
        var plot = LinePlot.PlotArea(panel);
        var losses = curves.PretrainLosses.Select((loss, i) => (X: (double)(i + 1), Y: loss)).Where(p => double.IsFinite(p.Y)).ToArray();
        if (losses.Length == 0)
        {
            LinePlot.Empty(canvas, plot, curves.PlannedEpochs == 0 ? "No pretraining (0 epochs)." : "No epoch finished.");
            return;
        }
        double minY = losses.Min(p => p.Y), maxY = losses.Max(p => p.Y);
        double pad = Math.Max((maxY - minY) * 0.08, Math.Abs(maxY) * 0.02 + 1e-12);
        var xAxis = new LinePlot.Axis(1, Math.Max(2, losses.Length), Log: false);
        var yAxis = new LinePlot.Axis(Math.Max(0, minY - pad), maxY + pad, Log: false);
        LinePlot.DrawAxes(canvas, plot, xAxis, yAxis, "epoch", v => Drawing.Format(v, v >= 1 ? "0.###" : "0.####"), integerX: true);
        LinePlot.DrawSeries(canvas, plot, xAxis, yAxis, losses, new SKColor(0x1f, 0x77, 0xb4));
    }

    private static void DrawSelfTraining(SKCanvas canvas, SKRect panel, TrainingCurves curves, bool cancelled)
    {
        Drawing.Text(canvas, "Rows changing cluster per update", panel.Left, panel.Top + 16, 14, Drawing.Ink, bold: true);
        var plot = LinePlot.PlotArea(panel);
        if (curves.MaxIterations == 0)
        {
            LinePlot.Empty(canvas, plot, "Self-training skipped (max iterations 0):", "the model is autoencoder + k-means.");
            return;
        }
        var updates = curves.SelfTrainingUpdates
            .Select(u => (X: (double)u.Step, Y: u.LabelChangeFraction))
            .Where(p => double.IsFinite(p.Y))
            .ToArray();
        if (updates.Length == 0)
        {
            LinePlot.Empty(canvas, plot, cancelled ? "Stopped before self-training." : "No self-training update.");
            return;
        }
        // Log scale: the fraction falls from 100% towards the tolerance (0.1% by default) over orders of magnitude.
        double floor = Math.Max(1e-5, Math.Min(curves.Tolerance, updates.Where(p => p.Y > 0).Select(p => p.Y).DefaultIfEmpty(1).Min()) / 2);
        var points = updates.Select(p => (p.X, Y: Math.Max(p.Y, floor))).ToArray();
        var xAxis = new LinePlot.Axis(0, Math.Max(1, points.Max(p => p.X)), Log: false);
        var yAxis = new LinePlot.Axis(floor, 1, Log: true);
        LinePlot.DrawAxes(canvas, plot, xAxis, yAxis, "self-training step", v => Drawing.Format(v * 100, v >= 0.01 ? "0" : "0.###") + "%", integerX: true);

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
        LinePlot.DrawSeries(canvas, plot, xAxis, yAxis, points, new SKColor(0xff, 0x7f, 0x0e));
    }
}
