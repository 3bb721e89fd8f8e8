using System.Security.Cryptography;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Onnx;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.DeepClustering;

/// <summary>Image features from a pretrained network, in front of <see cref="DeepClusterCatalog.DeepCluster(TransformsCatalog, DeepClusterOptions)"/>.</summary>
public static class ImageFeaturesCatalog
{
    private const string ImageColumn = "DeepClusteringImage";
    private const string PixelsColumn = "DeepClusteringPixels";
    private const string RawFeaturesColumn = "DeepClusteringRawFeatures";

    /// <summary>
    /// Reads each image named by <see cref="ImageFeaturizerOptions.ImagePathColumnName"/>, runs a pretrained network on
    /// it, and writes its features (L2-normalised by default) to <see cref="ImageFeaturizerOptions.OutputColumnName"/>;
    /// the columns it uses on the way are dropped. Photos of any size and of any colour format (grayscale included)
    /// work: each is resized to the network's input size, in RGB.
    /// <code>
    /// ResNet18 (default):  path ─ LoadImages ─ ResizeImages(224×224) ─ ExtractPixels(RGB, 0..255) ─ DnnFeaturizeImage(ResNet18) ─ [512]
    /// your ONNX backbone:  path ─ LoadImages ─ ResizeImages(W×H) ─ ExtractPixels(RGB, 0..1) ─ (x − mean) / std ─ ApplyOnnxModel ─ [D]
    ///                                                                                   then NormalizeLpNorm (L2) ─ OutputColumnName
    /// </code>
    /// Everything is ML.NET's own transforms, so the fitted pipeline, featurizer and DeepCluster together, saves to
    /// one .zip that <c>mlContext.Model.Load</c> reads in any process with no file beside it (the ONNX models' bytes
    /// are inside). At Fit, every training image is opened first: one that is missing or does not decode fails with an
    /// <see cref="InvalidDataException"/> naming the column, the row and the file, before any featurizing.
    /// </summary>
    /// <exception cref="InvalidOperationException">The MLNet.DeepClustering loaded is not the version this package was built with.</exception>
    public static IEstimator<ITransformer> FeaturizeImages(this TransformsCatalog catalog, ImageFeaturizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        LibraryVersion.EnsureMatches();
        options.Validate();
        return Build(catalog, options);
    }

    // Kept out of FeaturizeImages, which the JIT compiles before the version check runs: this method names the
    // library's internals, which another version may lack.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static IEstimator<ITransformer> Build(TransformsCatalog catalog, ImageFeaturizerOptions options)
    {
        var env = CatalogEnvironment.From(catalog);
        var backbone = options.Backbone;
        int width = backbone?.ImageWidth ?? 224, height = backbone?.ImageHeight ?? 224;

        IEstimator<ITransformer> chain = catalog.LoadImages(ImageColumn, options.ImageFolder, options.ImagePathColumnName)
            .Append(catalog.ResizeImages(ImageColumn, width, height, ImageColumn));
        string raw;
        var temporary = new List<string> { ImageColumn, PixelsColumn };
        if (backbone is null)
        {
            // ResNet18's own preprocessing graph expects planar RGB in 0..255 and applies ImageNet's mean and std.
            raw = RawFeaturesColumn;
            chain = chain.Append(catalog.ExtractPixels(PixelsColumn, ImageColumn))
                .Append(catalog.DnnFeaturizeImage(raw, input => input.ModelSelector.ResNet18(env, input.OutputColumn, input.InputColumn), PixelsColumn));
        }
        else
        {
            raw = backbone.OutputName;
            chain = chain.Append(catalog.ExtractPixels(PixelsColumn, ImageColumn, interleavePixelColors: backbone.ChannelsLast, scaleImage: 1f / 255))
                .Append(catalog.ApplyOnnxModel(new[] { backbone.InputName }, new[] { PixelsColumn },
                    PreprocessingModel(backbone, PixelsColumn, CatalogEnvironment.Settings(env).TempFilePath)))
                .Append(catalog.ApplyOnnxModel(new[] { backbone.OutputName }, new[] { backbone.InputName }, backbone.ModelPath));
            temporary.Add(backbone.InputName);
        }

        if (options.NormalizeFeatures)
            chain = chain.Append(catalog.NormalizeLpNorm(options.OutputColumnName, raw));
        else if (raw != options.OutputColumnName)
            chain = chain.Append(catalog.CopyColumns(options.OutputColumnName, raw));
        if (raw != options.OutputColumnName)
            temporary.Add(raw);
        chain = chain.Append(catalog.DropColumns(temporary.Where(c => c != options.OutputColumnName && c != options.ImagePathColumnName).Distinct().ToArray()));
        return new CheckedImagesEstimator(chain, options.ImagePathColumnName, options.ImageFolder);
    }

