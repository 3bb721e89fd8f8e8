using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.ML.DeepClustering.Samples.Report.Pictures;

namespace Microsoft.ML.DeepClustering.Samples.Report;

/// <summary>
/// report.html: one self-contained page (inline CSS, no script, pictures referenced relatively), so that it opens
/// from disk in any browser, and the folder can be zipped or copied as it is.
/// </summary>
internal static class HtmlReport
{
    private const string Style = """
        body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #222; background: #fafafa; margin: 0; }
        main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
        h1 { font-size: 1.7em; margin: 0 0 4px; }
        h2 { font-size: 1.25em; margin: 34px 0 10px; border-bottom: 1px solid #e4e4e4; padding-bottom: 4px; }
        .lead { font-size: 1.05em; margin: 4px 0; }
        .meta { color: #666; margin: 4px 0 16px; }
        .banner { background: #fff4e5; border: 1px solid #f0b46c; border-radius: 6px; padding: 10px 14px; margin: 14px 0; }
        .note { background: #eef5fc; border: 1px solid #9cc3e8; border-radius: 6px; padding: 8px 14px; margin: 10px 0; }
        table { border-collapse: collapse; margin: 6px 0 12px; }
        th, td { text-align: left; padding: 5px 12px 5px 0; border-bottom: 1px solid #eee; vertical-align: top; }
        th { color: #555; font-weight: 600; white-space: nowrap; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; padding-right: 18px; }
        td.explain { color: #666; font-size: 0.92em; }
        .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 6px; vertical-align: -1px; margin-right: 6px; }
        figure { margin: 14px 0 26px; }
        figure img { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
        figcaption { color: #555; font-size: 0.95em; margin-top: 6px; max-width: 900px; }
        code { background: #f3f3f3; padding: 1px 4px; border-radius: 3px; }
        """;

    public static string Build(ReportContent content)
    {
        var request = content.Request;
        var run = request.Run;
        var input = request.Input;
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>Deep clustering report</title>\n<style>\n").Append(Style).Append("</style>\n</head>\n<body>\n<main>\n");

        html.Append("<h1>Deep clustering report</h1>\n");
        html.Append("<p class=\"lead\">").Append(E(input.Description)).Append("</p>\n");
        string how = run.Mode == "score"
            ? $"Assigned with the saved model {run.ScoredWith} (no training)"
            : $"Trained with the “{run.Preset}” preset, seed {run.Seed}";
        html.Append("<p class=\"meta\">").Append(E(how)).Append(" · ").Append(E(DateTime.Now.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture))).Append("</p>\n");

        if (run.CancelledDuring is not null)
        {
            html.Append("<div class=\"banner\"><strong>Stopped with Ctrl+C</strong> during ").Append(E(run.CancelledDuring))
                .Append(". This page shows what was done until then")
                .Append(request.ModelToSave is null ? "; no model was kept.</div>\n" : "; the trained model was saved.</div>\n");
        }
        foreach (var note in input.Notes)
            html.Append("<div class=\"note\">").Append(E(note)).Append("</div>\n");

        AppendMetrics(html, content);

        var pictures = content.Files.Where(f => f.IsPicture).ToList();
        if (pictures.Count > 0)
        {
            html.Append("<h2>Pictures</h2>\n");
            foreach (var picture in pictures)
            {
                html.Append("<figure>\n<img src=\"").Append(E(picture.Name)).Append("\" alt=\"").Append(E(picture.Title)).Append("\">\n")
                    .Append("<figcaption><strong>").Append(E(picture.Title)).Append(".</strong> ").Append(E(picture.Caption)).Append("</figcaption>\n</figure>\n");
            }
        }

        AppendClusters(html, content);
        AppendTraining(html, content);

        html.Append("<h2>Files</h2>\n<table>\n");
        foreach (var file in content.Files.Where(f => !f.IsPicture).Append(new ReportFile(ReportWriter.MetricsFile, "Metrics", "Every number of this page, machine-readable.", false)).DistinctBy(f => f.Name))
        {
            html.Append("<tr><td><a href=\"").Append(E(file.Name)).Append("\"><code>").Append(E(file.Name)).Append("</code></a></td><td class=\"explain\">")
                .Append(E(file.Caption)).Append("</td></tr>\n");
        }
        html.Append("</table>\n");

