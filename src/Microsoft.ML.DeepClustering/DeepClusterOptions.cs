namespace Microsoft.ML.DeepClustering;

/// <summary>
/// Options of <see cref="DeepClusterEstimator"/>. The defaults reproduce DEC as published by Xie et al. (2016)
/// in its common Keras reimplementation (dense autoencoder D-500-500-2000-10 pretrained with Adam,
/// k-means++ seeding with 20 restarts, self-training with SGD, target update every 140 steps, tol 0.1%).
/// </summary>
public sealed class DeepClusterOptions
{
    /// <summary>Input column: a known-size vector of <see cref="float"/> (for images, the output of ExtractPixels). Default "Features".</summary>
    public string FeatureColumnName = "Features";

    /// <summary>
    /// Number of clusters K (at least 2, at most the number of training rows). Default 10. 0 lets Fit choose K from
    /// <see cref="MinimumNumberOfClusters"/>..<see cref="MaximumNumberOfClusters"/>: it pretrains once, seeds every
    /// candidate K on the embedding, scores each with <see cref="ClusterCountCriterion"/>, and self-trains the chosen
    /// one only. <see cref="DeepClusterTrainingHistory.ClusterCountCandidates"/> keeps every candidate's score; the
    /// fitted model has exactly the chosen K. The choice is a suggestion from the data, not a fact about it.
    /// </summary>
    public int NumberOfClusters = 10;

    /// <summary>The smallest K considered when <see cref="NumberOfClusters"/> is 0 (at least 2). Default 2.</summary>
    public int MinimumNumberOfClusters = 2;

    /// <summary>The largest K considered when <see cref="NumberOfClusters"/> is 0 (at least <see cref="MinimumNumberOfClusters"/>, at most the number of training rows). Default 20.</summary>
    public int MaximumNumberOfClusters = 20;

    /// <summary>
    /// How candidate values of K are compared when <see cref="NumberOfClusters"/> is 0. Default Modularity: of the
    /// criteria measured it picked the number of classes most often (docs/benchmarks.md, "Choosing K").
    /// </summary>
    public ClusterCountCriterion ClusterCountCriterion = ClusterCountCriterion.Modularity;

    /// <summary>Output column: the cluster id as a key of <see cref="uint"/> with exactly K values (1..K). Default "PredictedClusterId".</summary>
    public string PredictedClusterIdColumnName = "PredictedClusterId";

    /// <summary>Output column: float[K], squared Euclidean distances from the embedding to each centroid (ML.NET's clustering convention). Default "Score".</summary>
    public string ScoreColumnName = "Score";

    /// <summary>Output column: float[K], DEC's soft assignment q (Student's t kernel), each row sums to 1. Default "SoftAssignment".</summary>
    public string SoftAssignmentColumnName = "SoftAssignment";

    /// <summary>Output column: float[<see cref="EmbeddingDimension"/>], the encoder's output. Default "Embedding".</summary>
    public string EmbeddingColumnName = "Embedding";

    /// <summary>
    /// The autoencoder: <see cref="AutoencoderArchitecture.Dense"/> (DEC's fully connected network, <see cref="HiddenLayers"/>)
    /// or <see cref="AutoencoderArchitecture.Convolutional"/> (DCEC's: three stride-2 convolutions of 32, 64 and 128 filters,
    /// for images of at least 8×8 pixels whose shape the feature column's dimensions or <see cref="ImageHeight"/> give).
    /// Default Dense.
    /// </summary>
    public AutoencoderArchitecture Architecture = AutoencoderArchitecture.Dense;

    /// <summary>Widths of the dense encoder's hidden layers; the decoder mirrors them. Unused by the convolutional network. Default { 500, 500, 2000 } (DEC).</summary>
    public int[] HiddenLayers = { 500, 500, 2000 };

    /// <summary>Size of the embedding in which clusters are found. Default 10 (DEC).</summary>
    public int EmbeddingDimension = 10;

    /// <summary>Autoencoder pretraining epochs. Default 200 (DEC-Keras on MNIST); small data or quick looks need far fewer.</summary>
    public int PretrainEpochs = 200;

    /// <summary>
    /// Pretraining's budget in rows seen (samples), as a size-independent alternative to <see cref="PretrainEpochs"/>:
    /// when positive it wins, and pretraining runs ⌈PretrainSamples / rows⌉ epochs (at least 1), which the log, the
    /// progress reports, the history and checkpoints count as usual. 160 epochs of 10,000 rows are 1,600,000 samples;
    /// the same budget on 1,000,000 rows is 2 epochs. Default 0: <see cref="PretrainEpochs"/> decides.
    /// </summary>
    public long PretrainSamples = 0;

