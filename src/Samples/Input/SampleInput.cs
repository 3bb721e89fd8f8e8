namespace Microsoft.ML.DeepClustering.Samples.Input;

/// <summary>Where the rows came from.</summary>
public enum InputKind
{
    /// <summary>An IDX (MNIST-format) file, the repository's MNIST test set included: the Features column exists already.</summary>
    Idx,
    /// <summary>A folder of image files: an ImagePath column that the image pipeline turns into Features.</summary>
    ImageFolder,
}

/// <summary>The rows to cluster, and what the report needs to know about them.</summary>
public sealed record SampleInput
{
    /// <summary>
    /// One row per image. IDX: Features (+ Label). Image folder: ImagePath (+ Label); <see cref="Preprocessing"/>
    /// makes the Features.
    /// </summary>
    public required IDataView Data { get; init; }

    public required InputKind Kind { get; init; }

    /// <summary>
    /// What makes a folder's Features: ML.NET's LoadImages → ResizeImages → ConvertToGrayscale → ExtractPixels on the
    /// pixel route, FeaturizeImages on the ResNet18 route; null for IDX.
    /// </summary>
    public IEstimator<ITransformer>? Preprocessing { get; init; }

    /// <summary>On the ResNet18 and backbone routes, what <see cref="Preprocessing"/> was made from: the batched featurizer takes the same.</summary>
    public ImageFeaturizerOptions? FeaturizerOptions { get; init; }

    /// <summary>An image folder's route (pixels or ResNet18) and why it was taken; null for IDX files and for --score.</summary>
    public FeatureChoice? FeatureChoice { get; init; }

    /// <summary>
    /// The Features are pretrained-network features, not pixels: the report draws the photos' files, and there is
    /// no decoded centroid to draw.
    /// </summary>
    public bool HasPhotoFeatures => FeatureChoice is { Route: FeatureRoute.ResNet18 or FeatureRoute.Backbone };

    /// <summary>--backbone: the user's ONNX image encoder, as read from its graph; null on the other routes.</summary>
    public BackboneChoice? Backbone { get; init; }

    /// <summary>--skip-unreadable: the files left out because they do not decode (absolute paths), in listing order.</summary>
    public IReadOnlyList<string> Skipped { get; init; } = Array.Empty<string>();

    /// <summary>--shard I/N: the rows are shard I of N of the folder; null for the whole input.</summary>
    public (int Index, int Count)? Shard { get; init; }

    /// <summary>The layout of the Features vector (on the ResNet18 route, one row of 512).</summary>
    public required ImageShape Shape { get; init; }

    /// <summary>The class names when the input has labels (a Label column), else null.</summary>
    public LabelSet? Labels { get; init; }

    /// <summary>
    /// Per row, what to call it in assignments.csv: the image path relative to the folder; null for IDX files,
    /// whose rows are named by their index.
    /// </summary>
    public IReadOnlyList<string>? ItemNames { get; init; }

    /// <summary>Number of rows.</summary>
    public required int Count { get; init; }

    /// <summary>One line for the console and the report, e.g. "10,000 images 28×28 grayscale from data/mnist/…".</summary>
    public required string Description { get; init; }

    /// <summary>Image folder only: the absolute path of each row's file.</summary>
    public IReadOnlyList<string>? FilePaths { get; init; }

    /// <summary>The folder or file the rows came from.</summary>
    public string? Source { get; init; }

    /// <summary>Things the user should know about how the input was read (e.g. labels ignored, and why).</summary>
    public IReadOnlyList<string> Notes { get; init; } = Array.Empty<string>();
}
