using System.CommandLine;
using System.CommandLine.Parsing;
using Microsoft.ML.DeepClustering.Samples.Input;
using Spectre.Console;

namespace Microsoft.ML.DeepClustering.Samples;

/// <summary>
/// The command line of the deepcluster tool: what each option means, and the exit codes (<see cref="ExitCodes"/>).
/// <see cref="Run"/> is the whole app minus the process (Ctrl+C, the real console), so tests run it in-process.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        using var cancellation = new CancellationTokenSource();
        // First Ctrl+C: stop training within a batch and still write what was done (e.Cancel keeps the process
        // alive for that). A second Ctrl+C ends the process at once, as usual.
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cancellation.IsCancellationRequested)
                return;
            e.Cancel = true;
            cancellation.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return Run(args, CreateConsole(), Console.Error, cancellation.Token);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>--k: a number (at least 2), "auto" (2–20), or "MIN-MAX" (2 ≤ MIN ≤ MAX); null when not given.</summary>
    public static (int? Fixed, (int, int)? Range, string? Error) ParseK(string? text)
    {
        if (text is null)
            return (null, null, null);
        text = text.Trim();
        if (text.Equals("auto", StringComparison.OrdinalIgnoreCase))
            return (null, (2, 20), null);
        var parts = text.Split('-');
        if (parts.Length == 1 && int.TryParse(parts[0], out int k))
            return k >= 2 ? (k, null, null) : (null, null, $"--k must be at least 2; found {k}.");
        if (parts.Length == 2 && int.TryParse(parts[0], out int min) && int.TryParse(parts[1], out int max))
            return min >= 2 && max >= min ? (null, (min, max), null) : (null, null, $"--k {text}: a range needs 2 ≤ MIN ≤ MAX.");
        return (null, null, $"--k takes a number of clusters, 'auto' or a range such as 5-15; found '{text}'.");
    }

    /// <summary>
    /// The terminal as Spectre.Console detects it; when stdout is redirected (CI logs, a file, a pipe), a plain
    /// console: no colour codes, no live redrawing, no wrapping at 80 columns.
    /// </summary>
    private static IAnsiConsole CreateConsole()
    {
        if (!Console.IsOutputRedirected)
            return AnsiConsole.Console;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(Console.Out),
        });
        console.Profile.Width = 240;
        return console;
    }

    /// <summary>Parses <paramref name="args"/>, runs, and returns the exit code; errors go to <paramref name="error"/> as one line.</summary>
    public static int Run(string[] args, IAnsiConsole console, TextWriter error, CancellationToken cancellation = default)
    {
        SampleSettings? settings;
        int parseCode;
        try
        {
            parseCode = Parse(args, console.Profile.Out.Writer, error, out settings);
        }
        catch (Exception e)
        {
            error.WriteLine($"error: {ClusteringRun.FirstLine(e.Message)}");
            return ExitCodes.Error;
        }
        if (settings is null)
            return parseCode; // --help, --version or a parse error: System.CommandLine has printed it.

        try
        {
            return ClusteringRun.Execute(settings, console, cancellation);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // Ctrl+C before training started (e.g. while listing a large folder): nothing to write.
            error.WriteLine("Stopped (Ctrl+C) before training started; nothing was written.");
            return ExitCodes.Cancelled;
        }
        catch (Exception e)
        {
            // Bad input is the common case here: one readable line, no stack trace. The exception type is added
            // only when it is not one of the usual "this input is wrong" kinds, as a hint for a bug report.
            bool expected = e is UserInputException or ArgumentException or InvalidDataException or IOException
                or UnauthorizedAccessException or FormatException;
            var innermost = e;
            while (innermost.InnerException is not null && e is not UserInputException)
                innermost = innermost.InnerException;
            string detail = innermost == e ? "" : $" ({innermost.GetType().Name}: {ClusteringRun.FirstLine(innermost.Message)})";
            error.WriteLine($"error: {ClusteringRun.FirstLine(e.Message)}{(expected ? "" : $" [{e.GetType().Name}]")}{detail}");
            if (Environment.GetEnvironmentVariable("DEEPCLUSTER_SAMPLES_DEBUG") == "1")
                error.WriteLine(e);
            return ExitCodes.Error;
        }
    }

    /// <summary>
    /// Turns the command line into settings. Returns null settings (and the exit code to use) when there is
    /// nothing to run: --help, --version, or an error that System.CommandLine has already reported.
    /// </summary>
    public static int Parse(string[] args, TextWriter output, TextWriter error, out SampleSettings? settings)
    {
        var command = new SamplesCommand();
        SampleSettings? parsed = null;
        command.Root.SetAction(result =>
        {
            parsed = command.Bind(result);
            return ExitCodes.Success;
        });
        var parseResult = command.Root.Parse(args);
        // On a mistake, the error and a pointer to --help; the whole help text would bury the error line.
        if (parseResult.Action is System.CommandLine.Invocation.ParseErrorAction onError)
        {
            onError.ShowHelp = false;
            onError.ShowTypoCorrections = true;
        }
        int code = parseResult.Invoke(new InvocationConfiguration
        {
            Output = output,
            Error = error,
            EnableDefaultExceptionHandler = false,
        });
        settings = parsed;
        if (parseResult.Errors.Count > 0)
            error.WriteLine("Run with --help to see every option.");
        return code;
    }
}

