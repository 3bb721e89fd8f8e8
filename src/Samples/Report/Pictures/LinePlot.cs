using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Samples.Report.Pictures;

/// <summary>The line plots of the report's pictures: a panel's plot area, axes with ticks, a series of points.</summary>
internal static class LinePlot
{
    private const int AxisLeft = 64;
    private const int AxisBottom = 46;
    private const int PanelTitle = 26;

    public static SKRect PlotArea(SKRect panel) =>
        new(panel.Left + AxisLeft, panel.Top + PanelTitle + 10, panel.Right - 12, panel.Bottom - AxisBottom);

    public static void Empty(SKCanvas canvas, SKRect plot, params string[] lines)
    {
        using (var frame = new SKPaint { Color = Drawing.Grid, Style = SKPaintStyle.Stroke })
            canvas.DrawRect(plot, frame);
        for (int i = 0; i < lines.Length; i++)
            Drawing.Text(canvas, lines[i], plot.MidX, plot.MidY + i * 18, 13, Drawing.Muted, align: SKTextAlign.Center);
    }

    public static void DrawAxes(SKCanvas canvas, SKRect plot, Axis x, Axis y, string xTitle, Func<double, string> yLabel, bool integerX)
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

    public static void DrawSeries(SKCanvas canvas, SKRect plot, Axis x, Axis y, IReadOnlyList<(double X, double Y)> points, SKColor color)
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

    public readonly record struct Axis(double Min, double Max, bool Log)
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