    /// <summary>
    /// An upper bound on pretraining's rows seen when <see cref="PretrainEpochs"/> decides: pretraining runs
    /// min(<see cref="PretrainEpochs"/>, ⌈MaxPretrainSamples / rows⌉) epochs (at least 1), so that a budget sized in
    /// epochs for thousands of rows does not grow without end on millions. <see cref="PretrainSamples"/>, an explicit
    /// budget, is not bounded by it. Default 0: no bound. <see cref="DeepClusterPresets.Recommended"/> sets
    /// 11,200,000, its 160 epochs on 70,000 rows, so that it runs as measured up to 70,000 rows and no longer above.
    /// </summary>
    public long MaxPretrainSamples = 0;

    /// <summary>Mini-batch size for pretraining and self-training. Default 256.</summary>
    public int BatchSize = 256;

    /// <summary>Learning rate of pretraining. Default 0.001 (Adam's); DEC-Keras and FcDEC-DA use SGD with 1.0.</summary>
    public float PretrainLearningRate = 0.001f;

    /// <summary>
    /// Optimizer of autoencoder pretraining: Adam, or SGD with <see cref="PretrainMomentum"/> as DEC-Keras (on MNIST) and
    /// FcDEC-DA pretrain the dense network (learning rate 1.0, momentum 0.9). Default Adam.
    /// </summary>
    public PretrainingOptimizer PretrainOptimizer = PretrainingOptimizer.Adam;

    /// <summary>Momentum of SGD pretraining (<see cref="PretrainOptimizer"/>). Default 0.9.</summary>
    public float PretrainMomentum = 0.9f;

    /// <summary>k-means++ restarts on the embedding; the lowest inertia wins. Default 20.</summary>
    public int KMeansInitializations = 20;

    /// <summary>
    /// Seeding: Lloyd iterations per k-means restart (each stops earlier once assignments stop changing). Not to be
    /// confused with <see cref="MaxIterations"/>, the cap on self-training steps. Default 300.
    /// </summary>
    public int KMeansMaxIterations = 300;

    /// <summary>
    /// How the centroids are seeded on the pretrained embedding: k-means++ (DEC, IDEC, DEC-DA), spectral clustering of
    /// its nearest-neighbour graph, or k-means on its UMAP layout (N2D's manifold step). The manifold seedings average
    /// the embedding over each cluster they find, so the model stays encoder + centroids. Default KMeans.
    /// </summary>
    public SeedingMethod Seeding = SeedingMethod.KMeans;

    /// <summary>Neighbours per row in the graph of spectral seeding. Default 10.</summary>
    public int SpectralNeighbors = 10;

    /// <summary>Subspace iterations of spectral seeding's eigenvector computation. Default 300.</summary>
    public int SpectralIterations = 300;

    /// <summary>
    /// How many leading eigenvectors of the graph spectral seeding's k-means runs on; 0 takes K + ⌊K/5⌋ (12 for K = 10,
    /// K itself below 5). Ng, Jordan and Weiss take K, which assumes K nearly disconnected pieces; where classes touch,
    /// the K-th vectors may follow variation inside one class (a long digit stroke) and a few more let k-means see
    /// the boundary between two others. Default 0.
    /// </summary>
    public int SpectralEigenvectors = 0;

    /// <summary>Neighbours per row in the graph of UMAP seeding (<see cref="SeedingMethod.Umap"/>). Default 10.</summary>
    public int UmapNeighbors = 10;

    /// <summary>Dimensions of UMAP seeding's layout, on which k-means runs. Default 10 (N2D's number of clusters on MNIST).</summary>
    public int UmapDimensions = 10;

    /// <summary>Epochs of UMAP seeding's layout optimisation; 0 takes umap-learn's choice, 500 up to 10,000 rows and 200 above. Default 0.</summary>
    public int UmapEpochs = 0;

    /// <summary>
    /// For how many of its first steps self-training aims at the seeding's partition (one-hot) instead of DEC's target
    /// P: every target update before this step takes the partition, and the convergence test waits for P. Spectral and
    /// UMAP seeding partition a graph or a layout whose clusters the nearest centroid in the embedding only
    /// approximates; these steps carry their partition into the encoder (trained on augmented images when
    /// <see cref="Augment"/> is on). K-means seeding's partition is its nearest centroid's, so there it changes nothing.
    /// 0 or more. Default 0.
    /// </summary>
    public int SeedingPartitionSteps = 0;

