using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Samples.Input;
using Microsoft.ML.DeepClustering.Samples.Progress;
using Microsoft.ML.DeepClustering.Samples.Report;
using Microsoft.ML.Transforms.Image;
using Spectre.Console;

namespace Microsoft.ML.DeepClustering.Samples;

/// <summary>
/// One run of the app: read the input, train a model (or load one with --score), write the report, print a summary.
/// Returns the exit code; bad input surfaces as <see cref="UserInputException"/>, which <see cref="Program"/> prints.
/// </summary>
public sealed class ClusteringRun
{
    private readonly SampleSettings _settings;
    private readonly IAnsiConsole _console;
    private readonly CancellationToken _cancellation;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<(string Stage, TimeSpan Time)> _timings = new();
    private readonly MLContext _ml;
    private FeatureCacheSummary? _featureCache;

    private ClusteringRun(SampleSettings settings, IAnsiConsole console, CancellationToken cancellation)
    {
        _settings = settings;
        _console = console;
        _cancellation = cancellation;
        _ml = new MLContext(settings.Seed);
    }

    /// <summary>What the last run of <see cref="Execute"/> wrote (null if it wrote nothing); handy for tests.</summary>
    public ReportResult? Result { get; private set; }

    public static int Execute(SampleSettings settings, IAnsiConsole console, CancellationToken cancellation = default) =>
        Execute(settings, console, cancellation, out _);

    public static int Execute(SampleSettings settings, IAnsiConsole console, CancellationToken cancellation, out ReportResult? result)
    {
        var run = new ClusteringRun(settings, console, cancellation);
        int code = run.Run();
        result = run.Result;
        return code;
    }