/// <summary>The options, their help text and their checks.</summary>
internal sealed class SamplesCommand
{
    private readonly Option<string?> _images = new("--images")
    {
        HelpName = "DIR",
        Description = "Cluster the images in this folder (png, jpg, jpeg, bmp, gif, webp). With one subfolder per class, " +
                      "the subfolder names are the true labels and the report scores the clusters against them (ACC, NMI, ARI, confusion matrix).",
    };

    private readonly Option<string?> _features = new("--features")
    {
        HelpName = "resnet18|pixels",
        Description = "What to cluster for --images: 'resnet18', 512 features of ResNet18 pretrained on ImageNet (for photos, any size; " +
                      "the image-features preset unless --preset is given), or 'pixels', the images' own pixels at --size (the pixel autoencoder). " +
                      "Default: chosen from a sample of the images, resnet18 when most have colour or they are larger than " +
                      "64 px, pixels for small grayscale images; --size or --color choose pixels. The choice and its reason are printed.",
    };

    private readonly Option<string[]> _idx = new("--idx")
    {
        HelpName = "IMAGES [LABELS]",
        Description = "Cluster an MNIST-format (IDX) image file, raw or .gz; the label file is optional and gives the metrics.",
        Arity = new ArgumentArity(1, 2),
        AllowMultipleArgumentsPerToken = true,
    };

    private readonly Option<string?> _k = new("--k")
    {
        HelpName = "K|auto|MIN-MAX",
        Description = "Number of clusters. Default: the number of classes when the input has labels, else 10. " +
                      "'auto' lets training choose K from 2 to 20, '5-15' from a range of your own: it prints each candidate's score " +
                      "and the report draws them; the pick is a suggestion from the data.",
    };

    private readonly Option<int?> _epochs = new("--epochs")
    {
        HelpName = "N",
        Description = "Autoencoder pretraining epochs (the longest stage). Default: the preset's (" + PresetDefaults(o => o.PretrainEpochs) + ").",
    };

    private readonly Option<string?> _preset = new("--preset")
    {
        HelpName = "NAME",
        Description = PresetHelp(),
    };

    private readonly Option<int> _seed = new("--seed")
    {
        HelpName = "N",
        Description = "Seed of every random choice; the same seed, data and --threads give the same clusters.",
        DefaultValueFactory = _ => 1,
    };

    private readonly Option<int[]> _size = new("--size")
    {
        HelpName = "W H",
        Description = "Resize images to W×H pixels before clustering (--images on the pixel route only; IDX files keep their size). Default: 28 28.",
        Arity = new ArgumentArity(2, 2),
        AllowMultipleArgumentsPerToken = true,
    };

