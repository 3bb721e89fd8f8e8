namespace Microsoft.ML.DeepClustering.Samples;

/// <summary>Everything one run of the deepcluster tool needs, as parsed from the command line (see <see cref="Program"/>).</summary>
public sealed record SampleSettings
{
    /// <summary>A folder of images (optionally one subfolder per class); null when another input is used.</summary>
    public string? ImagesDirectory { get; init; }

    /// <summary>An IDX (MNIST-format) image file; null when another input is used.</summary>
    public string? IdxImagesPath { get; init; }

    /// <summary>The IDX label file that goes with <see cref="IdxImagesPath"/>, if any.</summary>
    public string? IdxLabelsPath { get; init; }

    /// <summary>Number of clusters; null: the number of classes when labels are known, else the preset's; ignored when <see cref="ClusterCountRange"/> is set.</summary>
    public int? NumberOfClusters { get; init; }

    /// <summary>Let training choose K in this range (--k auto is 2–20, --k 5-15 its own); null: K is fixed.</summary>
    public (int Minimum, int Maximum)? ClusterCountRange { get; init; }

    /// <summary>Pretraining epochs; null keeps the preset's.</summary>
    public int? PretrainEpochs { get; init; }

    /// <summary>One of <see cref="DeepClusterPresets.Names"/>; null: the route's own, image-features on the ResNet18 route, recommended otherwise.</summary>
    public string? Preset { get; init; }

    /// <summary>--features: the route for an image folder; null chooses from the images (<see cref="Input.FeatureChoice.Choose"/>).</summary>
    public Input.FeatureRoute? Features { get; init; }

    /// <summary>--backbone: the user's ONNX image encoder; null: ResNet18 or pixels.</summary>
    public string? BackbonePath { get; init; }

    /// <summary>--backbone-output: the graph output to take; null: chosen from the graph (<see cref="OnnxBackboneInspection.Inspect"/>).</summary>
    public string? BackboneOutput { get; init; }

    /// <summary>--backbone-normalization: one of <see cref="ImageNormalizations.Names"/>; null: guessed from the file name.</summary>
    public string? BackboneNormalization { get; init; }

    /// <summary>--skip-unreadable: leave out files that do not decode instead of stopping.</summary>
    public bool SkipUnreadable { get; init; }

    /// <summary>--shard I/N (with --score): assign only shard I of N of the folder.</summary>
    public (int Index, int Count)? Shard { get; init; }

    /// <summary>--cache: the feature cache's folder; null: the user's cache folder (<see cref="Input.FeatureCache.DefaultFolder"/>).</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>--no-cache: compute every image's features, read and write no cache.</summary>
    public bool NoCache { get; init; }

    /// <summary>Seed of the MLContext and of training: same seed, same data, same threads, same result.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>--size: images are resized to this width and height (pixel route of image folders only; IDX files keep their size); null: 28×28.</summary>
    public (int Width, int Height)? Size { get; init; }

    /// <summary>Keep the three colour channels instead of converting to grayscale (image folders only).</summary>
    public bool Color { get; init; }

    /// <summary>Where the report goes.</summary>
    public string OutputDirectory { get; init; } = "out";

    /// <summary>Also save the trained model here (it is always saved as model.zip in the report).</summary>
    public string? ModelPath { get; init; }

    /// <summary>Assign with this saved model instead of training.</summary>
    public string? ScoreModelPath { get; init; }

    /// <summary>Use only this many images.</summary>
    public int? MaxRows { get; init; }

    /// <summary>libtorch CPU threads (<see cref="DeepClusterOptions.NumberOfThreads"/>); null: one per core.</summary>
    public int? Threads { get; init; }

    /// <summary>Self-training step cap (<see cref="DeepClusterOptions.MaxIterations"/>); null keeps the preset's.</summary>
    public int? MaxIterations { get; init; }

    /// <summary>Pretraining checkpoint (<see cref="DeepClusterOptions.CheckpointPath"/>); null keeps none.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>
    /// Last word on the training options, after the preset and the command line: lets a test or an embedding
    /// program shrink the network without the command line having to offer every option.
    /// </summary>
    public Action<DeepClusterOptions>? ConfigureOptions { get; init; }
}