    /// <summary>Self-training steps between two updates of the target distribution P (computed over all rows). Default 140.</summary>
    public int UpdateInterval = 140;

    /// <summary>Self-training stops when fewer than this fraction of the rows change cluster between two target updates. Default 0.001.</summary>
    public float Tolerance = 0.001f;

    /// <summary>
    /// Self-training: the cap on its steps (mini-batches, each one optimizer step on KL(P‖Q)), named after DEC-Keras'
    /// <c>maxiter</c>. It does not bound k-means, whose Lloyd iterations <see cref="KMeansMaxIterations"/> caps.
    /// 0 skips self-training: plain autoencoder + k-means. Default 20000 (DEC-Keras).
    /// </summary>
    public int MaxIterations = 20000;

    /// <summary>Learning rate of self-training, for either <see cref="SelfTrainingOptimizer"/>. Default 0.01 (DEC, with SGD).</summary>
    public float SelfTrainingLearningRate = 0.01f;

    /// <summary>Momentum of self-training with SGD (<see cref="SelfTrainingOptimizer"/>). Default 0.9 (DEC).</summary>
    public float SelfTrainingMomentum = 0.9f;

    /// <summary>Optimizer of self-training: SGD with <see cref="SelfTrainingMomentum"/> (DEC) or Adam (IDEC, DEC-DA). Default Sgd.</summary>
    public SelfTrainingOptimizer SelfTrainingOptimizer = SelfTrainingOptimizer.Sgd;

    /// <summary>
    /// How the self-training learning rate changes over the <see cref="MaxIterations"/> steps: Constant, as every
    /// published method trains, or Cosine, from <see cref="SelfTrainingLearningRate"/> down to 0 at the cap (the
    /// <see cref="Tolerance"/> rule still stops it earlier). Default Constant; docs/benchmarks.md has what Cosine measured.
    /// </summary>
    public LearningRateSchedule SelfTrainingLearningRateSchedule = LearningRateSchedule.Constant;

    /// <summary>
    /// IDEC's γ (Guo et al. 2017). Above 0, self-training keeps the decoder and minimises reconstruction MSE + γ·KL(P‖Q),
    /// which preserves the local structure of the data; 0 is plain DEC (KL only, decoder dropped). IDEC uses 0.1. Default 0.
    /// </summary>
    public float IdecGamma;

    /// <summary>
    /// What Fit does when self-training left a partition that scores clearly worse than the seeding's in the pretrained
    /// embedding (a space self-training does not change; see <see cref="DeepClusterTrainingHistory.SelfTrainingVerdict"/>):
    /// Report says so in the log and the history and hands out the self-trained model; KeepBetter hands out the
    /// seeding's model instead (pretrained encoder and seeded centroids). Default Report.
    /// </summary>
    public SelfTrainingSafeguard SelfTrainingSafeguard = SelfTrainingSafeguard.Report;

    /// <summary>
    /// How far the final partition's silhouette in the pretrained embedding may fall below the seeding's before
    /// <see cref="SelfTrainingSafeguard"/> calls it clearly worse. Self-training that helps lowers it a little too (it
    /// reshapes the clusters), by less than where it made the partition worse; docs/benchmarks.md gives the falls
    /// measured on both kinds of run behind the default. Between −1 and 1; a negative value always prefers the seeding.
    /// Default 0.05.
    /// </summary>
    public float SelfTrainingSafeguardMargin = 0.05f;

    /// <summary>
    /// DEC-DA's data augmentation (Guo et al. 2018): pretraining and self-training see every image randomly rotated and
    /// shifted; the target distribution P is still computed on the clean data. Needs the image shape (see
    /// <see cref="ImageHeight"/>). Default false.
    /// </summary>
    public bool Augment;

    /// <summary>Largest random rotation of augmentation, in degrees either way. Default 10.</summary>
    public float AugmentationRotationDegrees = 10f;

    /// <summary>Largest random shift of augmentation, as a fraction of the width (and height) either way. Default 0.1.</summary>
    public float AugmentationShift = 0.1f;

    /// <summary>
    /// Augmentation also mirrors a random half of the images left to right. For images whose kind survives a mirror
    /// (clothing, objects, animals); not for digits or text, where a mirror makes another symbol or none.
    /// Default false.
    /// </summary>
    public bool AugmentationHorizontalFlips;

