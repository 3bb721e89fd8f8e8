using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.DeepClustering.Samples.Input;

/// <summary>
/// A folder of images. When the images sit in subfolders (one per class) and none lie loose in the folder itself,
/// the subfolder names are the ground-truth labels; otherwise the images are unlabelled. Decoding, resizing and
/// pixel extraction are left to ML.NET's image transforms, so that the saved model does the same to new images.
/// </summary>
public static class ImageFolderInput
{
    /// <summary>The formats ML.NET's LoadImages decodes (through SkiaSharp).</summary>
    public static readonly IReadOnlyList<string> Extensions = new[] { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp" };

    private sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
    }

    private sealed class LabelledImageRow
    {
        public string ImagePath { get; set; } = "";
        public float Label { get; set; }
    }

    /// <summary>The side images are resized to on the pixel route when --size is not given.</summary>
    public const int DefaultSide = 28;

    /// <summary>ResNet18's features per image (its global average pool).</summary>
    public const int ResNet18Features = 512;

    /// <summary>
    /// Lists the folder and builds what turns each file into Features: <paramref name="chooseFeatures"/> picks the
    /// route from the files that will be clustered (null: pixels, no choice made, as for --score, where the saved model
    /// brings its own).
    /// </summary>
    public static SampleInput Load(MLContext mlContext, string directory, int width, int height, bool color, int? maxRows,
        Func<IReadOnlyList<string>, FeatureChoice>? chooseFeatures = null, FolderOptions? folder = null)
    {
        folder ??= new FolderOptions();
        string root = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(root))
            throw new UserInputException($"The image folder '{root}' does not exist.");