        html.Append("</main>\n</body>\n</html>\n");
        return html.ToString();
    }

    private static void AppendMetrics(StringBuilder html, ReportContent content)
    {
        if (content.Rows is null)
            return;
        html.Append("<h2>Metrics</h2>\n<table>\n");
        void Row(string name, string value, string explain) =>
            html.Append("<tr><th>").Append(E(name)).Append("</th><td class=\"num\">").Append(E(value)).Append("</td><td class=\"explain\">").Append(E(explain)).Append("</td></tr>\n");

        if (content.Quality is { } q)
        {
            Row("ACC", F(q.Accuracy), "Accuracy under the best one-to-one matching of clusters to classes (Hungarian algorithm). 1 is perfect.");
            Row("NMI", F(q.NormalizedMutualInformation), "Normalized mutual information between clusters and classes (arithmetic mean, as scikit-learn). 1 is perfect.");
            Row("ARI", F(q.AdjustedRandIndex), "Adjusted Rand index: agreement on pairs of images, corrected for chance. 0 is random, 1 is perfect.");
            Row("Purity", F(q.Purity), "Share of images in the majority class of their cluster (rewards many small clusters).");
        }
        if (content.MlNet is { } m)
        {
            Row("Davies–Bouldin index", F(m.DaviesBouldinIndex), "ML.NET's clustering evaluator, in the embedding: cluster spread over separation. Lower is better.");
            if (content.Quality is not null)
                Row("NMI (ML.NET)", F(m.NormalizedMutualInformation), "ML.NET's own normalized mutual information, for comparison.");
            Row("Average distance", F(m.AverageDistance), "Mean squared distance from each image's embedding to its centroid (ML.NET).");
        }
        Row("Clusters", content.Rows.NumberOfClusters.ToString(CultureInfo.InvariantCulture), "K");
        Row("Images", content.Rows.Count.ToString("N0", CultureInfo.InvariantCulture), "Rows assigned");
        if (content.Quality is { } quality)
            Row("Classes", quality.NumberOfClasses.ToString(CultureInfo.InvariantCulture), "Distinct true labels");
        else
            Row("Labels", "none", "The input has no labels, so ACC, NMI, ARI and purity cannot be computed (give one subfolder per class, or an IDX label file).");
        html.Append("</table>\n");
    }

    private static void AppendClusters(StringBuilder html, ReportContent content)
    {
        if (content.Rows is not { } rows)
            return;
        var sizes = rows.ClusterSizes();
        html.Append("<h2>Clusters</h2>\n<table>\n<tr><th>Cluster</th><th>Images</th><th>Share</th>");
        bool labelled = content.Quality is not null;
        if (labelled)
            html.Append("<th>Content</th><th>Matched class (ACC)</th>");
        html.Append("</tr>\n");
        for (int id = 1; id <= rows.NumberOfClusters; id++)
        {
            var color = Drawing.ClusterColor(id);
            html.Append("<tr><td><span class=\"swatch\" style=\"background:#").Append($"{color.Red:x2}{color.Green:x2}{color.Blue:x2}").Append("\"></span>")
                .Append(id).Append("</td><td class=\"num\">").Append(sizes[id - 1].ToString("N0", CultureInfo.InvariantCulture))
                .Append("</td><td class=\"num\">").Append(E(Drawing.Percent((double)sizes[id - 1] / rows.Count, 1))).Append("</td>");
            if (labelled)
            {
                string majority = ReportWriter.MajorityCaption(content.Quality, content.Request.Input.Labels, id) ?? "–";
                string matched = content.Quality!.Mapping.TryGetValue(id, out int label) ? content.Request.Input.Labels!.NameOf(label) : "–";
                html.Append("<td>").Append(E(majority)).Append("</td><td>").Append(E(matched)).Append("</td>");
            }
            html.Append("</tr>\n");
        }
        html.Append("</table>\n");
    }

    private static void AppendTraining(StringBuilder html, ReportContent content)
    {
        var request = content.Request;
        html.Append("<h2>Run</h2>\n<table>\n");
        void Row(string name, string value) =>
            html.Append("<tr><th>").Append(E(name)).Append("</th><td>").Append(E(value)).Append("</td></tr>\n");

        if (request.Run.Options is { } o)
        {
            Row("Preset", request.Run.Preset ?? "");
            Row("Network", $"{NetworkDescription.Layers(o, request.Input.Shape.Size)} ({NetworkDescription.Kind(o)})");
            Row("Pretraining", $"{o.PretrainEpochs} epochs, batch {o.BatchSize}, Adam lr {o.PretrainLearningRate.ToString(CultureInfo.InvariantCulture)}");
            // k-means' partition is its nearest centroid's, so aiming at it changes nothing there.
            string partitionTarget = o.SeedingPartitionSteps <= 0 || o.Seeding == SeedingMethod.KMeans || o.MaxIterations == 0 ? ""
                : o.SeedingPartitionSteps >= o.MaxIterations ? "; its partition is self-training's target throughout"
                : $"; its partition is self-training's target for the first {o.SeedingPartitionSteps:N0} steps";
            Row("Seeding", o.Seeding switch
            {
                SeedingMethod.Umap => $"k-means++ ({o.KMeansInitializations} restarts) on a {o.UmapDimensions}-d UMAP layout of the embedding's {o.UmapNeighbors}-neighbour graph",
                SeedingMethod.Spectral => $"spectral clustering of the embedding's {o.SpectralNeighbors}-neighbour graph, k-means++ ({o.KMeansInitializations} restarts) on its {(o.SpectralEigenvectors > 0 ? $"{o.SpectralEigenvectors}" : "K + ⌊K/5⌋")} leading eigenvectors",
                _ => $"{o.KMeansInitializations} restarts of k-means++",
            } + partitionTarget);
            Row("Self-training", o.MaxIterations == 0
                ? "skipped (max iterations 0): autoencoder + seeding"
                : $"at most {o.MaxIterations:N0} steps, target update every {o.UpdateInterval}, tolerance {Drawing.Percent(o.Tolerance, 2)}");
        }
        if (request.Model?.History is { } h)
        {
            Row("Stopped", h.StopReason switch
            {
                SelfTrainingStopReason.Converged => $"converged after {h.SelfTrainingSteps:N0} self-training steps",
                SelfTrainingStopReason.MaxIterations => $"reached the cap of {h.SelfTrainingSteps:N0} self-training steps",
                SelfTrainingStopReason.Skipped => "no self-training",
                // Reasons the library may add later (e.g. a collapsed cluster) are shown by name.
                var other => $"{other} after {h.SelfTrainingSteps:N0} self-training steps",
            });
            if (ClusteringRun.DescribeVerdict(h) is string verdict)
                Row("Safeguard", verdict);
            Row("Device", $"{h.Device}, {h.NumberOfThreads} thread(s)");
        }
        if (request.Run.ScoredWith is not null)
            Row("Model", request.Run.ScoredWith);
        Row("Seed", request.Run.Seed.ToString(CultureInfo.InvariantCulture));
        foreach (var (stage, time) in content.Timings)
            Row($"Time: {stage}", FormatTime(time));
        html.Append("</table>\n");
        if (request.Run.Options is { } options)
        {
            html.Append("<details><summary>All training options</summary>\n<table>\n");
            foreach (var (name, value) in MetricsJson.OptionValues(options))
            {
                string text = value switch
                {
                    null => "(default)",
                    int[] array => string.Join(", ", array),
                    IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                    _ => value.ToString() ?? "",
                };
                Row(name, text);
            }
            html.Append("</table>\n</details>\n");
        }
    }

    internal static string FormatTime(TimeSpan time) => time.TotalSeconds < 60
        ? time.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s"
        : $"{(int)time.TotalMinutes} min {time.Seconds:00} s";

    private static string F(double value) => !double.IsFinite(value) ? "n/a"
        : Math.Abs(value) >= 0.01 || value == 0 ? value.ToString("0.0000", CultureInfo.InvariantCulture)
        : value.ToString("0.###E+0", CultureInfo.InvariantCulture);

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