    /// <summary>
    /// Image height, for augmentation and the convolutional network, when the feature column's dimensions do not say
    /// (ExtractPixels' [C, H, W] do). Null infers: [C, H, W] or [H, W] dimensions, else a square single-channel image
    /// (784 values → 28×28). Set with <see cref="ImageWidth"/>.
    /// </summary>
    public int? ImageHeight;

    /// <summary>Image width; see <see cref="ImageHeight"/>.</summary>
    public int? ImageWidth;

    /// <summary>Image channels; see <see cref="ImageHeight"/>. Null means 1 when height and width are given.</summary>
    public int? ImageChannels;

    /// <summary>Degrees of freedom of the Student's t kernel that gives q. Default 1 (DEC).</summary>
    public float Alpha = 1f;

    /// <summary>
    /// Seed of every random choice (weights, batch order, k-means++). Same seed, same data and same number of threads give
    /// the same model. Null takes one from the <see cref="MLContext"/>'s seed (itself random when the context has none).
    /// </summary>
    public int? Seed;

    /// <summary>
    /// CPU threads libtorch may use during Fit. Null uses one per core. Give each of several concurrent trainings fewer:
    /// OpenMP threads that share cores spin-wait on each other (see docs/benchmarks.md).
    /// </summary>
    public int? NumberOfThreads;

    /// <summary>
    /// Arithmetic of the autoencoder's large matrix products during training. <see cref="TrainingPrecision.Auto"/>
    /// (default) picks <see cref="TrainingPrecision.BFloat16"/> on CPUs with native bfloat16 dot products (AVX512_BF16
    /// or AMX_BF16) except models on which they were measured slower than float32, and
    /// <see cref="TrainingPrecision.Float32"/> elsewhere (CPUs that emulate bfloat16, GPUs). It decides from the CPU's
    /// vendor, family, model and flags, never from a timing, so the same seed gives the same model on a busy and an
    /// idle machine; <see cref="DeepClusterTrainingHistory.PrecisionReason"/> says why. Set it explicitly when runs on
    /// different machines must agree. Either way weights, optimizer state, embedding, losses and the saved model
    /// stay float32; see docs/speed.md for the rule and the speed of both. The convolutional network
    /// (<see cref="AutoencoderArchitecture.Convolutional"/>) always trains in float32: with bfloat16 convolutions its
    /// pretraining diverged.
    /// </summary>
    public TrainingPrecision Precision = TrainingPrecision.Auto;

    /// <summary>
    /// Where Fit keeps the training rows it reads from the feature column. <see cref="RowStorageLocation.Auto"/>
    /// (default) keeps them in memory unless they would take more than half of the memory the process may use (the
    /// container's limit included), and then in a memory-mapped file; <see cref="RowStorageLocation.MemoryMappedFile"/>
    /// always uses the file. The file goes in the <see cref="MLContext"/>'s TempFilePath and is gone when Fit ends,
    /// however it ends. The rows and the model are the same either way.
    /// </summary>
    public RowStorageLocation RowStorage = RowStorageLocation.Auto;

    /// <summary>
    /// How each stored feature value is kept. <see cref="RowStoragePrecision.Float32"/> (default) is lossless.
    /// <see cref="RowStoragePrecision.Half"/> halves the rows' memory, each value within a relative 2⁻¹¹ of the input
    /// (2⁻²⁵ absolute below 2⁻¹⁴), and rejects values beyond ±65504. <see cref="RowStoragePrecision.Byte"/> quarters it,
    /// for values in [0, 1] such as pixels scaled by 1/255: k/255 comes back exactly, any other value within 1/510.
    /// Training sees the stored values.
    /// </summary>
    public RowStoragePrecision RowPrecision = RowStoragePrecision.Float32;

    /// <summary>Receives a report after every pretraining epoch, k-means restart and target update. Called on the training thread.</summary>
    public IProgress<DeepClusterProgress>? Progress;

    /// <summary>
    /// File in which autoencoder pretraining keeps its progress, so that a long Fit that stops (Ctrl+C, a crash, the
    /// end of a working session) resumes where it was. A Fit that finds the file continues from it, with exactly the
    /// weights, optimizer state and random draws the uninterrupted run would have had, provided the data and the
    /// options pretraining depends on are the same (it throws, naming the difference, when they are not).
    /// <see cref="PretrainEpochs"/> may grow between runs (extend 100 epochs to 250); K, seeding and self-training
    /// may change freely, so one pretrained autoencoder serves several fits. After the last epoch the file holds the
    /// finished pretraining, and a later Fit goes straight to seeding. Seeding and self-training are not saved: they
    /// run again in full. Null (default) saves nothing.
    /// </summary>
    public string? CheckpointPath;

