namespace Microsoft.ML.DeepClustering;

/// <summary>
/// What <see cref="ImageFeaturesCatalog.FeaturizeImages"/> reads, which network it runs, and what it writes.
/// </summary>
public sealed class ImageFeaturizerOptions
{
    /// <summary>The text column with each image's path (relative to <see cref="ImageFolder"/>). Default "ImagePath".</summary>
    public string ImagePathColumnName { get; set; } = "ImagePath";

    /// <summary>The feature column written: a vector of <see cref="float"/> (512 for ResNet18). Default "Features", what <see cref="DeepClusterOptions.FeatureColumnName"/> reads.</summary>
    public string OutputColumnName { get; set; } = "Features";

    /// <summary>The folder the paths are relative to; "" (the default) for absolute paths or paths relative to the working directory.</summary>
    public string ImageFolder { get; set; } = "";

    /// <summary>
    /// The network. Null (the default): ML.NET's ResNet18 pretrained on ImageNet, its global average pool (512
    /// features), from the weights that ship in Microsoft.ML.DnnImageFeaturizer.ResNet18. Otherwise an ONNX image
    /// model of your own.
    /// </summary>
    public OnnxImageBackbone? Backbone { get; set; }

    /// <summary>
    /// Scale each image's feature vector to unit length (L2). Default true: clustering then compares directions, which
    /// for pooled CNN features is what separates kinds of things; raw magnitudes mostly follow contrast and size.
    /// </summary>
    public bool NormalizeFeatures { get; set; } = true;

    internal void Validate()
    {
        CheckColumnName(ImagePathColumnName, nameof(ImagePathColumnName));
        CheckColumnName(OutputColumnName, nameof(OutputColumnName));
        if (ImageFolder is null)
            throw new ArgumentNullException(nameof(ImageFolder), "ImageFolder must not be null; use \"\" for paths that are absolute or relative to the working directory.");
        Backbone?.Validate();
    }

    internal static void CheckColumnName(string? name, string option)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw new ArgumentException($"{option} must name a column; found {(name is null ? "null" : $"'{name}'")}.", option);
    }
}

/// <summary>
/// An ONNX image model of your own as the featurizer (a CLIP or DINOv2 image encoder exported to ONNX, for example).
/// Each image is resized to <see cref="ImageWidth"/>×<see cref="ImageHeight"/>, its RGB pixels scaled to 0..1, then
/// normalised per channel as (x − <see cref="Mean"/>) / <see cref="StandardDeviation"/>, and fed as a planar
/// [1 or batch, 3, height, width] float tensor (interleaved [.., height, width, 3] with <see cref="ChannelsLast"/>) to the graph input <see cref="InputName"/>; the graph output
/// <see cref="OutputName"/> (any shape; its values are taken in order) becomes the features.
/// The model file's bytes are kept in the fitted pipeline, so a saved model needs no file beside it.
/// <see cref="OnnxBackboneInspection.Inspect"/> reads the input's name, layout and size and a suitable output from the graph.
/// </summary>
public sealed class OnnxImageBackbone
{
    /// <summary>The .onnx file.</summary>
    public required string ModelPath { get; init; }

    /// <summary>The graph input that takes the image tensor. Default "pixel_values" (Hugging Face exports).</summary>
    public string InputName { get; init; } = "pixel_values";

    /// <summary>The graph output to use as features (a pooled embedding). Default "pooler_output" (Hugging Face exports).</summary>
    public string OutputName { get; init; } = "pooler_output";

    /// <summary>The width the model expects. Default 224.</summary>
    public int ImageWidth { get; init; } = 224;

    /// <summary>The height the model expects. Default 224.</summary>
    public int ImageHeight { get; init; } = 224;

    /// <summary>
    /// The input's layout: false (the default) for planar [batch, 3, height, width] (PyTorch exports), true for
    /// interleaved [batch, height, width, 3] (TensorFlow exports).
    /// </summary>
    public bool ChannelsLast { get; init; }

    /// <summary>Per-channel (R, G, B) mean subtracted from pixels in 0..1. Default ImageNet's (0.485, 0.456, 0.406); CLIP uses (0.4815, 0.4578, 0.4082).</summary>
    public float[] Mean { get; init; } = [0.485f, 0.456f, 0.406f];

    /// <summary>Per-channel (R, G, B) standard deviation that pixels are divided by after the mean. Default ImageNet's (0.229, 0.224, 0.225); CLIP uses (0.2686, 0.2613, 0.2758).</summary>
    public float[] StandardDeviation { get; init; } = [0.229f, 0.224f, 0.225f];

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelPath))
            throw new ArgumentException("Backbone.ModelPath must name an .onnx file.", nameof(ModelPath));
        if (!File.Exists(ModelPath))
            throw new FileNotFoundException($"Backbone.ModelPath: no file '{Path.GetFullPath(ModelPath)}'.", ModelPath);
        ImageFeaturizerOptions.CheckColumnName(InputName, $"Backbone.{nameof(InputName)}");
        ImageFeaturizerOptions.CheckColumnName(OutputName, $"Backbone.{nameof(OutputName)}");
        if (ImageWidth < 1 || ImageHeight < 1)
            throw new ArgumentOutOfRangeException(nameof(ImageWidth), $"Backbone.ImageWidth and ImageHeight must be at least 1; found {ImageWidth}×{ImageHeight}.");
        if (Mean is not { Length: 3 })
            throw new ArgumentException($"Backbone.Mean must hold 3 values (R, G, B); found {Mean?.Length.ToString() ?? "null"}.", nameof(Mean));
        if (StandardDeviation is not { Length: 3 } || StandardDeviation.Any(s => !(s > 0) || !float.IsFinite(s)))
            throw new ArgumentException($"Backbone.StandardDeviation must hold 3 positive values (R, G, B); found {(StandardDeviation is null ? "null" : string.Join(", ", StandardDeviation))}.", nameof(StandardDeviation));
    }
}