    private readonly Option<bool> _color = new("--color")
    {
        Description = "Keep the red, green and blue channels (--images on the pixel route only); by default images are converted to grayscale.",
    };

    private readonly Option<string> _out = new("--out", "-o")
    {
        HelpName = "DIR",
        Description = "Folder of the report: report.html, the pictures, assignments.csv, metrics.json, model.zip, model.onnx.",
        DefaultValueFactory = _ => "out",
    };

    private readonly Option<string?> _model = new("--model")
    {
        HelpName = "model.zip",
        Description = "Also save the trained ML.NET model to this file (it is always saved as model.zip in the report folder).",
    };

    private readonly Option<string?> _score = new("--score")
    {
        HelpName = "model.zip",
        Description = "Do not train: load this saved model (mlContext.Model.LoadDeepClusterModel, which scores in batches) and assign the given images or IDX file with it, " +
                      "then write the report parts that apply (assignments, montage, embedding map, metrics when labels are known).",
    };

    private readonly Option<int?> _maxRows = new("--max-rows")
    {
        HelpName = "N",
        Description = "Use only the first N images (from an image folder with classes, N taken evenly across them): handy for a quick look.",
    };

    private readonly Option<int?> _threads = new("--threads")
    {
        HelpName = "N",
        Description = "CPU threads for training (DeepClusterOptions.NumberOfThreads). Default: one per core.",
    };

    private readonly Option<int?> _maxIterations = new("--max-iterations")
    {
        HelpName = "N",
        Description = "Cap on DEC self-training steps (mini-batches); 0 stops after autoencoder + seeding. Default: the preset's (" +
                      PresetDefaults(o => o.MaxIterations) + ").",
    };

    private readonly Option<string?> _checkpoint = new("--checkpoint")
    {
        HelpName = "FILE",
        Description = "Keep pretraining's progress in FILE (DeepClusterOptions.CheckpointPath, written at most once a minute and at the end). " +
                      "Run the same command again after Ctrl+C or a crash and pretraining resumes where it was; with a larger --epochs it continues " +
                      "a finished pretraining; with another --k it reuses it. Other data or settings are refused with the difference named.",
    };

    private readonly Option<string?> _backbone = new("--backbone")
    {
        HelpName = "FILE.onnx",
        Description = "Featurize --images with your own ONNX image encoder (a CLIP, SigLIP or DINOv2 image model exported to ONNX) instead of ResNet18. " +
                      "Its input's name, layout and size are read from the graph, and the output with one vector per image is chosen " +
                      "(projected, then pooled, then [CLS]); the choice and its reason are printed. See docs/photos.md.",
    };

    private readonly Option<string?> _backboneOutput = new("--backbone-output")
    {
        HelpName = "NAME",
        Description = "The --backbone graph output to take as features. Default: chosen from the graph.",
    };

    private readonly Option<string?> _backboneNormalization = new("--backbone-normalization")
    {
        HelpName = "imagenet|clip|0..1|-1..1",
        Description = "How --backbone's pixels are normalised, as the model was trained: ImageNet's mean and std (DINOv2, most CNNs), " +
                      "CLIP's, 0..1 as they are, or -1..1 (SigLIP). Default: clip or -1..1 when the file name says CLIP or SigLIP, else imagenet.",
    };

    private readonly Option<bool> _skipUnreadable = new("--skip-unreadable")
    {
        Description = "Leave out files of --images that do not decode (not images, or damaged), counted and listed in the report. " +
                      "Without it the run stops before any work, naming them.",
    };

    private readonly Option<string?> _shard = new("--shard")
    {
        HelpName = "I/N",
        Description = "With --score and --images: assign only shard I of N (0 ≤ I < N) of the folder, by a stable hash of each path " +
                      "relative to the folder, so that N machines share a folder. Only shard 0's assignments.csv has a header: " +
                      "concatenated after shard 0's, the shards' files are the whole folder's.",
    };