    /// <summary>
    /// Least time between two writes of <see cref="CheckpointPath"/> (always written after the last epoch). A stop
    /// loses at most this much plus one epoch. <see cref="TimeSpan.Zero"/> writes after every epoch. Default 1 minute.
    /// </summary>
    public TimeSpan CheckpointInterval = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Above this many rows, self-training's target updates stop passing over every row: P comes from the rows the
    /// next <see cref="UpdateInterval"/> steps visit (a seeded uniform sample, which also estimates P's cluster
    /// frequencies), and convergence and collapse are judged on a fixed seeded sample of
    /// <see cref="Training.SelfTraining.MonitorRows"/> rows. Internal: tests lower it to reach the sampled path on small data.
    /// </summary>
    internal int FullPassRows = 200_000;

    /// <summary>
    /// From this many rows the neighbour graphs (spectral seeding's, UMAP's fuzzy graph, modularity's) come from
    /// NN-descent and spectral seeding's eigenvectors from the Chebyshev eigensolver (Graphs/); below it, the exact
    /// search and the block Krylov method. Internal: tests lower it to reach the approximate path on small data.
    /// </summary>
    internal int ApproximateNeighboursFromRows = Graphs.NearestNeighbours.ApproximateFromRows;

    /// <summary>
    /// From <see cref="ApproximateNeighboursFromRows"/> rows, each k-means restart of the seeding (k-means++ and Lloyd)
    /// runs on a seeded sample of this many rows (at least 50 per cluster), and only the best restart is refined by
    /// Lloyd iterations on every row: the restarts only choose a start, which a sample chooses as well, and their cost
    /// then stops growing with the rows (choosing K runs them for every candidate). Internal: tests lower it.
    /// </summary>
    internal int KMeansSampleRows = 25_000;

    /// <summary>K, or the largest candidate while K is still to be chosen: what the output schema is shaped for before Fit.</summary>
    internal int NumberOfClustersForSchema => NumberOfClusters > 0 ? NumberOfClusters : MaximumNumberOfClusters;

    /// <summary>A copy that later changes to this instance do not reach (the estimator keeps one).</summary>
    internal DeepClusterOptions Clone()
    {
        var copy = (DeepClusterOptions)MemberwiseClone();
        copy.HiddenLayers = (int[])HiddenLayers?.Clone()!;
        return copy;
    }
}

/// <summary>The autoencoder that learns the embedding.</summary>
public enum AutoencoderArchitecture
{
    /// <summary>Fully connected layers (DEC, IDEC, FcDEC-DA): any fixed-size vector.</summary>
    Dense,
    /// <summary>
    /// DCEC's convolutional autoencoder (Guo et al. 2017; ConvDEC-DA): conv 32 5×5, 64 5×5, 128 3×3, each with stride 2,
    /// then a dense embedding layer; transposed convolutions back to the input size. For images only.
    /// </summary>
    Convolutional,
}

/// <summary>Optimizer of the self-training stage.</summary>
public enum SelfTrainingOptimizer
{
    /// <summary>SGD with momentum, as DEC.</summary>
    Sgd,
    /// <summary>Adam, as IDEC and DEC-DA.</summary>
    Adam,
}

/// <summary>How a learning rate changes over training (<see cref="DeepClusterOptions.SelfTrainingLearningRateSchedule"/>).</summary>
public enum LearningRateSchedule
{
    /// <summary>The same rate at every step.</summary>
    Constant,
    /// <summary>rate · ½(1 + cos(π · step / cap)): the full rate at the first step, 0 at the cap.</summary>
    Cosine,
}

/// <summary>Optimizer of autoencoder pretraining.</summary>
public enum PretrainingOptimizer
{
    /// <summary>Adam (Kingma and Ba 2015), PyTorch's defaults for β and ε.</summary>
    Adam,
    /// <summary>SGD with momentum, as DEC-Keras and FcDEC-DA pretrain the dense network.</summary>
    Sgd,
}

