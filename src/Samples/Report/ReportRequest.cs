using System.Diagnostics;
using Microsoft.ML.DeepClustering.Samples.Input;

namespace Microsoft.ML.DeepClustering.Samples.Report;

/// <summary>How the run went, for metrics.json and the report's header.</summary>
public sealed class RunInfo
{
    /// <summary>"train", or "score" for --score.</summary>
    public required string Mode { get; init; }

    /// <summary>The preset name (training only).</summary>
    public string? Preset { get; init; }

    public int Seed { get; init; }

    /// <summary>The options trained with (training only).</summary>
    public DeepClusterOptions? Options { get; init; }

    /// <summary>The model file --score assigned with.</summary>
    public string? ScoredWith { get; init; }

    /// <summary>Null when the run completed; else where Ctrl+C stopped it, e.g. "pretraining, epoch 12 of 200".</summary>
    public string? CancelledDuring { get; init; }

    public bool Cancelled => CancelledDuring is not null;

    /// <summary>Wall time of each stage so far, in order (reading the input, training, ...).</summary>
    public IReadOnlyList<(string Stage, TimeSpan Time)> Timings { get; init; } = Array.Empty<(string, TimeSpan)>();

    /// <summary>How the photos' features were had: reused from the feature cache or computed; null when no network ran in training.</summary>
    public FeatureCacheSummary? FeatureCache { get; init; }

    /// <summary>Running since the app started: the report adds its own time and the total.</summary>
    public Stopwatch? Clock { get; init; }
}

/// <summary>The feature cache's part in a run: its folder (null with --no-cache), and how many images' features it gave and how many were computed.</summary>
public sealed record FeatureCacheSummary(string? Folder, int Reused, int Computed);

/// <summary>Everything <see cref="ReportWriter.Write"/> turns into files. Only the output folder, context, input and run are required.</summary>
public sealed class ReportRequest
{
    public required string OutputDirectory { get; init; }
    public required MLContext MLContext { get; init; }
    public required SampleInput Input { get; init; }
    public required RunInfo Run { get; init; }

    /// <summary>The model's output on the input (columns PredictedClusterId, SoftAssignment, Embedding, Score, Features, Label?); null when no model was made.</summary>
    public IDataView? Scored { get; init; }

    /// <summary>
    /// <see cref="Scored"/> already read (--score reads it under a progress display when the model runs a network);
    /// null: the writer reads it.
    /// </summary>
    public ScoredRows? Rows { get; init; }

    /// <summary>The trained model: centroids, decoder, ONNX export. Null in --score mode (a loaded .zip is a plain ML.NET chain) and after a cancellation.</summary>
    public DeepClusterTransformer? Model { get; init; }

    /// <summary>What model.zip holds: the whole chain, image transforms included, so that it reads what the input has.</summary>
    public ITransformer? ModelToSave { get; init; }

    /// <summary>The schema <see cref="ModelToSave"/> reads (the input's).</summary>
    public DataViewSchema? ModelInputSchema { get; init; }

    /// <summary>--model: save the model here too.</summary>
    public string? ExtraModelPath { get; init; }

    /// <summary>Loss and label-change curves; null in --score mode.</summary>
    public TrainingCurves? Curves { get; init; }
}

/// <summary>One file of the report.</summary>
public sealed record ReportFile(string Name, string Title, string Caption, bool IsPicture);

/// <summary>What the report found, for the console summary and for tests.</summary>
public sealed class ReportResult
{
    public required string Directory { get; init; }
    public required string HtmlPath { get; init; }
    public required IReadOnlyList<ReportFile> Files { get; init; }
    public ClusteringQualityMetrics? Quality { get; init; }
    public double? DaviesBouldinIndex { get; init; }
    public int[]? ClusterSizes { get; init; }
    public int Rows { get; init; }
}
