namespace Microsoft.ML.DeepClustering.Samples.Progress;

/// <summary>
/// Keeps every training report, then passes it on to the display. When Fit is cancelled no model (and so no
/// <see cref="DeepClusterTrainingHistory"/>) comes back: these records are what the report can still draw.
/// </summary>
public sealed class TrainingRecorder : IProgress<DeepClusterProgress>
{
    private readonly List<double> _pretrainLosses = new();
    private readonly List<double> _kMeansInertias = new();
    private readonly List<SelfTrainingUpdate> _updates = new();

    /// <summary>Where reports go after being recorded (the live or plain display).</summary>
    public IProgress<DeepClusterProgress>? Next { get; set; }

    public IReadOnlyList<double> PretrainLosses => _pretrainLosses;
    public IReadOnlyList<double> KMeansInertias => _kMeansInertias;
    public IReadOnlyList<SelfTrainingUpdate> SelfTrainingUpdates => _updates;

    /// <summary>The latest report, or null before the first epoch ended.</summary>
    public DeepClusterProgress? Last { get; private set; }

    /// <summary>Where training was when it stopped, in words, for a cancelled run's report.</summary>
    public string Describe() => Last switch
    {
        null => "reading the input and the first pretraining epoch",
        { Stage: DeepClusterStage.Pretraining } p => $"pretraining, after epoch {p.Step} of {p.TotalSteps}",
        { Stage: DeepClusterStage.Seeding } p => $"k-means seeding, after restart {p.Step} of {p.TotalSteps}",
        var p => $"self-training, after step {p.Step} of at most {p.TotalSteps}",
    };

    public void Report(DeepClusterProgress value)
    {
        switch (value.Stage)
        {
            case DeepClusterStage.Pretraining:
                _pretrainLosses.Add(value.Loss);
                break;
            case DeepClusterStage.Seeding:
                _kMeansInertias.Add(value.Loss);
                break;
            case DeepClusterStage.SelfTraining:
                _updates.Add(new SelfTrainingUpdate(value.Step, value.Loss, value.LabelChangeFraction ?? double.NaN));
                break;
        }
        Last = value;
        Next?.Report(value);
    }
}