    private readonly Option<string?> _cache = new("--cache")
    {
        HelpName = "DIR",
        Description = "Folder of the feature cache: each photo's network features are kept there by its content and the featurizer's settings, " +
                      "so a rerun featurizes only new or changed files. Default: $XDG_CACHE_HOME/deepcluster, else ~/.cache/deepcluster.",
    };

    private readonly Option<bool> _noCache = new("--no-cache")
    {
        Description = "Featurize every photo, reading and writing no feature cache.",
    };

    public SamplesCommand()
    {
        Root = new RootCommand(
            "deepcluster, the command-line tool of MLNet.DeepClustering: deep clustering (DEC) of images. An autoencoder learns a compact embedding, the clusters are " +
            "seeded in it (by default spectral clustering of its nearest-neighbour graph), and self-training sharpens both; of the images' pixels, or, for photos, of ResNet18's features (--features). " +
            "Writes an HTML report (samples of each cluster, decoded centroids, " +
            "embedding map, training curves, confusion matrix and ACC/NMI/ARI when labels are known) and the trained model.\n\n" +
            "Without an input option it clusters the MNIST test set that comes with it (10,000 digits) with the recommended settings.\n\n" +
            "Examples:\n" +
            "  deepcluster                                   MNIST test set, recommended preset, report in out/\n" +
            "  deepcluster --preset quick --max-rows 2000    a first look in a few minutes\n" +
            "  deepcluster --images photos/ --k 5 --out photos-report    colour photos: ResNet18 features\n" +
            "  deepcluster --images photos/ --backbone dinov2.onnx --k auto    your own ONNX image encoder\n" +
            "  deepcluster --images icons/ --features pixels --size 64 64 --color --k 5\n" +
            "  deepcluster --idx train-images.gz train-labels.gz --model digits.zip\n" +
            "  deepcluster --score digits.zip --images new-digits/\n" +
            "  deepcluster --score photos.zip --images photos/ --shard 0/4 --out part0    one of 4 machines\n\n" +
            "Ctrl+C stops training cleanly: the curves so far and a metrics.json marked \"cancelled\" are written (exit code 130). " +
            "Bad input gives one error line and exit code 1.");
        foreach (var option in new Option[] { _images, _features, _idx, _k, _epochs, _preset, _seed, _size, _color, _out, _model, _score, _maxRows, _threads, _maxIterations, _checkpoint, _backbone, _backboneOutput, _backboneNormalization, _skipUnreadable, _shard, _cache, _noCache })
            Root.Options.Add(option);

        _k.Validators.Add(result =>
        {
            if (Program.ParseK(result.GetValueOrDefault<string?>()) is { Error: string error })
                result.AddError(error);
        });
        AtLeast(_epochs, 0);
        AtLeast(_maxRows, 1);
        AtLeast(_threads, 1);
        AtLeast(_maxIterations, 0);
        _preset.Validators.Add(result =>
        {
            string? name = result.GetValueOrDefault<string>();
            if (name is not null && !DeepClusterPresets.Names.Contains(name.Trim().ToLowerInvariant()))
                result.AddError($"Unknown preset '{name}'; expected one of: {string.Join(", ", DeepClusterPresets.Names)}.");
        });
        _size.Validators.Add(result =>
        {
            var size = result.GetValueOrDefault<int[]>();
            if (size is { Length: 2 } && (size[0] < 1 || size[1] < 1 || size[0] > 1024 || size[1] > 1024))
                result.AddError($"--size takes a width and a height between 1 and 1024; got {size[0]} {size[1]}.");
        });
        _features.Validators.Add(result =>
        {
            string? text = result.GetValueOrDefault<string?>();
            if (FeatureChoice.Parse(text) is null)
                result.AddError($"--features takes resnet18 or pixels; found '{text}'.");
        });
        _backboneNormalization.Validators.Add(result =>
        {
            string? text = result.GetValueOrDefault<string?>();
            if (text is not null && ImageNormalizations.Get(text) is null)
                result.AddError($"--backbone-normalization takes one of {string.Join(", ", ImageNormalizations.Names)}; found '{text}'.");
        });
        _shard.Validators.Add(result =>
        {
            if (Shards.Parse(result.GetValueOrDefault<string?>()) is { Error: string error })
                result.AddError(error);
        });
        Root.Validators.Add(result =>
        {
            if (BackboneConflict(result) is { } backbone)
                result.AddError(backbone);
            if (result.GetResult(_shard) is not null && (result.GetResult(_score) is null || result.GetResult(_images) is null))
                result.AddError("--shard splits the images of --images DIR among machines that assign them with --score MODEL: give both.");
            if (result.GetResult(_cache) is not null && result.GetResult(_noCache) is not null)
                result.AddError("Give either --cache DIR or --no-cache, not both.");
            if (result.GetResult(_images) is not null && result.GetResult(_idx) is not null)
                result.AddError("Give either --images or --idx, not both.");
            if (FeaturesConflict(result) is { } conflict)
                result.AddError(conflict);
        });
    }

