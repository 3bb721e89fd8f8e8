namespace Microsoft.ML.DeepClustering;

/// <summary>The stage a training report comes from.</summary>
public enum DeepClusterStage
{
    /// <summary>Stage 1: autoencoder pretraining, one report per epoch.</summary>
    Pretraining,
    /// <summary>Stage 2: k-means++ on the embedding, one report per restart.</summary>
    Seeding,
    /// <summary>Stage 3: DEC self-training, one report per target-distribution update.</summary>
    SelfTraining,
}

/// <summary>A progress report from <see cref="DeepClusterEstimator.Fit(IDataView, CancellationToken)"/>.</summary>
/// <param name="Stage">Which stage is running.</param>
/// <param name="Step">1-based epoch (pretraining), restart (seeding) or self-training step.</param>
/// <param name="TotalSteps">Epochs, restarts or the self-training step cap.</param>
/// <param name="Loss">Mean reconstruction MSE of the epoch, k-means inertia of the restart, or mean KL loss since the last update.</param>
/// <param name="LabelChangeFraction">Self-training only: fraction of rows whose cluster changed since the previous update.</param>
/// <param name="Elapsed">Time since <c>Fit</c> started.</param>
public sealed record DeepClusterProgress(DeepClusterStage Stage, int Step, int TotalSteps, double Loss, double? LabelChangeFraction, TimeSpan Elapsed)
{
    /// <summary>
    /// Self-training only: the cluster (0 to K − 1) of every training row at this target update, in the order
    /// <c>Fit</c> read the rows. With known labels for those rows, a caller can follow the accuracy as training goes
    /// (ACC, NMI and ARI do not depend on how clusters are numbered). These are training-order ids: the fitted model
    /// numbers its clusters once, when Fit ends (ML.NET's k-means scorer picks the order), so cluster i here need not
    /// be PredictedClusterId i + 1; <see cref="DeepClusterTrainingHistory.FinalAssignments"/> and
    /// <see cref="DeepClusterTrainingHistory.SeedingAssignments"/> are in the fitted model's numbering. Null for the
    /// other stages.
    /// </summary>
    public IReadOnlyList<int>? Assignments { get; init; }

    /// <inheritdoc />
    public override string ToString() => Stage switch
    {
        // Step 0 is the first target update, before any step: there is no loss to show yet.
        DeepClusterStage.SelfTraining => $"{Stage} step {Step}/{TotalSteps}: KL {(double.IsNaN(Loss) ? "(none yet)" : Loss.ToString("G4"))}, labels changed {LabelChangeFraction:P2} ({Elapsed.TotalSeconds:F1} s)",
        DeepClusterStage.Seeding => $"{Stage} restart {Step}/{TotalSteps}: inertia {Loss:G6} ({Elapsed.TotalSeconds:F1} s)",
        _ => $"{Stage} epoch {Step}/{TotalSteps}: MSE {Loss:G4} ({Elapsed.TotalSeconds:F1} s)",
    };
}