        var notes = new List<string>();
        var loose = ImagesIn(root, SearchOption.TopDirectoryOnly);
        var classes = new List<(string Name, List<string> Files)>();
        try
        {
            foreach (var sub in System.IO.Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            {
                if (Path.GetFileName(sub).StartsWith('.'))
                    continue;
                var files = ImagesIn(sub, SearchOption.AllDirectories);
                if (files.Count > 0)
                    classes.Add((Path.GetFileName(sub), files));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"The image folder '{root}' cannot be read: {e.Message}", e);
        }

        if (loose.Count == 0 && classes.Count == 0)
        {
            throw new UserInputException(
                $"No images found in '{root}' or its subfolders (looked for {string.Join(", ", Extensions)}).");
        }

        bool labelled = loose.Count == 0;
        if (!labelled && classes.Count > 0)
        {
            notes.Add($"{loose.Count} images lie directly in the folder next to {classes.Count} subfolders: " +
                      "the subfolder names are not used as labels (put every image in a class subfolder to get metrics).");
        }

        List<(string Path, int Label)> rows;
        if (labelled)
        {
            rows = classes.SelectMany((c, label) => c.Files.Select(f => (f, label))).ToList();
            if (maxRows is int max && max < rows.Count)
                rows = TakeEvenly(classes.Select((c, label) => c.Files.Select(f => (f, label)).ToList()).ToList(), max);
        }
        else
        {
            rows = loose.Concat(classes.SelectMany(c => c.Files)).Select(f => (f, -1)).ToList();
            if (maxRows is int max && max < rows.Count)
                rows = rows.Take(max).ToList();
        }

        if (folder.Shard is var (shardIndex, shardCount))
        {
            rows = rows.Where(r => Shards.Of(RelativeName(root, r.Path), shardCount) == shardIndex).ToList();
            notes.Add($"Shard {shardIndex}/{shardCount}: {rows.Count:N0} of the folder's images (by a hash of each path relative to the folder).");
            if (rows.Count == 0)
                throw new UserInputException($"--shard {shardIndex}/{shardCount} holds none of the images in '{root}': use fewer shards.");
        }

        // Every file's header, before any long work: one that is not an image stops the run here, all named, or, with
        // --skip-unreadable, is left out and listed.
        var unreadable = FindUnreadable(rows.Select(r => r.Path), max: int.MaxValue).ToHashSet();
        if (unreadable.Count > 0)
        {
            var names = rows.Where(r => unreadable.Contains(r.Path)).Select(r => RelativeName(root, r.Path)).ToList();
            string listed = string.Join(", ", names.Take(10)) + (names.Count > 10 ? $" (and {names.Count - 10} more)" : "");
            if (!folder.SkipUnreadable)
                throw new UserInputException($"{names.Count} of the {rows.Count:N0} files in '{root}' cannot be decoded (not an image, or a damaged one): {listed}. Remove or replace them, or pass --skip-unreadable to leave them out.");
            rows = rows.Where(r => !unreadable.Contains(r.Path)).ToList();
            notes.Add($"{names.Count} unreadable file{(names.Count == 1 ? " was" : "s were")} left out (--skip-unreadable): {listed}.");
            if (rows.Count == 0)
                throw new UserInputException($"None of the files in '{root}' can be decoded as an image.");
        }

        // Absolute paths, so that a saved model finds the images wherever it is loaded (LoadImages combines its
        // folder with a relative path only).
        var paths = rows.Select(r => r.Path).ToList();
        var data = DataView(mlContext, paths, labelled ? rows.Select(r => r.Label).ToList() : null);

        var choice = chooseFeatures?.Invoke(paths);
        var backbone = choice?.Route == FeatureRoute.Backbone ? folder.Backbone ?? throw new InvalidOperationException("The backbone route needs the backbone.") : null;
        // On the feature routes the Features are not pixels: the shape is one row of the network's features.
        var shape = choice?.Route switch
        {
            FeatureRoute.ResNet18 => new ImageShape(1, 1, ResNet18Features),
            FeatureRoute.Backbone => new ImageShape(1, 1, backbone!.FeatureCount),
            _ => new ImageShape(color ? 3 : 1, height, width),
        };
        var labels = labelled ? LabelSet.FromNames(classes.Select(c => c.Name).ToList()) : null;
        var featurizer = choice?.Route is FeatureRoute.ResNet18 or FeatureRoute.Backbone
            ? new ImageFeaturizerOptions { ImagePathColumnName = SampleColumns.ImagePath, OutputColumnName = SampleColumns.Features, Backbone = backbone?.ToBackbone() }
            : null;
        return new SampleInput
        {
            Data = data,
            Kind = InputKind.ImageFolder,
            Preprocessing = featurizer is null ? Pipeline(mlContext, width, height, color) : mlContext.Transforms.FeaturizeImages(featurizer),
            FeaturizerOptions = featurizer,
            FeatureChoice = choice,
            Backbone = backbone,
            Skipped = rowsSkipped(),
            Shard = folder.Shard,
            Shape = shape,
            Labels = labels,
            ItemNames = rows.Select(r => RelativeName(root, r.Path)).ToList(),
            Count = rows.Count,
            Description = Describe(rows.Count, root, choice?.Route switch
            {
                FeatureRoute.ResNet18 => ResNet18Resizing,
                FeatureRoute.Backbone => backbone!.Resizing,
                _ => $"resized to {shape}",
            }, labels),
            Source = root,
            FilePaths = paths,
            Notes = notes,
        };

        List<string> rowsSkipped() => unreadable.Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>A file's name in assignments.csv and in shard hashing: its path relative to the folder, with '/'.</summary>
    public static string RelativeName(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');

    /// <summary>One row per file: ImagePath, and Label when <paramref name="labels"/> are given (one per file).</summary>
    public static IDataView DataView(MLContext mlContext, IReadOnlyList<string> paths, IReadOnlyList<int>? labels) => labels is null
        ? mlContext.Data.LoadFromEnumerable(paths.Select(p => new ImageRow { ImagePath = p }).ToList())
        : mlContext.Data.LoadFromEnumerable(paths.Select((p, i) => new LabelledImageRow { ImagePath = p, Label = labels[i] }).ToList());

    /// <summary>How the ResNet18 route reads each image, for <see cref="Describe"/>.</summary>
    public const string ResNet18Resizing = "each resized to 224×224 colour for ResNet18 (512 features)";

    /// <summary>"300 images from /data/digits, resized to 28×28 grayscale, 3 classes from the subfolder names".</summary>
    public static string Describe(int count, string root, string resizing, LabelSet? labels) =>
        $"{count:N0} images from {root}, {resizing}, " + (labels is null ? "no labels" : $"{labels.Count} classes from the subfolder names");

    /// <summary>
    /// ML.NET's image transforms: decode, resize (ResizeImages' default: keep the aspect ratio, crop the centre),
    /// grayscale unless colour is kept, then pixels scaled to [0, 1] in planar [C, H, W] order.
    /// </summary>
    public static IEstimator<ITransformer> Pipeline(MLContext mlContext, int width, int height, bool color)
    {
        var t = mlContext.Transforms;
        IEstimator<ITransformer> pipeline = t.LoadImages(SampleColumns.Image, imageFolder: null, SampleColumns.ImagePath)
            .Append(t.ResizeImages(SampleColumns.Image, width, height));
        if (!color)
            pipeline = pipeline.Append(t.ConvertToGrayscale(SampleColumns.Image));
        return pipeline.Append(t.ExtractPixels(SampleColumns.Features, SampleColumns.Image,
            colorsToExtract: color ? ImagePixelExtractingEstimator.ColorBits.Rgb : ImagePixelExtractingEstimator.ColorBits.Red,
            scaleImage: 1f / 255));
    }

    /// <summary>
    /// The files SkiaSharp (which ML.NET's LoadImages decodes with) cannot even identify as an image. Only run after
    /// LoadImages has failed: ML.NET's error does not say which file it was.
    /// </summary>
    public static List<string> FindUnreadable(IEnumerable<string> paths, int max = 5)
    {
        var bad = new List<string>();
        foreach (var path in paths)
        {
            try
            {
                using var codec = SkiaSharp.SKCodec.Create(path);
                if (codec is null || codec.Info.Width <= 0 || codec.Info.Height <= 0)
                    bad.Add(path);
            }
            catch (Exception)
            {
                bad.Add(path);
            }
            if (bad.Count >= max)
                break;
        }
        return bad;
    }

    private static List<string> ImagesIn(string directory, SearchOption option) =>
        System.IO.Directory.EnumerateFiles(directory, "*", new EnumerationOptions
            {
                RecurseSubdirectories = option == SearchOption.AllDirectories,
                IgnoreInaccessible = true,
                AttributesToSkip = FileAttributes.Hidden | FileAttributes.System,
            })
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// The first <paramref name="max"/> images taken in turn from each class, so that a quick look at a few rows
    /// still sees every class (the first N of a sorted listing would all come from the first subfolder).
    /// </summary>
    private static List<(string, int)> TakeEvenly(List<List<(string, int)>> perClass, int max)
    {
        var taken = new List<(string, int)>(max);
        for (int i = 0; taken.Count < max; i++)
        {
            bool any = false;
            foreach (var files in perClass)
            {
                if (i < files.Count && taken.Count < max)
                {
                    taken.Add(files[i]);
                    any = true;
                }
            }
            if (!any)
                break;
        }
        // Keep the listing order (class by class) so that assignments.csv reads like the folder.
        var order = perClass.SelectMany(f => f).Select((row, index) => (row, index)).ToDictionary(p => p.row, p => p.index);
        return taken.OrderBy(r => order[r]).ToList();
    }
}

/// <summary>How a folder is read beyond its images' size: the user's backbone, unreadable files, a shard.</summary>
public sealed record FolderOptions
{
    /// <summary>--backbone, read from its graph; needed on <see cref="FeatureRoute.Backbone"/>.</summary>
    public BackboneChoice? Backbone { get; init; }

    /// <summary>--skip-unreadable: leave out files that do not decode (listed in the notes) instead of stopping.</summary>
    public bool SkipUnreadable { get; init; }

    /// <summary>--shard I/N: only the images whose path falls in shard I of N (<see cref="Shards.Of"/>).</summary>
    public (int Index, int Count)? Shard { get; init; }
}
