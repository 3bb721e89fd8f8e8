namespace Microsoft.ML.DeepClustering;

/// <summary>Why self-training ended.</summary>
public enum SelfTrainingStopReason
{
    /// <summary><see cref="DeepClusterOptions.MaxIterations"/> was 0: the model is autoencoder + k-means.</summary>
    Skipped,
    /// <summary>Fewer than <see cref="DeepClusterOptions.Tolerance"/> of the labels changed between two target updates.</summary>
    Converged,
    /// <summary>The step cap <see cref="DeepClusterOptions.MaxIterations"/> was reached.</summary>
    MaxIterations,
    /// <summary>
    /// A cluster lost all its rows, or two clusters merged onto one centroid (DEC's known collapse). Training stopped
    /// and the model is the one from the last target update at which every cluster still had rows and its own centroid.
    /// </summary>
    Degenerate,
    /// <summary>The loss became NaN or infinite (learning rate too high). The model is the one from the last healthy update.</summary>
    Diverged,
}

/// <summary>One target-distribution update of self-training.</summary>
/// <param name="Step">Self-training steps done before this update.</param>
/// <param name="Loss">Mean KL(P‖Q) over the steps since the previous update (NaN at step 0).</param>
/// <param name="LabelChangeFraction">Fraction of rows whose cluster changed since the previous update (1 at step 0).</param>
/// <param name="SmallestClusterSize">Rows in the smallest cluster (argmax of q) at this update; 0 means a cluster is empty.</param>
/// <param name="EmptyClusters">Clusters with no rows at this update.</param>
public sealed record SelfTrainingUpdate(int Step, double Loss, double LabelChangeFraction, int SmallestClusterSize = 0, int EmptyClusters = 0);

/// <summary>One candidate number of clusters, when Fit chose K (<see cref="DeepClusterOptions.NumberOfClusters"/> = 0).</summary>
/// <param name="NumberOfClusters">The candidate K.</param>
/// <param name="Score">Its <see cref="DeepClusterOptions.ClusterCountCriterion"/> on the pretrained embedding, seeded as the fixed-K fit would seed it.</param>
/// <param name="Inertia">The seeding's inertia (sum of squared distances to the nearest centroid).</param>
/// <param name="ClusterSizes">Rows per seeded cluster, largest first.</param>
/// <param name="Chosen">Whether this candidate won.</param>
public sealed record ClusterCountCandidate(int NumberOfClusters, double Score, double Inertia, IReadOnlyList<int> ClusterSizes, bool Chosen);

/// <summary>
/// Self-training judged where it cannot flatter itself: the mean silhouette, on the same sample of at most 2,000 rows,
/// of the seeding's partition and of the final one, in the pretrained embedding and in the input features.
/// </summary>
/// <param name="SeedingSilhouette">The seeding's partition, in the pretrained embedding. That is the partition
/// self-training set out from: the seeding's own clusters when they were its first target
/// (<see cref="DeepClusterOptions.SeedingPartitionSteps"/> after a manifold seeding), else the seeded centroids' cells.</param>
/// <param name="FinalSilhouette">Self-training's partition, in the pretrained embedding.</param>
/// <param name="SeedingInputSilhouette">The seeding's partition, in the input features.</param>
/// <param name="FinalInputSilhouette">Self-training's partition, in the input features.</param>
/// <param name="FinalIsWorse">Whether the final partition scores clearly worse (<see cref="DeepClusterOptions.SelfTrainingSafeguard"/>).</param>
/// <param name="KeptSeeding">Whether Fit handed out the seeding's model for that reason.</param>
public sealed record SelfTrainingVerdict(double SeedingSilhouette, double FinalSilhouette, double SeedingInputSilhouette, double FinalInputSilhouette, bool FinalIsWorse, bool KeptSeeding);