    private int Run()
    {
        var input = Measure("read input", LoadInput);
        // Before any long work: an output path that cannot be a folder should fail now, not after an hour of training.
        try
        {
            Directory.CreateDirectory(_settings.OutputDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UserInputException($"The output folder '{Path.GetFullPath(_settings.OutputDirectory)}' cannot be created: {e.Message}", e);
        }
        _console.MarkupLineInterpolated($"[bold]Input:[/] {input.Description}");
        foreach (var note in input.Notes)
            _console.MarkupLineInterpolated($"[yellow]Note:[/] {note}");
        if (input.FeatureChoice is { } choice)
            _console.MarkupLineInterpolated($"[bold]Features:[/] {choice.Describe()}");
        foreach (var line in input.Backbone?.Describe() ?? [])
            _console.MarkupLineInterpolated($"[bold]Backbone:[/] {line}");
        return _settings.ScoreModelPath is null ? Train(input) : Score(input, _settings.ScoreModelPath);
    }

    /// <summary>When training chose K: every candidate's score, the pick marked, and what the pick is.</summary>
    private void PrintClusterCountCandidates(DeepClusterTrainingHistory history)
    {
        if (history.ClusterCountCandidates.Count == 0 || history.ClusterCountCriterion is not ClusterCountCriterion criterion)
            return;
        var table = new Table().AddColumns("K", Report.Pictures.ClusterCountPicture.Name(criterion), "inertia", "cluster sizes", "");
        foreach (var c in history.ClusterCountCandidates)
            table.AddRow(c.NumberOfClusters.ToString(), c.Score.ToString("F4", CultureInfo.InvariantCulture), c.Inertia.ToString("G5", CultureInfo.InvariantCulture),
                Markup.Escape(string.Join(" ", c.ClusterSizes)), c.Chosen ? "[bold]← chosen[/]" : "");
        _console.Write(table);
        var chosen = history.ClusterCountCandidates.Single(c => c.Chosen);
        _console.MarkupLineInterpolated($"[bold]K = {chosen.NumberOfClusters}[/], by the {Report.Pictures.ClusterCountPicture.Name(criterion)} of the embedding.");
        string runnerUp = ReportWriter.RunnerUp(history.ClusterCountCandidates, criterion) is { } second
            ? $" The report shows the clusters at the runner-up, K = {second.NumberOfClusters}, beside the pick's."
            : "";
        _console.MarkupLineInterpolated($"A suggestion from the data: check the montage; --k fixes K.{runnerUp}");
    }

    private SampleInput LoadInput()
    {
        var s = _settings;
        if (s.ImagesDirectory is not null)
        {
            var (width, height) = s.Size ?? (ImageFolderInput.DefaultSide, ImageFolderInput.DefaultSide);
            // --score: the saved model brings its own features, so there is nothing to choose.
            Func<IReadOnlyList<string>, FeatureChoice>? choose = s.ScoreModelPath is not null ? null
                : s.BackbonePath is not null ? _ => new FeatureChoice(FeatureRoute.Backbone, "as --backbone asks")
                : s.Features is { } route ? _ => new FeatureChoice(route, "as --features asks")
                : files => FeatureChoice.Choose(files, pixelOptionsGiven: s.Size is not null || s.Color);
            var folder = new FolderOptions
            {
                Backbone = s.BackbonePath is null ? null : BackboneChoice.Read(s.BackbonePath, s.BackboneOutput, s.BackboneNormalization),
                SkipUnreadable = s.SkipUnreadable,
                Shard = s.Shard,
            };
            return ImageFolderInput.Load(_ml, s.ImagesDirectory, width, height, s.Color, s.MaxRows, choose, folder);
        }
        if (s.IdxImagesPath is not null)
            return IdxInput.Load(_ml, s.IdxImagesPath, s.IdxLabelsPath, s.MaxRows);
        return DefaultMnistInput.Load(_ml, s.MaxRows);
    }

    /// <summary>--preset, else the route's own: image-features for ResNet18's features, recommended for pixels.</summary>
    private static string PresetFor(SampleSettings settings, SampleInput input) =>
        settings.Preset ?? (input.HasPhotoFeatures ? "image-features" : "recommended");

    private int Train(SampleInput input)
    {
        string preset = PresetFor(_settings, input);
        var options = BuildOptions(input, preset);
        string network = NetworkDescription.Layers(options, input.Shape.Size);
        _console.MarkupLineInterpolated(
            $"[bold]Training:[/] preset {preset}, K = {(options.NumberOfClusters > 0 ? options.NumberOfClusters.ToString() : $"chosen from {options.MinimumNumberOfClusters}–{options.MaximumNumberOfClusters} by {options.ClusterCountCriterion}")}, network {network}, {options.PretrainEpochs} epochs, {options.KMeansInitializations} k-means restarts, at most {options.MaxIterations:N0} self-training steps, seed {options.Seed}");
        if (options.CheckpointPath is { } checkpoint)
        {
            if (File.Exists(checkpoint))
                _console.MarkupLineInterpolated($"[bold]Checkpoint:[/] pretraining resumes from {checkpoint}");
            else
                _console.MarkupLineInterpolated($"[bold]Checkpoint:[/] pretraining keeps its progress in {checkpoint}");
        }

        // A folder's images are decoded once: the cache keeps the extracted Features for training and scoring.
        ITransformer? preprocessing;
        IDataView features;
        if (input.HasPhotoFeatures)
        {
            (preprocessing, features) = Measure("featurize", () => Featurize(input));
        }
        else
        {
            preprocessing = input.Preprocessing?.Fit(input.Data);
            features = preprocessing is null ? input.Data : _ml.Data.Cache(preprocessing.Transform(input.Data));
        }

        var recorder = new TrainingRecorder();
        options.Progress = recorder;
        string reading = input.HasPhotoFeatures ? $"Reading {input.Count:N0} feature vectors"
            : input.Kind == InputKind.ImageFolder ? $"Decoding {input.Count:N0} images" : $"Reading {input.Count:N0} rows";
        DeepClusterTransformer? model = null;
        try
        {
            var fitClock = Stopwatch.StartNew();
            model = TrainingDisplay.For(_console).Run(options, reading, sink =>
            {
                recorder.Next = sink;
                return _ml.Transforms.DeepCluster(options).Fit(features, _cancellation);
            });
            var history = model.History;
            _timings.Add(("pretraining", history.PretrainingTime));
            _timings.Add(("seeding", history.SeedingTime));
            _timings.Add(("self-training", history.SelfTrainingTime));
            _timings.Add(("fit", fitClock.Elapsed));

            ITransformer toSave = WholeModel(preprocessing, model);
            var request = new ReportRequest
            {
                OutputDirectory = _settings.OutputDirectory,
                MLContext = _ml,
                Input = input,
                Run = RunInfo(preset, model.Options, cancelledDuring: null),   // K as chosen, when training chose it
                Scored = model.Transform(features),
                Model = model,
                ModelToSave = toSave,
                ModelInputSchema = input.Data.Schema,
                ExtraModelPath = _settings.ModelPath,
                Curves = TrainingCurves.From(history, options),
            };
            PrintClusterCountCandidates(model.History);
            _console.WriteLine("Writing the report...");
            Result = ReportWriter.Write(request, _cancellation);
            PrintSummary(Result, model.History);
            return ExitCodes.Success;
        }
        catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
        {
            return WriteCancelled(input, preset, options, recorder, model, preprocessing);
        }
        catch (Exception e) when (ExplainImageFailure(input, e) is { } explained)
        {
            throw explained;
        }
        finally
        {
            model?.Dispose();
        }
    }

    /// <summary>
    /// After Ctrl+C: the curves recorded so far (or the History, if Fit had finished), a metrics.json that says
    /// "cancelled", and a report.html that shows them; the trained model too when there is one.
    /// </summary>
    private int WriteCancelled(SampleInput input, string preset, DeepClusterOptions options, TrainingRecorder recorder, DeepClusterTransformer? model, ITransformer? preprocessing)
    {
        string during = model is null ? recorder.Describe() : "writing the report";
        _console.MarkupLineInterpolated($"[yellow]Stopped (Ctrl+C) during {during}.[/] Writing what was done so far...");
        var request = new ReportRequest
        {
            OutputDirectory = _settings.OutputDirectory,
            MLContext = _ml,
            Input = input,
            Run = RunInfo(preset, options, during),
            Model = model,
            ModelToSave = model is null ? null : WholeModel(preprocessing, model),
            ModelInputSchema = input.Data.Schema,
            ExtraModelPath = model is null ? null : _settings.ModelPath,
            Curves = model is null ? TrainingCurves.From(recorder, options) : TrainingCurves.From(model.History, options),
        };
        Result = ReportWriter.Write(request, CancellationToken.None);
        _console.MarkupLineInterpolated($"Partial report: [link]{Result.HtmlPath}[/]");
        if (model is null && options.CheckpointPath is { } checkpoint && File.Exists(checkpoint))
            _console.MarkupLineInterpolated($"Pretraining's progress is kept in {checkpoint}: run the same command again to resume it.");
        return ExitCodes.Cancelled;
    }

    private int Score(SampleInput input, string modelPath)
    {
        if (_settings.ModelPath is not null)
            throw new UserInputException("--model saves a trained model, but --score does not train: use one or the other.");
        if (!File.Exists(modelPath))
            throw new UserInputException($"The model file '{Path.GetFullPath(modelPath)}' does not exist.");

        ITransformer loaded;
        DataViewSchema modelInput;
        ShrunkPhotos? shrunk = null;
        try
        {
            // Scores in batches as the fitted model does; mlContext.Model.Load would call ONNX Runtime once per row.
            loaded = _ml.Model.LoadDeepClusterModel(modelPath, out modelInput);
        }
        catch (InvalidDataException e)
        {
            throw new UserInputException(FirstLine(e.Message), e);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new UserInputException($"The model file '{Path.GetFullPath(modelPath)}' cannot be loaded as an ML.NET model: {FirstLine(e.Message)}", e);
        }

        try
        {
            var data = PrepareForModel(input, modelInput, modelPath);
            var scored = loaded.Transform(data);
            if (scored.Schema.GetColumnOrNull(SampleColumns.SoftAssignment) is null || scored.Schema.GetColumnOrNull(SampleColumns.Embedding) is null)
                throw new UserInputException($"The model '{modelPath}' is not a deep clustering model (it adds no SoftAssignment and Embedding columns).");
            var shape = ShapeOf(scored.Schema, input.Shape);
            ScoredRows? rows = null;
            if (modelInput.GetColumnOrNull(SampleColumns.ImagePath) is not null && scored.Schema.GetColumnOrNull(SampleColumns.Image)?.Type is not ImageDataViewType)
            {
                // A model that reads image files but keeps no Image column made its Features with a network
                // (FeaturizeImages drops its image columns): they are not pixels, and the report draws the files.
                if (_settings.Size is not null || _settings.Color)
                    _console.MarkupLine("[yellow]Note:[/] the model computes its features from the images itself; --size and --color do not apply.");
                input = input with
                {
                    FeatureChoice = new FeatureChoice(MadeByResNet18(loaded, modelInput) ? FeatureRoute.ResNet18 : FeatureRoute.Backbone, "as the saved model was trained"),
                    Shape = new ImageShape(1, 1, shape.Size),
                    Description = ImageFolderInput.Describe(input.Count, input.Source ?? "", "featurized by the model", input.Labels),
                };
                // The network runs here, on the photos shrunk as in training: show it, as training does.
                shrunk = ShrinkPhotos(input.FilePaths!);
                if (ScoreResNet18InBatches(loaded, modelInput, input, shrunk) is { } batched)
                {
                    (scored, rows) = batched;
                }
                else
                {
                    // One image at a time, through the loaded model itself.
                    scored = loaded.Transform(WithShrunkPhotos(input, shrunk));
                    rows = TrainingDisplay.For(_console).RunCounted("Featurizing and assigning", input.Count, "images",
                        progress => ScoredRows.Read(scored, input.Labels is not null, _cancellation, progress));
                }
            }
            else if (modelInput.GetColumnOrNull(SampleColumns.ImagePath) is not null)
            {
                // The saved pipeline resizes (and converts) images itself, to what it was trained on.
                if (shape != input.Shape)
                    _console.MarkupLineInterpolated($"[yellow]Note:[/] the model resizes images itself, to {shape}; --size and --color do not apply.");
                input = input with
                {
                    Shape = shape,
                    Description = ImageFolderInput.Describe(input.Count, input.Source ?? "", $"resized by the model to {shape}", input.Labels),
                };
            }

            _console.MarkupLineInterpolated($"[bold]Assigning[/] {input.Count:N0} images with {modelPath} (no training)...");
            var request = new ReportRequest
            {
                OutputDirectory = _settings.OutputDirectory,
                MLContext = _ml,
                Input = input,
                Run = new RunInfo { Mode = "score", Seed = _settings.Seed, ScoredWith = Path.GetFullPath(modelPath), Timings = _timings, Clock = _clock },
                Scored = scored,
                Rows = rows,
            };
            Result = ReportWriter.Write(request, _cancellation);
            PrintSummary(Result, history: null);
            return ExitCodes.Success;
        }
        catch (Exception e) when (e is not OperationCanceledException && ExplainImageFailure(input, e) is { } explained)
        {
            throw explained;
        }
        catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
        {
            _console.MarkupLine("[yellow]Stopped (Ctrl+C) while assigning.[/]");
            Result = ReportWriter.Write(new ReportRequest
            {
                OutputDirectory = _settings.OutputDirectory,
                MLContext = _ml,
                Input = input,
                Run = new RunInfo { Mode = "score", Seed = _settings.Seed, ScoredWith = Path.GetFullPath(modelPath), CancelledDuring = "assigning the images", Timings = _timings, Clock = _clock },
            });
            return ExitCodes.Cancelled;
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
            shrunk?.Dispose();
        }
    }

    /// <summary>
    /// --score with a model that featurizes with ResNet18 (L2-normalised, as FeaturizeImages does by default): the
    /// features by <see cref="BatchedImageFeaturizer"/>, then the rest of the loaded model (the clustering) on them.
    /// Null, and the caller runs the loaded model whole, when the model is another kind, when ResNet18's graphs are not
    /// beside the app, or when the first image's batched features are not the loaded model's (another ResNet18 build).
    /// </summary>
    private (IDataView Scored, ScoredRows Rows)? ScoreResNet18InBatches(ITransformer loaded, DataViewSchema modelInput, SampleInput input, ShrunkPhotos shrunk)
    {
        if (!MadeByResNet18(loaded, modelInput))
            return null;
        var steps = Steps(loaded).ToList();
        var schema = modelInput;
        int featurizerEnd = -1;
        bool normalised = false;
        for (int i = 0; i < steps.Count && featurizerEnd < 0; i++)
        {
            schema = steps[i].GetOutputSchema(schema);
            normalised |= steps[i] is Microsoft.ML.Transforms.LpNormNormalizingTransformer;
            // FeaturizeImages ends when its own columns are dropped and Features remains.
            if (schema.GetColumnOrNull(SampleColumns.Features) is not null && !schema.Any(c => c.Name.StartsWith("DeepClustering", StringComparison.Ordinal)))
                featurizerEnd = i;
        }
        if (featurizerEnd < 0 || !normalised)
            return null;

        BatchedImageFeaturizer batched;
        try
        {
            batched = new BatchedImageFeaturizer(_ml, new ImageFeaturizerOptions { ImagePathColumnName = SampleColumns.ImagePath, OutputColumnName = SampleColumns.Features });
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        using (batched)
        {
            var first = ImageFolderInput.DataView(_ml, new[] { shrunk.Paths[0] }, labels: null);
            var expected = new TransformerChain<ITransformer>(steps.Take(featurizerEnd + 1).ToArray()).Transform(first)
                .GetColumn<float[]>(SampleColumns.Features).Single();
            var actual = batched.Featurize(new[] { shrunk.Paths[0] }).Single();
            if (expected.Length != actual.Length || expected.Zip(actual).Any(p => Math.Abs(p.First - p.Second) > 1e-4f))
            {
                _console.MarkupLine("[yellow]Note:[/] the model's ResNet18 is not the one beside the app: featurizing one image at a time.");
                return null;
            }
            var features = TrainingDisplay.For(_console).RunCounted("Featurizing", input.Count, "images",
                progress => batched.Featurize(shrunk.Paths, progress, _cancellation));
            var labels = input.Labels is null ? null : input.Data.GetColumn<float>(SampleColumns.Label).ToList();
            var scored = new TransformerChain<ITransformer>(steps.Skip(featurizerEnd + 1).ToArray())
                .Transform(FeatureRows.DataView(_ml, input.FilePaths!, labels, features));
            var rows = TrainingDisplay.For(_console).RunCounted("Assigning", input.Count, "images",
                progress => ScoredRows.Read(scored, input.Labels is not null, _cancellation, progress));
            return (scored, rows);
        }
    }

    /// <summary>A model's transformers in order, nested chains flattened.</summary>
    private static IEnumerable<ITransformer> Steps(ITransformer transformer) => transformer is IEnumerable<ITransformer> chain
        ? chain.SelectMany(Steps)
        : new[] { transformer };

    /// <summary>
    /// Whether a loaded photo model's features came from ResNet18 rather than a backbone of the user's: FeaturizeImages
    /// names ResNet18's output column (dropped before the end) DeepClusteringRawFeatures, and a backbone's by its graph.
    /// </summary>
    private static bool MadeByResNet18(ITransformer model, DataViewSchema input)
    {
        var schema = input;
        foreach (var step in Steps(model))
        {
            schema = step.GetOutputSchema(schema);
            if (schema.GetColumnOrNull("DeepClusteringRawFeatures") is not null)
                return true;
        }
        return false;
    }

    /// <summary>
    /// When ML.NET fails to decode an image it says neither which one nor why in words a user can act on (an
    /// ArgumentException "Invalid input stream contents" three exceptions deep). Find the culprits and say so.
    /// Returns null when the failure was not about unreadable images.
    /// </summary>
    private static UserInputException? ExplainImageFailure(SampleInput input, Exception e)
    {
        if (e is OperationCanceledException or UserInputException || input.FilePaths is null)
            return null;
        var bad = ImageFolderInput.FindUnreadable(input.FilePaths);
        if (bad.Count == 0)
            return null;
        string more = bad.Count > 1 ? $" (and {bad.Count - 1}{(bad.Count >= 5 ? "+" : "")} more)" : "";
        return new UserInputException($"The image '{bad[0]}'{more} cannot be decoded: not an image, or a damaged one. Remove or replace it.", e);
    }

    /// <summary>
    /// A model saved from an image folder starts with LoadImages and reads ImagePath; one saved from an IDX file
    /// reads Features. Images can feed the latter (decoded here at --size), an IDX file cannot feed the former.
    /// </summary>
    private IDataView PrepareForModel(SampleInput input, DataViewSchema modelInput, string modelPath)
    {
        bool readsImages = modelInput.GetColumnOrNull(SampleColumns.ImagePath) is not null;
        if (readsImages)
        {
            if (input.Kind != InputKind.ImageFolder)
                throw new UserInputException($"The model '{modelPath}' was trained on an image folder and reads image files: give it --images DIR.");
            return input.Data;
        }

        var data = input.Preprocessing is null ? input.Data : input.Preprocessing.Fit(input.Data).Transform(input.Data);
        if (modelInput.GetColumnOrNull(SampleColumns.Features) is { Type: VectorDataViewType { Size: > 0 } expected }
            && data.Schema[SampleColumns.Features].Type is VectorDataViewType actual && actual.Size != expected.Size)
        {
            throw new UserInputException(
                $"The model '{modelPath}' reads {expected.Size} values per image ({ImageShape.Guess(expected.Size)}?), but the input gives {actual.Size} ({input.Shape}). " +
                "Give the same --size (and --color) as when it was trained.");
        }
        return data;
    }

    /// <summary>The image size a loaded model works at: its ResizeImages output, when it has one.</summary>
    private static ImageShape ShapeOf(DataViewSchema scored, ImageShape fallback)
    {
        int size = scored[SampleColumns.Features].Type is VectorDataViewType v ? v.Size : fallback.Size;
        if (scored.GetColumnOrNull(SampleColumns.Image)?.Type is ImageDataViewType image && image.Width * image.Height > 0
            && size % (image.Width * image.Height) == 0)
            return new ImageShape(size / (image.Width * image.Height), image.Height, image.Width);
        return size == fallback.Size ? fallback : ImageShape.Guess(size);
    }

    /// <summary>
    /// What model.zip holds: for a folder, the image transforms followed by the clustering (flattened into one
    /// chain), so that the saved model takes image paths like the training data did.
    /// </summary>
    private static ITransformer WholeModel(ITransformer? preprocessing, DeepClusterTransformer model) => preprocessing switch
    {
        null => model,
        IEnumerable<ITransformer> steps => new TransformerChain<ITransformer>(steps.Append(model).ToArray()),
        _ => new TransformerChain<ITransformer>(preprocessing, model),
    };

    /// <summary>
    /// The network over every image whose features the feature cache (<see cref="FeatureCacheFor"/>) does not hold,
    /// in batches while the next images decode (<see cref="BatchedImageFeaturizer"/>), with a progress line, since
    /// one image takes tens of milliseconds; each result is added to the cache as it
    /// comes, so that a stopped run keeps what it did. Returns the fitted featurizer (for the saved model) and every
    /// row's features in memory, which training, the report and the model's scoring all read. Unreadable files were
    /// named (or left out) when the folder was read.
    /// </summary>
    private (ITransformer Featurizer, IDataView Features) Featurize(SampleInput input)
    {
        var files = input.FilePaths!;
        var cache = FeatureCacheFor(input);
        var features = new float[files.Count][];
        var keys = new string[files.Count];
        if (cache is not null)
        {
            TrainingDisplay.For(_console).RunCounted("Looking up", files.Count, "images in the feature cache", progress =>
            {
                for (int i = 0; i < files.Count; i++)
                {
                    _cancellation.ThrowIfCancellationRequested();
                    keys[i] = ImageFeatureCache.ContentHash(files[i]);
                    // An entry of another length would be another network's: recomputed, as a corrupt one is.
                    features[i] = cache.TryGet(keys[i]) is { } hit && hit.Length == input.Shape.Size ? hit : null!;
                    progress.Report(i + 1);
                }
                return 0;
            });
        }
        var missing = Enumerable.Range(0, files.Count).Where(i => features[i] is null).ToList();
        // The fitted featurizer is what model.zip keeps; its Fit reads no image but the first.
        var featurizer = input.Preprocessing!.Fit(_ml.Data.TakeRows(input.Data, 1));
        if (missing.Count > 0)
        {
            using var shrunk = ShrinkPhotos(missing.Select(i => files[i]).ToList());
            using var batched = new BatchedImageFeaturizer(_ml, input.FeaturizerOptions!);
            TrainingDisplay.For(_console).RunCounted("Featurizing", missing.Count, "images", progress =>
                batched.Featurize(shrunk.Paths, progress, (j, values) =>
                {
                    // Kept as each batch finishes, so that a stopped run keeps what it did.
                    int row = missing[j];
                    features[row] = values;
                    if (cache is not null)
                    {
                        try
                        {
                            cache.Put(keys[row], values);
                        }
                        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                        {
                            // A full disk or a read-only cache costs the next run its reuse, not this run its result.
                            _console.MarkupLineInterpolated($"[yellow]Note:[/] the feature cache {cache.Folder} cannot be written ({FirstLine(e.Message)}); this run keeps no features. --cache DIR puts it elsewhere.");
                            cache = null;
                        }
                    }
                }, _cancellation));
        }
        _featureCache = new FeatureCacheSummary(cache?.Folder, files.Count - missing.Count, missing.Count);
        if (cache is not null)
            _console.MarkupLineInterpolated($"[bold]Feature cache:[/] {files.Count - missing.Count:N0} of {files.Count:N0} images' features reused, {missing.Count:N0} computed and kept ({cache.Folder}; --no-cache to bypass).");
        return (featurizer, FeatureRows.DataView(_ml, files, input.Labels is null ? null : input.Data.GetColumn<float>(SampleColumns.Label).ToList(), features));
    }

    /// <summary>
    /// The feature cache for this run's featurizer (null with --no-cache): under --cache, else the user's cache folder,
    /// for a fingerprint of everything that shapes a feature: the network's file checksums, its output, input size
    /// and normalisation, L2 normalising, the large-photo shrinking, and the library's version.
    /// </summary>
    private ImageFeatureCache? FeatureCacheFor(SampleInput input)
    {
        if (_settings.NoCache)
            return null;
        string network;
        if (input.Backbone is { } b)
        {
            var backbone = b.ToBackbone();
            network = string.Create(CultureInfo.InvariantCulture,
                $"backbone sha256 {b.Inspection.Sha256}; input {backbone.InputName} {backbone.ImageWidth}x{backbone.ImageHeight} channels-last {backbone.ChannelsLast}; output {backbone.OutputName}; mean {string.Join(",", backbone.Mean)} std {string.Join(",", backbone.StandardDeviation)}");
        }
        else
        {
            // ResNet18's two graphs (preprocessing and network), as the package copies them beside the app.
            string models = Path.Combine(AppContext.BaseDirectory, "DnnImageModels");
            var graphs = new[] { Path.Combine(models, "ResNetPrepOnnx", "ResNetPreprocess.onnx"), Path.Combine(models, "ResNet18Onnx", "ResNet18.onnx") };
            network = "resnet18 224x224 sha256 " + string.Join(",", graphs.Select(g => File.Exists(g) ? ImageFeatureCache.ContentHash(g) : "missing"));
        }
        string version = typeof(ImageFeatureCache).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion.Split('+')[0] ?? "unknown";
        string fingerprint = $"{network}; L2-normalised; shrink above {ShrunkPhotos.CopyAbove} to {ShrunkPhotos.ShorterSide}; MLNet.DeepClustering.ImageFeatures {version}";
        return new ImageFeatureCache(_settings.CacheDirectory ?? ImageFeatureCache.DefaultFolder, fingerprint);
    }

    /// <summary>Large photos shrunk before the network (<see cref="ShrunkPhotos"/>), with a progress line: it opens every file.</summary>
    private ShrunkPhotos ShrinkPhotos(IReadOnlyList<string> files)
    {
        var shrunk = TrainingDisplay.For(_console).RunCounted("Preparing", files.Count, "images",
            progress => ShrunkPhotos.Make(files, _ml.TempFilePath, progress, _cancellation));
        if (shrunk.Copies > 0)
            _console.MarkupLineInterpolated($"{shrunk.Copies:N0} of {files.Count:N0} images are larger than {ShrunkPhotos.CopyAbove} px (shorter side): {(_settings.BackbonePath is null ? "ResNet18" : "the backbone")} reads them shrunk to {ShrunkPhotos.ShorterSide} px.");
        return shrunk;
    }

    /// <summary>The input's rows, each large photo's path replaced by its shrunk copy's.</summary>
    private IDataView WithShrunkPhotos(SampleInput input, ShrunkPhotos shrunk) => shrunk.Copies == 0
        ? input.Data
        : ImageFolderInput.DataView(_ml, shrunk.Paths, input.Labels is null ? null : input.Data.GetColumn<float>(SampleColumns.Label).Select(l => (int)l).ToList());

    private DeepClusterOptions BuildOptions(SampleInput input, string preset)
    {
        var options = DeepClusterPresets.Get(preset);
        options.FeatureColumnName = SampleColumns.Features;
        // With labels, K defaults to the number of classes: the metrics then compare like with like.
        options.NumberOfClusters = _settings.NumberOfClusters ?? (input.Labels is { Count: >= 2 } labels ? labels.Count : options.NumberOfClusters);
        if (_settings.ClusterCountRange is var (minimum, maximum))
        {
            options.NumberOfClusters = 0;
            options.MinimumNumberOfClusters = minimum;
            options.MaximumNumberOfClusters = maximum;
            if (maximum > input.Count)
                throw new UserInputException($"--k {minimum}-{maximum} reaches {maximum} clusters, more than the {input.Count} images to cluster: lower the range or give more images.");
        }
        if (_settings.PretrainEpochs is int epochs)
            options.PretrainEpochs = epochs;
        if (_settings.MaxIterations is int steps)
            options.MaxIterations = steps;
        options.Seed = _settings.Seed;
        options.NumberOfThreads = _settings.Threads;
        options.CheckpointPath = _settings.CheckpointPath;
        _settings.ConfigureOptions?.Invoke(options);
        if (options.NumberOfClusters > input.Count)
            throw new UserInputException($"K = {options.NumberOfClusters} clusters is more than the {input.Count} images to cluster: lower --k or give more images.");
        return options;
    }

    private RunInfo RunInfo(string preset, DeepClusterOptions options, string? cancelledDuring) => new()
    {
        Mode = "train",
        FeatureCache = _featureCache,
        Preset = preset,
        Seed = _settings.Seed,
        Options = options,
        CancelledDuring = cancelledDuring,
        Timings = _timings,
        Clock = _clock,
    };

    private void PrintSummary(ReportResult result, DeepClusterTrainingHistory? history)
    {
        _console.WriteLine();
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        if (result.Quality is { } q)
        {
            grid.AddRow(new Markup("[bold]ACC[/]"), new Text(q.Accuracy.ToString("0.000", CultureInfo.InvariantCulture)));
            grid.AddRow(new Markup("[bold]NMI[/]"), new Text(q.NormalizedMutualInformation.ToString("0.000", CultureInfo.InvariantCulture)));
            grid.AddRow(new Markup("[bold]ARI[/]"), new Text(q.AdjustedRandIndex.ToString("0.000", CultureInfo.InvariantCulture)));
        }
        else
        {
            grid.AddRow(new Markup("[bold]Metrics[/]"), new Text("no labels: ACC/NMI/ARI need one subfolder per class or an IDX label file"));
        }
        if (result.DaviesBouldinIndex is double dbi)
            grid.AddRow(new Markup("[bold]DBI[/]"), new Text(dbi.ToString("0.000", CultureInfo.InvariantCulture) + " (embedding; lower is better)"));
        if (result.ClusterSizes is { } sizes)
            grid.AddRow(new Markup("[bold]Clusters[/]"), new Text($"{sizes.Length} of sizes {string.Join(", ", sizes)}"));
        if (history is not null)
        {
            string stop = history.StopReason switch
            {
                SelfTrainingStopReason.Converged => $"converged after {history.SelfTrainingSteps:N0} steps",
                SelfTrainingStopReason.MaxIterations => $"stopped at the cap of {history.SelfTrainingSteps:N0} steps",
                SelfTrainingStopReason.Skipped => "skipped",
                var other => $"{other} after {history.SelfTrainingSteps:N0} steps",
            };
            grid.AddRow(new Markup("[bold]Self-training[/]"), new Text(stop));
            if (DescribeVerdict(history) is string verdict)
                grid.AddRow(new Markup("[bold]Safeguard[/]"), new Text(verdict));
        }
        grid.AddRow(new Markup("[bold]Time[/]"), new Text(FormatTime(_clock.Elapsed)));
        grid.AddRow(new Markup("[bold]Report[/]"), new Markup($"[link]{Markup.Escape(result.HtmlPath)}[/]"));
        _console.Write(grid);
    }

    private T Measure<T>(string stage, Func<T> work)
    {
        var clock = Stopwatch.StartNew();
        var result = work();
        _timings.Add((stage, clock.Elapsed));
        return result;
    }

    /// <summary>The library's judgement of self-training against the seeding (History.SelfTrainingVerdict), in a sentence; null without self-training.</summary>
    internal static string? DescribeVerdict(DeepClusterTrainingHistory history) => history.SelfTrainingVerdict is not { } v ? null :
        string.Create(CultureInfo.InvariantCulture,
            $"silhouette in the pretrained embedding {v.SeedingSilhouette:0.000} after seeding, {v.FinalSilhouette:0.000} after self-training: ") +
        (v.KeptSeeding ? "clearly worse, so the model is the seeding's"
            : v.FinalIsWorse ? "clearly worse, but the self-trained model was kept (SelfTrainingSafeguard = Report)"
            : "the self-trained model is kept");

    internal static string FormatTime(TimeSpan time) => time.TotalSeconds < 60
        ? time.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s"
        : $"{(int)time.TotalMinutes} min {time.Seconds:00} s";

    internal static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