    public RootCommand Root { get; }

    /// <summary>--features where it cannot apply: with --score (the model brings its own), and resnet18 with anything but --images, --size or --color.</summary>
    private string? FeaturesConflict(CommandResult result)
    {
        if (result.GetResult(_features) is null || FeatureChoice.Parse(result.GetValue(_features)) is not { } route)
            return null;
        string given = $"--features {FeatureChoice.NameOf(route)}";
        if (result.GetResult(_score) is not null)
            return $"{given} applies when training; --score featurizes as the saved model was trained. Drop --features.";
        if (route != FeatureRoute.ResNet18)
            return null;
        if (result.GetResult(_idx) is not null)
            return $"{given} needs --images DIR (it featurizes image files); found --idx, whose images are clustered on their pixels.";
        if (result.GetResult(_images) is null)
            return $"{given} needs --images DIR (it featurizes image files); found no input, which clusters the MNIST digits on their pixels.";
        if (result.GetResult(_size) is not null && result.GetValue(_size) is { Length: 2 } size)
            return $"--size sets the pixel autoencoder's input, but {given} resizes every image to 224×224 itself; found --size {size[0]} {size[1]}. Drop --size, or use --features pixels.";
        if (result.GetResult(_color) is not null)
            return $"--color sets the pixel autoencoder's input, but {given} always reads colour; found --color. Drop --color, or use --features pixels.";
        return null;
    }

    /// <summary>--backbone where it cannot apply, and its companions without it.</summary>
    private string? BackboneConflict(CommandResult result)
    {
        if (result.GetResult(_backbone) is null)
        {
            if (result.GetResult(_backboneOutput) is not null)
                return "--backbone-output names an output of --backbone FILE.onnx; found no --backbone.";
            if (result.GetResult(_backboneNormalization) is not null)
                return "--backbone-normalization sets how --backbone FILE.onnx reads pixels; found no --backbone.";
            return null;
        }
        if (result.GetResult(_score) is not null)
            return "--backbone applies when training; --score featurizes with the backbone the saved model keeps. Drop --backbone.";
        if (result.GetResult(_images) is null)
            return "--backbone needs --images DIR (it featurizes image files).";
        if (result.GetResult(_features) is not null)
            return $"--backbone replaces --features {result.GetValue(_features)}: give one or the other.";
        if (result.GetResult(_size) is not null)
            return "--size sets the pixel autoencoder's input, but --backbone resizes every image to the size its graph asks. Drop --size.";
        if (result.GetResult(_color) is not null)
            return "--color sets the pixel autoencoder's input, but --backbone always reads colour. Drop --color.";
        return null;
    }