/// <summary>What happened during <c>Fit</c>: losses per epoch, k-means restarts, label changes per update, timings.</summary>
public sealed class DeepClusterTrainingHistory
{
    /// <summary>
    /// Every candidate K, smallest first, with its score, when Fit chose K (<see cref="DeepClusterOptions.NumberOfClusters"/>
    /// = 0); empty when K was given. The chosen one has <see cref="ClusterCountCandidate.Chosen"/> set, and the other fields
    /// of this history describe it.
    /// </summary>
    public IReadOnlyList<ClusterCountCandidate> ClusterCountCandidates { get; internal set; } = Array.Empty<ClusterCountCandidate>();
    /// <summary>The criterion the candidates were scored with, or null when K was given.</summary>
    public ClusterCountCriterion? ClusterCountCriterion { get; internal set; }
    /// <summary>Self-training judged against the seeding in spaces it does not change; null when self-training was skipped.</summary>
    public SelfTrainingVerdict? SelfTrainingVerdict { get; internal set; }
    /// <summary>Mean reconstruction MSE of each pretraining epoch.</summary>
    public IReadOnlyList<double> PretrainLosses { get; internal set; } = Array.Empty<double>();
    /// <summary>Inertia (sum of squared distances to the nearest centroid) of each k-means++ restart.</summary>
    public IReadOnlyList<double> KMeansInertias { get; internal set; } = Array.Empty<double>();
    /// <summary>Index of the restart that won (lowest inertia).</summary>
    public int BestKMeansRestart { get; internal set; }
    /// <summary>
    /// Cluster of each training row, in data order, when seeding ended (nearest seeded centroid in the pretrained
    /// embedding): the autoencoder + k-means result that self-training starts from, to measure what self-training added.
    /// Numbered 0 to K − 1 as the fitted model numbers its clusters: cluster c here is PredictedClusterId c + 1 and
    /// centroid c of <see cref="DeepClusterTransformer.Centroids"/>.
    /// </summary>
    public IReadOnlyList<int> SeedingAssignments { get; internal set; } = Array.Empty<int>();
    /// <summary>
    /// Cluster of each training row, in data order, when training ended (argmax of q under the model handed out,
    /// computed in float32 as the saved model scores): what PredictedClusterId gives those rows, less one.
    /// </summary>
    public IReadOnlyList<int> FinalAssignments { get; internal set; } = Array.Empty<int>();
    /// <summary>Target-distribution updates of self-training, in order.</summary>
    public IReadOnlyList<SelfTrainingUpdate> SelfTrainingUpdates { get; internal set; } = Array.Empty<SelfTrainingUpdate>();
    /// <summary>Self-training steps done.</summary>
    public int SelfTrainingSteps { get; internal set; }

    /// <summary>
    /// Rows each self-training target update computed P on when the training rows were more than the sampling
    /// threshold (the rows the next UpdateInterval steps visit); 0 when every update used every row. Sampled updates
    /// also count <see cref="SelfTrainingUpdate.LabelChangeFraction"/> and the cluster sizes on a fixed sample of rows.
    /// </summary>
    public int TargetSampleRows { get; internal set; }
    /// <summary>Why self-training ended.</summary>
    public SelfTrainingStopReason StopReason { get; internal set; }
    /// <summary>Rows trained on.</summary>
    public int NumberOfRows { get; internal set; }
    /// <summary>Number of training rows per cluster at the end of training (argmax of q); entry c counts PredictedClusterId c + 1.</summary>
    public IReadOnlyList<int> ClusterSizes { get; internal set; } = Array.Empty<int>();
    /// <summary>Where training ran ("cpu", "cuda:0").</summary>
    public string Device { get; internal set; } = "cpu";
    /// <summary>libtorch CPU threads used.</summary>
    public int NumberOfThreads { get; internal set; }
    /// <summary>Arithmetic of the matrix products actually used (<see cref="DeepClusterOptions.Precision"/> resolved: never Auto).</summary>
    public TrainingPrecision Precision { get; internal set; }
    /// <summary>
    /// Why <see cref="Precision"/>: asked for, forced by the network, or, for <see cref="TrainingPrecision.Auto"/> on a
    /// CPU, the measured speed of bfloat16 products against float32's on this machine (for example "bfloat16: bfloat16
    /// products measured 1.43× float32's on this CPU (…)").
    /// </summary>
    public string PrecisionReason { get; internal set; } = "";
    /// <summary>The seed actually used.</summary>
    public int Seed { get; internal set; }
    /// <summary>
    /// Epochs of <see cref="PretrainLosses"/> that a checkpoint supplied (<see cref="DeepClusterOptions.CheckpointPath"/>):
    /// this Fit resumed pretraining after them. 0 when it started afresh.
    /// </summary>
    public int PretrainingResumedAfterEpoch { get; internal set; }
    /// <summary>Wall time of autoencoder pretraining (in this Fit: a resumed run's earlier epochs are not counted).</summary>
    public TimeSpan PretrainingTime { get; internal set; }
    /// <summary>Wall time of k-means seeding.</summary>
    public TimeSpan SeedingTime { get; internal set; }
    /// <summary>Wall time of self-training.</summary>
    public TimeSpan SelfTrainingTime { get; internal set; }

    /// <summary>
    /// Renumbers every cluster-indexed field once, from training's numbering to the fitted model's: cluster i of the
    /// model is cluster <paramref name="order"/>[i] of training.
    /// </summary>
    internal void Renumber(IReadOnlyList<int> order)
    {
        var newId = new int[order.Count];
        for (int i = 0; i < order.Count; i++)
            newId[order[i]] = i;
        SeedingAssignments = SeedingAssignments.Select(c => newId[c]).ToArray();
        FinalAssignments = FinalAssignments.Select(c => newId[c]).ToArray();
        ClusterSizes = order.Select(c => ClusterSizes[c]).ToArray();
    }
}