/// <summary>How Fit compares candidate numbers of clusters on the pretrained embedding (<see cref="DeepClusterOptions.NumberOfClusters"/> = 0).</summary>
public enum ClusterCountCriterion
{
    /// <summary>Davies–Bouldin index: the mean over clusters of the worst ratio of within-cluster scatter to centroid separation. The lowest wins.</summary>
    DaviesBouldin,
    /// <summary>Mean silhouette (Rousseeuw 1987) on a sample of at most 2,000 rows. The highest wins.</summary>
    Silhouette,
    /// <summary>Calinski–Harabasz index: between- over within-cluster dispersion, each per degree of freedom. The highest wins; on autoencoder embeddings it favours K = 2 (docs/benchmarks.md).</summary>
    CalinskiHarabasz,
    /// <summary>
    /// Newman's modularity of each candidate's partition on UMAP's fuzzy nearest-neighbour graph of the embedding
    /// (<see cref="DeepClusterOptions.UmapNeighbors"/> neighbours), as a share of 1 − 1/K, the modularity of K clean
    /// equal communities; the partition is the seeding's own (the layout's clusters for UMAP seeding). The highest
    /// wins, ties going to the larger K. With UMAP seeding it picked 10 on each MNIST-test seed, where the others pick
    /// 7–9, and 3 on Fashion-MNIST, whose ten classes are not ten communities of the graph (docs/benchmarks.md).
    /// </summary>
    Modularity,
}

/// <summary>What Fit does when self-training made the clustering clearly worse (<see cref="DeepClusterOptions.SelfTrainingSafeguard"/>).</summary>
public enum SelfTrainingSafeguard
{
    /// <summary>Log it and record it in the history; the model is the self-trained one.</summary>
    Report,
    /// <summary>Log it, record it, and hand out the seeding's model (pretrained encoder, seeded centroids) instead.</summary>
    KeepBetter,
}

/// <summary>How centroids are seeded on the pretrained embedding.</summary>
public enum SeedingMethod
{
    /// <summary>k-means++ with restarts (DEC).</summary>
    KMeans,
    /// <summary>
    /// Spectral clustering of the embedding's k-nearest-neighbour graph, then the mean embedding per cluster. Its
    /// neighbour search is quadratic in the rows, where k-means is linear: on 70,000 rows it takes several times as
    /// long as k-means seeding (docs/benchmarks.md has the figures).
    /// </summary>
    Spectral,
    /// <summary>
    /// N2D's manifold step: k-means on a UMAP layout of the embedding, then the mean embedding per cluster. Its
    /// neighbour search is quadratic in the rows like spectral seeding's, and the layout takes seconds per 10,000 rows.
    /// </summary>
    Umap,
}

/// <summary>Arithmetic of the autoencoder's matrix products during training (<see cref="DeepClusterOptions.Precision"/>).</summary>
public enum TrainingPrecision
{
    /// <summary>BFloat16 on CPUs with native bfloat16 dot products that are not known to run them slower, Float32 elsewhere; decided from the CPU's identity, not from a timing.</summary>
    Auto,
    /// <summary>Every product in float32.</summary>
    Float32,
    /// <summary>
    /// Mixed precision: the products of the hidden layers take bfloat16 inputs and weights (8-bit mantissa) and
    /// accumulate in float32; the layers into and out of the embedding, the weights, the optimizer state and the
    /// losses stay float32 (as PyTorch's autocast does). Slow on CPUs without bfloat16 instructions.
    /// </summary>
    BFloat16,
}

/// <summary>Where Fit keeps the training rows (<see cref="DeepClusterOptions.RowStorage"/>).</summary>
public enum RowStorageLocation
{
    /// <summary>In memory, unless the rows would take more than half of the memory the process may use.</summary>
    Auto,
    /// <summary>In managed memory.</summary>
    Memory,
    /// <summary>In a memory-mapped file in the MLContext's TempFilePath, deleted when Fit ends.</summary>
    MemoryMappedFile,
}

/// <summary>How each stored feature value is kept (<see cref="DeepClusterOptions.RowPrecision"/>).</summary>
public enum RowStoragePrecision
{
    /// <summary>4 bytes a value, exactly the input.</summary>
    Float32,
    /// <summary>2 bytes a value (IEEE half): within a relative 2⁻¹¹ of the input; values beyond ±65504 are rejected.</summary>
    Half,
    /// <summary>1 byte a value, for values in [0, 1]: the nearest k/255, so 8-bit pixels scaled by 1/255 come back exactly.</summary>
    Byte,
}
