using Microsoft.ML.DeepClustering.Samples.Progress;

namespace Microsoft.ML.DeepClustering.Samples.Report;

/// <summary>
/// What the curves picture and metrics.json show of training: from the model's History when Fit finished, from
/// the progress reports recorded so far when it was cancelled.
/// </summary>
public sealed record TrainingCurves(
    IReadOnlyList<double> PretrainLosses,
    IReadOnlyList<double> KMeansInertias,
    IReadOnlyList<SelfTrainingUpdate> SelfTrainingUpdates,
    int PlannedEpochs,
    int MaxIterations,
    double Tolerance)
{
    public static TrainingCurves From(DeepClusterTrainingHistory history, DeepClusterOptions options) =>
        new(history.PretrainLosses, history.KMeansInertias, history.SelfTrainingUpdates, options.PretrainEpochs, options.MaxIterations, options.Tolerance);

    public static TrainingCurves From(TrainingRecorder recorder, DeepClusterOptions options) =>
        new(recorder.PretrainLosses.ToArray(), recorder.KMeansInertias.ToArray(), recorder.SelfTrainingUpdates.ToArray(),
            options.PretrainEpochs, options.MaxIterations, options.Tolerance);

    public bool IsEmpty => PretrainLosses.Count == 0 && KMeansInertias.Count == 0 && SelfTrainingUpdates.Count == 0;
}
