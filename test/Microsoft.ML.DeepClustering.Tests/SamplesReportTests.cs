using System.Text.Json;
using Microsoft.ML.DeepClustering.Samples;
using SkiaSharp;
using Spectre.Console;
using Microsoft.ML.DeepClustering.Samples.Input;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>
/// The samples app run in-process on small inputs: the report it writes (files, pictures, CSV, JSON), labels taken
/// from an image folder's subfolders, Ctrl+C, and a bad path. A tiny network keeps each run to seconds.
/// </summary>
public class SamplesReportTests
{
    private static readonly string[] Pictures =
        { "clusters.png", "centroids.png", "confusion-matrix.png", "embedding.png", "training-curves.png" };

    [Fact]
    public void MnistRunWritesTheWholeReport()
    {
        string dir = TestData.NewTempDirectory();
        try
        {
            string output = Path.Combine(dir, "out");
            var (code, log) = RunApp(new[] { "--max-rows", "300", "--k", "3", "--epochs", "2", "--max-iterations", "20", "--out", output });

            Assert.True(code == ExitCodes.Success, log);
            foreach (string file in Pictures.Concat(new[] { "report.html", "metrics.json", "assignments.csv", "model.zip", "model.onnx" }))
                Assert.True(File.Exists(Path.Combine(output, file)), $"{file} missing; log:\n{log}");
            Assert.Empty(Directory.GetFiles(output, "*.tmp", SearchOption.AllDirectories));

            foreach (string picture in Pictures)
                AssertSanePicture(Path.Combine(output, picture));

            string html = File.ReadAllText(Path.Combine(output, "report.html"));
            foreach (string picture in Pictures)
                Assert.Contains($"src=\"{picture}\"", html);

            var csv = File.ReadAllLines(Path.Combine(output, "assignments.csv"));
            Assert.Equal(301, csv.Length);
            Assert.Equal("index,cluster,probability,label", csv[0]);
            Assert.All(csv.Skip(1), line => Assert.InRange(int.Parse(line.Split(',')[1]), 1, 3));

            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
            var root = metrics.RootElement;
            Assert.Equal("completed", root.GetProperty("Status").GetString());
            Assert.InRange(root.GetProperty("Accuracy").GetDouble(), 0, 1);
            Assert.InRange(root.GetProperty("NormalizedMutualInformation").GetDouble(), 0, 1);
            Assert.True(root.GetProperty("DaviesBouldinIndex").GetDouble() > 0);
            Assert.Equal(300, root.GetProperty("Rows").GetInt32());
            Assert.Equal(3, root.GetProperty("NumberOfClusters").GetInt32());
            Assert.Equal(10, root.GetProperty("NumberOfClasses").GetInt32());
            Assert.Equal(2, root.GetProperty("History").GetProperty("PretrainLosses").GetArrayLength());
            Assert.Contains("Report", log);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ImageFolderLabelsComeFromSubfolderNames()
    {
        string dir = TestData.NewTempDirectory();
        try
        {
            string images = Path.Combine(dir, "digits");
            WriteDigits(images, ("zero", 0), ("one", 1), perClass: 20);
            string output = Path.Combine(dir, "out");

            var (code, log) = RunApp(new[] { "--images", images, "--epochs", "3", "--max-iterations", "20", "--out", output });

            Assert.True(code == ExitCodes.Success, log);
            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
            var root = metrics.RootElement;
            Assert.Equal(2, root.GetProperty("NumberOfClasses").GetInt32());
            Assert.Equal(2, root.GetProperty("NumberOfClusters").GetInt32()); // K defaults to the number of classes
            Assert.Equal(40, root.GetProperty("Rows").GetInt32());

            var csv = File.ReadAllLines(Path.Combine(output, "assignments.csv"));
            Assert.Equal("path,cluster,probability,label", csv[0]);
            Assert.Equal(41, csv.Length);
            Assert.All(csv.Skip(1), line =>
            {
                var fields = line.Split(',');
                Assert.Equal(fields[0].Split('/')[0], fields[3]); // the label is the subfolder's name
            });
            Assert.Equal(new[] { "one", "zero" }, csv.Skip(1).Select(l => l.Split(',')[3]).Distinct().Order().ToArray());
            AssertSanePicture(Path.Combine(output, "confusion-matrix.png"));

            // The saved model is the whole image pipeline: --score reads the folder with it, without training.
            string scored = Path.Combine(dir, "scored");
            var (scoreCode, scoreLog) = RunApp(new[] { "--score", Path.Combine(output, "model.zip"), "--images", images, "--out", scored });
            Assert.True(scoreCode == ExitCodes.Success, scoreLog);
            Assert.Equal(File.ReadAllLines(Path.Combine(output, "assignments.csv")).Select(l => l.Split(',')[1]),
                File.ReadAllLines(Path.Combine(scored, "assignments.csv")).Select(l => l.Split(',')[1]));
            Assert.False(File.Exists(Path.Combine(scored, "centroids.png"))); // a loaded model has no decoder to show
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// A second run whose model save runs out of disk half-way (simulated) leaves the first run's model and report as
    /// they were, and no temporary files.
    /// </summary>
    [Fact]
    public void ARunThatRunsOutOfDiskWhileSavingKeepsTheEarlierModelAndReport()
    {
        string dir = TestData.NewTempDirectory();
        try
        {
            string output = Path.Combine(dir, "out");
            string[] args = { "--max-rows", "200", "--k", "3", "--epochs", "1", "--max-iterations", "10", "--out", output };
            var (code, log) = RunApp(args);
            Assert.True(code == ExitCodes.Success, log);
            var kept = new[] { "model.zip", "report.html", "metrics.json", "assignments.csv" }.ToDictionary(f => f, f => File.ReadAllBytes(Path.Combine(output, f)));

            Samples.Report.AtomicFile.WrapStreamForTests.Value = stream => new FullDiskStream(stream, 4096);
            Exception? failure = null;
            try
            {
                (code, log) = RunApp(args.Concat(new[] { "--seed", "2" }).ToArray());
            }
            catch (IOException e)
            {
                failure = e;
            }
            finally
            {
                Samples.Report.AtomicFile.WrapStreamForTests.Value = null;
            }
            Assert.True(failure is not null || code != ExitCodes.Success, log);
            foreach (var (file, bytes) in kept)
                Assert.True(bytes.SequenceEqual(File.ReadAllBytes(Path.Combine(output, file))), $"{file} changed");
            Assert.Empty(Directory.GetFiles(output, ".*", SearchOption.AllDirectories));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void MissingImageFolderIsOneErrorLineAndExitCode1()
    {
        string missing = Path.Combine(Path.GetTempPath(), "DeepClusteringTests", Guid.NewGuid().ToString("N"), "no-such-folder");
        var output = new StringWriter();
        var error = new StringWriter();

        int code = Program.Run(new[] { "--images", missing }, TestConsole(output), error);

        Assert.Equal(ExitCodes.Error, code);
        string message = error.ToString();
        Assert.Contains(missing, message);
        Assert.StartsWith("error:", message);
        Assert.Single(message.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain(" at ", message); // no stack trace
    }

    [Fact]
    public void CtrlCDuringPretrainingWritesTheCurvesSoFarAndExits130()
    {
        string dir = TestData.NewTempDirectory();
        try
        {
            string output = Path.Combine(dir, "out");
            using var cancellation = new CancellationTokenSource();
            // "Ctrl+C" as soon as the first pretraining epoch is reported.
            var log = new WatchingWriter("Pretraining epoch 1/", cancellation.Cancel);
            Assert.Equal(0, Program.Parse(new[] { "--max-rows", "300", "--k", "3", "--epochs", "50", "--out", output }, log, log, out var settings));

            int code = ClusteringRun.Execute(Tiny(settings!), TestConsole(log), cancellation.Token);

            Assert.True(code == ExitCodes.Cancelled, log.ToString());
            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
            Assert.Equal("cancelled", metrics.RootElement.GetProperty("Status").GetString());
            int epochs = metrics.RootElement.GetProperty("History").GetProperty("PretrainLosses").GetArrayLength();
            Assert.InRange(epochs, 1, 49);
            AssertSanePicture(Path.Combine(output, "training-curves.png"));
            Assert.Contains("training-curves.png", File.ReadAllText(Path.Combine(output, "report.html")));
            Assert.False(File.Exists(Path.Combine(output, "model.zip")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void CheckpointLetsTheSameCommandResumeAfterCtrlC()
    {
        string dir = TestData.NewTempDirectory();
        try
        {
            string checkpoint = Path.Combine(dir, "digits.ckpt");
            string[] args = { "--max-rows", "300", "--k", "3", "--epochs", "6", "--max-iterations", "10", "--checkpoint", checkpoint, "--out", Path.Combine(dir, "out") };
            using var cancellation = new CancellationTokenSource();
            var log = new WatchingWriter("Pretraining epoch 4/", cancellation.Cancel);
            Assert.Equal(0, Program.Parse(args, log, log, out var settings));
            // Every epoch written, so that the stop after epoch 4 leaves epoch 4 in the checkpoint.
            var interrupted = Tiny(settings!) with { ConfigureOptions = o => { Tiny(settings!).ConfigureOptions!(o); o.CheckpointInterval = TimeSpan.Zero; } };
            Assert.Equal(ExitCodes.Cancelled, ClusteringRun.Execute(interrupted, TestConsole(log), cancellation.Token));
            // The console wraps long lines at 80 columns: compare with the line breaks taken out.
            Assert.True(Unwrapped(log.ToString()).Contains("run the same command again to resume it"), log.ToString());

            var (code, output) = RunApp(args);
            Assert.True(code == 0, output);
            Assert.Contains($"pretraining resumes from {checkpoint}", Unwrapped(output));
            Assert.DoesNotContain("Pretraining epoch 1/", output);
            Assert.Contains("Pretraining epoch 6/6", output);
            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "out", "metrics.json")));
            Assert.Equal(6, metrics.RootElement.GetProperty("History").GetProperty("PretrainLosses").GetArrayLength());
            Assert.Equal(4, metrics.RootElement.GetProperty("Training").GetProperty("PretrainingResumedAfterEpoch").GetInt32());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    internal static string Unwrapped(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\s+", " ");

    /// <summary>Parses the command line as the app does, shrinks the network, runs in-process.</summary>
    [Fact]
    public void ARangeOfKPrintsTheCandidatesAndDrawsTheChoice()
    {
        string dir = TestData.NewTempDirectory();
        try
        {
            string output = Path.Combine(dir, "out");
            var (code, log) = RunApp(new[] { "--max-rows", "300", "--k", "2-4", "--epochs", "2", "--max-iterations", "20", "--out", output });

            Assert.True(code == ExitCodes.Success, log);
            Assert.Contains("chosen from 2–4 by Modularity", log);
            Assert.Single(log.Split('\n'), line => line.Contains("← chosen"));
            Assert.Contains("A suggestion from the data", log);
            AssertSanePicture(Path.Combine(output, "choose-k.png"));
            string html = File.ReadAllText(Path.Combine(output, "report.html"));
            Assert.Contains("src=\"choose-k.png\"", html);
            Assert.Contains("a suggestion from the data, not a fact about it", html);
            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
            int k = metrics.RootElement.GetProperty("NumberOfClusters").GetInt32();
            Assert.InRange(k, 2, 4);
            Assert.All(File.ReadAllLines(Path.Combine(output, "assignments.csv")).Skip(1), line => Assert.InRange(int.Parse(line.Split(',')[1]), 1, k));

            // The evidence for choosing otherwise: the second-best candidate's clusters, drawn beside the pick's.
            var runnerUp = System.Text.RegularExpressions.Regex.Match(Unwrapped(log), @"The report shows the clusters at the runner-up, K = (\d+), beside the pick's\.");
            Assert.True(runnerUp.Success, log);
            int second = int.Parse(runnerUp.Groups[1].Value);
            Assert.InRange(second, 2, 4);
            Assert.NotEqual(k, second);
            AssertSanePicture(Path.Combine(output, "clusters-runner-up.png"));
            Assert.Contains($"Samples at the runner-up, K = {second}", html);
            Assert.Contains($"fix K with --k {second} if these suit your purpose better", html);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("7", 7, 0, 0, null)]
    [InlineData("auto", null, 2, 20, null)]
    [InlineData(" 5-15 ", null, 5, 15, null)]
    [InlineData("1", null, 0, 0, "--k must be at least 2; found 1.")]
    [InlineData("9-4", null, 0, 0, "--k 9-4: a range needs 2 ≤ MIN ≤ MAX.")]
    [InlineData("many", null, 0, 0, "--k takes a number of clusters, 'auto' or a range such as 5-15; found 'many'.")]
    public void KTakesANumberAutoOrARange(string text, int? k, int minimum, int maximum, string? error)
    {
        var parsed = Program.ParseK(text);
        Assert.Equal(k, parsed.Fixed);
        Assert.Equal(minimum == 0 ? null : ((int, int)?)(minimum, maximum), parsed.Range);
        Assert.Equal(error, parsed.Error);
    }

    internal static (int Code, string Log) RunApp(string[] args)
    {
        var log = new StringWriter();
        int parse = Program.Parse(args, log, log, out var settings);
        Assert.True(parse == 0 && settings is not null, log.ToString());
        int code = ClusteringRun.Execute(Tiny(settings!), TestConsole(log));
        return (code, log.ToString());
    }

    /// <summary>A network small enough for a run in seconds on 2 cores.</summary>
    internal static SampleSettings Tiny(SampleSettings settings) => settings with
    {
        Threads = 2,
        // Never the user's real feature cache: one beside the report, in the test's temp folder.
        CacheDirectory = settings.CacheDirectory ?? (settings.NoCache ? null : settings.OutputDirectory.TrimEnd('/') + "-cache"),
        ConfigureOptions = options =>
        {
            options.HiddenLayers = new[] { 32 };
            options.EmbeddingDimension = 4;
            options.BatchSize = 64;
            options.KMeansInitializations = 3;
            options.UpdateInterval = 5;
        },
    };

    internal static IAnsiConsole TestConsole(TextWriter writer) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Ansi = AnsiSupport.No,
        ColorSystem = ColorSystemSupport.NoColors,
        Interactive = InteractionSupport.No,
        Out = new AnsiConsoleOutput(writer),
    });

    /// <summary>Decodes the PNG and checks it is a real picture: big enough, and not a single flat colour.</summary>
    internal static void AssertSanePicture(string path)
    {
        using var bitmap = SKBitmap.Decode(path);
        Assert.True(bitmap is not null, $"{path} does not decode as an image");
        Assert.True(bitmap.Width > 100 && bitmap.Height > 100, $"{path} is {bitmap.Width}x{bitmap.Height}");
        var colours = new HashSet<SKColor>();
        for (int y = 0; y < bitmap.Height; y += 3)
            for (int x = 0; x < bitmap.Width; x += 3)
                colours.Add(bitmap.GetPixel(x, y));
        Assert.True(colours.Count > 2, $"{path} has {colours.Count} colour(s)");
    }

    /// <summary>MNIST digits of the given labels as 28×28 grayscale PNGs, one subfolder per class.</summary>
    internal static void WriteDigits(string root, (string Folder, int Digit) first, (string Folder, int Digit) second, int perClass)
    {
        var images = MnistIdx.ReadImages(TestData.ImagesPath);
        var labels = MnistIdx.ReadLabels(TestData.LabelsPath);
        foreach (var (folder, digit) in new[] { first, second })
        {
            Directory.CreateDirectory(Path.Combine(root, folder));
            int written = 0;
            for (int i = 0; i < labels.Length && written < perClass; i++)
            {
                if (labels[i] != digit)
                    continue;
                using var bitmap = new SKBitmap(new SKImageInfo(images.Width, images.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
                var pixels = images.GetImage(i);
                for (int y = 0; y < images.Height; y++)
                    for (int x = 0; x < images.Width; x++)
                    {
                        byte v = pixels[y * images.Width + x];
                        bitmap.SetPixel(x, y, new SKColor(v, v, v));
                    }
                using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(Path.Combine(root, folder, $"{i:D5}.png"), png.ToArray());
                written++;
            }
        }
    }

    /// <summary>A log that calls <paramref name="onMatch"/> once, when a written line contains <paramref name="trigger"/>.</summary>
    private sealed class WatchingWriter(string trigger, Action onMatch) : StringWriter
    {
        private bool _fired;

        public override void Write(string? value)
        {
            base.Write(value);
            if (!_fired && value is not null && ToString().Contains(trigger))
            {
                _fired = true;
                onMatch();
            }
        }
    }
}