    /// <summary>
    /// The featurizing chain, whose Fit first opens every image of the training data: ML.NET's image loader reports a
    /// file that does not decode as "Invalid input stream contents" without its name. Fit returns the chain's own
    /// transformer, so what is saved is ML.NET's transforms alone.
    /// </summary>
    private sealed class CheckedImagesEstimator(IEstimator<ITransformer> chain, string pathColumn, string folder) : IEstimator<ITransformer>
    {
        public ITransformer Fit(IDataView input)
        {
            var column = input.Schema.GetColumnOrNull(pathColumn)
                ?? throw new ArgumentException($"Image path column '{pathColumn}' was not found. Available columns: {string.Join(", ", input.Schema.Select(c => c.Name))}.", nameof(ImageFeaturizerOptions.ImagePathColumnName));
            if (column.Type is not TextDataViewType)
                throw new ArgumentException($"Image path column '{pathColumn}' must hold text; found {column.Type}.", nameof(ImageFeaturizerOptions.ImagePathColumnName));
            using var cursor = input.GetRowCursor(new[] { column });
            var getter = cursor.GetGetter<ReadOnlyMemory<char>>(column);
            var value = default(ReadOnlyMemory<char>);
            for (long row = 1; cursor.MoveNext(); row++)
            {
                getter(ref value);
                string path = Path.Combine(folder, value.ToString());
                if (!File.Exists(path))
                    throw new InvalidDataException($"Column '{pathColumn}', row {row}: no image file '{path}'.");
                using var codec = SkiaSharp.SKCodec.Create(path);
                if (codec is null)
                    throw new InvalidDataException($"Column '{pathColumn}', row {row}: '{path}' is not an image that can be decoded (PNG, JPEG, BMP, GIF and WebP can).");
            }
            return chain.Fit(input);
        }

        public SchemaShape GetOutputSchema(SchemaShape inputSchema) => chain.GetOutputSchema(inputSchema);
    }

    /// <summary>
    /// A small ONNX graph, pixels [batch, 3, H, W] (or [batch, H, W, 3]) in 0..1 → (pixels − mean) / std per channel, named as the backbone's
    /// input. Written once per content to the MLContext's temp folder (<c>MLContext.TempFilePath</c>; the name is its
    /// hash, so fitting again reuses it), where ApplyOnnxModel reads it; the fitted transformer keeps its bytes.
    /// </summary>
    private static string PreprocessingModel(OnnxImageBackbone backbone, string pixelsName, string tempFolder)
    {
        var graph = new OnnxGraph("deepclustering_image_normalisation");
        long[] dims = backbone.ChannelsLast ? [backbone.ImageHeight, backbone.ImageWidth, 3] : [3, backbone.ImageHeight, backbone.ImageWidth];
        long[] perChannel = backbone.ChannelsLast ? [1, 1, 1, 3] : [1, 3, 1, 1];
        string pixels = graph.FloatInput(pixelsName, dims);
        string mean = graph.FloatConstant("mean", backbone.Mean, perChannel);
        string std = graph.FloatConstant("std", backbone.StandardDeviation, perChannel);
        string centred = graph.Node("Sub", new[] { pixels, mean });
        graph.Node("Div", new[] { centred, std }, output: backbone.InputName);
        graph.Output(backbone.InputName, Onnx.Proto.TensorProto.Types.DataType.Float, dims);
        byte[] bytes = graph.ToModelBytes("Per-channel image normalisation for an ONNX backbone.", new Dictionary<string, string>());
        Directory.CreateDirectory(tempFolder);
        string path = Path.Combine(tempFolder, $"DeepClustering-image-normalisation-{Convert.ToHexString(SHA256.HashData(bytes))[..16]}.onnx");
        if (!File.Exists(path))
        {
            string partial = path + "." + Guid.NewGuid().ToString("N");
            File.WriteAllBytes(partial, bytes);
            File.Move(partial, path, overwrite: true);
        }
        return path;
    }
}