    public SampleSettings Bind(ParseResult result)
    {
        var idx = result.GetValue(_idx);
        var size = result.GetValue(_size);
        var k = Program.ParseK(result.GetValue(_k));
        return new SampleSettings
        {
            ImagesDirectory = result.GetValue(_images),
            IdxImagesPath = idx is { Length: > 0 } ? idx[0] : null,
            IdxLabelsPath = idx is { Length: > 1 } ? idx[1] : null,
            NumberOfClusters = k.Fixed,
            ClusterCountRange = k.Range,
            PretrainEpochs = result.GetValue(_epochs),
            Preset = result.GetValue(_preset)?.Trim().ToLowerInvariant(),
            Features = FeatureChoice.Parse(result.GetValue(_features)),
            Seed = result.GetValue(_seed),
            Size = size is { Length: 2 } ? (size[0], size[1]) : null,
            Color = result.GetValue(_color),
            OutputDirectory = result.GetValue(_out)!,
            ModelPath = result.GetValue(_model),
            ScoreModelPath = result.GetValue(_score),
            MaxRows = result.GetValue(_maxRows),
            Threads = result.GetValue(_threads),
            MaxIterations = result.GetValue(_maxIterations),
            CheckpointPath = result.GetValue(_checkpoint),
            BackbonePath = result.GetValue(_backbone),
            BackboneOutput = result.GetValue(_backboneOutput),
            BackboneNormalization = result.GetValue(_backboneNormalization),
            SkipUnreadable = result.GetValue(_skipUnreadable),
            Shard = Shards.Parse(result.GetValue(_shard)).Shard,
            CacheDirectory = result.GetValue(_cache),
            NoCache = result.GetValue(_noCache),
        };
    }

    /// <summary>What each preset is, for --help; names come from the library, so a new preset shows up by name at least.</summary>
    private static string PresetHelp()
    {
        var known = new Dictionary<string, string>
        {
            ["recommended"] = "the default, what the README uses: the best measured for its cost",
            ["dec"] = "DEC as published: dense autoencoder 500-500-2000-10, k-means++ seeding, SGD self-training",
            ["idec"] = "IDEC: DEC keeping the decoder during self-training",
            ["dec-da"] = "DEC with data augmentation: small random rotations and shifts",
            ["dec-da-spectral"] = "DEC-DA seeded by spectral clustering instead of k-means",
            ["ae-kmeans"] = "DEC's autoencoder, then k-means, no self-training",
            ["ae-kmeans-da"] = "autoencoder + k-means with augmented pretraining",
            ["dcec"] = "DCEC: convolutional autoencoder, decoder kept during self-training",
            ["conv-dec-da"] = "ConvDEC-DA: convolutional autoencoder with data augmentation",
            ["quick"] = "DEC with a short budget: a first look in minutes",
            ["conv-idec-spectral"] = "ConvDEC-DA's network with 120 epochs, spectral seeding, IDEC's self-training: a little below recommended on clothing, far below on digits",
            ["image-features"] = "for pretrained photo features, the default with --features resnet18: DEC's network as DEC-Keras ran it on STL-10's VGG features",
        };
        // The budgets are read from the presets themselves, so that this text cannot drift from the library.
        var parts = DeepClusterPresets.Names.Select(n =>
        {
            var o = DeepClusterPresets.Get(n);
            string budget = o.MaxIterations == 0 ? $"{o.PretrainEpochs} epochs" : $"{o.PretrainEpochs} epochs, at most {o.MaxIterations:N0} self-training steps";
            return known.TryGetValue(n, out var what) ? $"{n} ({what}; {budget})" : $"{n} ({budget})";
        });
        return "Starting settings, one of: " + string.Join("; ", parts) + ". --epochs, --k, --max-iterations and --threads override it. " +
               "Default: recommended, or image-features on the ResNet18 route (--features).";
    }

    /// <summary>"recommended 100, dec 200, ..." for one option's default in each preset.</summary>
    private static string PresetDefaults(Func<DeepClusterOptions, int> value) =>
        string.Join(", ", DeepClusterPresets.Names.Select(n => $"{n} {value(DeepClusterPresets.Get(n)):N0}"));

    private static void AtLeast(Option<int?> option, int minimum) =>
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is int value && value < minimum)
                result.AddError($"{option.Name} must be at least {minimum}; got {value}.");
        });
}
