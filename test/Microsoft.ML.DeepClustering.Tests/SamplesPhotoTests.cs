using System.Text.Json;
using Microsoft.ML.DeepClustering.Samples;
using Microsoft.ML.DeepClustering.Samples.Input;
using SkiaSharp;
using static Microsoft.ML.DeepClustering.Tests.SamplesReportTests;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>
/// The samples app on photos (<see cref="TestPhotos"/>: suns and stripes, one subfolder each): the ResNet18 route,
/// its report, its saved model scored by the app in another process, and the automatic choice of route.
/// </summary>
public sealed class SamplesPhotoTests : IDisposable
{
    private const int PerGroup = 16;
    private readonly string _folder = TestData.NewTempDirectory();
    private readonly string _photos;

    public SamplesPhotoTests()
    {
        _photos = Path.Combine(_folder, "photos");
        TestPhotos.Write(Path.Combine(_photos, "suns"), Path.Combine(_photos, "stripes"), PerGroup);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void ResNet18RouteSeparatesTwoKindsOfPhotoDrawsThemAndItsModelScoresTheSameInAFreshProcess()
    {
        // One camera-sized photo, which the app shrinks before ResNet18, in training and in scoring alike.
        TestPhotos.Save(Path.Combine(_photos, "suns", "sun-large.jpg"), TestPhotos.Sun(1600, 1200, new Random(3)));
        int count = 2 * PerGroup + 1;
        string output = Path.Combine(_folder, "out");
        string zip = Path.Combine(_folder, "photos.zip");
        var (code, log) = RunApp(new[] { "--images", _photos, "--features", "resnet18", "--epochs", "30", "--max-iterations", "100", "--model", zip, "--out", output });

        Assert.True(code == ExitCodes.Success, log);
        string text = Unwrapped(log);
        Assert.Contains("Features: resnet18 (as --features asks)", text);
        Assert.Contains("preset image-features", text);
        Assert.Contains($"Featurizing {count}/{count} images", text);
        Assert.Contains($"1 of {count} images are larger than 896 px (shorter side): ResNet18 reads them shrunk to 448 px.", text);
        using (var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json"))))
        {
            var root = metrics.RootElement;
            Assert.Equal("resnet18", root.GetProperty("Features").GetString());
            Assert.Equal(count, root.GetProperty("Rows").GetInt32());
            // Suns and stripes are far apart in ResNet18's features: at most 3 of the 33 pictures in the other group's cluster.
            Assert.InRange(root.GetProperty("Purity").GetDouble(), 0.9, 1.0);
            Assert.True(root.GetProperty("TimingsSeconds").GetProperty("featurize").GetDouble() > 0);
        }

        // The montage shows the files: their sky and sun colours, which no pixel-route picture of these features could have.
        string montage = Path.Combine(output, "clusters.png");
        AssertSanePicture(montage);
        Assert.InRange(PixelsNear(montage, TestPhotos.Sky), 2_000, int.MaxValue);
        Assert.InRange(PixelsNear(montage, TestPhotos.SunColour), 500, int.MaxValue);
        string html = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Contains("src=\"clusters.png\"", html);
        Assert.Contains("the image files themselves", html);
        Assert.False(File.Exists(Path.Combine(output, "centroids.png")), "ResNet18 features decode to no picture");

        // The zip alone, in a folder of its own, scored by the app in another process: the featurizer is inside.
        string alone = Path.Combine(_folder, "alone");
        Directory.CreateDirectory(alone);
        File.Copy(zip, Path.Combine(alone, "photos.zip"));
        string scored = Path.Combine(_folder, "scored");
        string scoreLog = TestData.RunBuiltProgram("deepcluster.dll", new[] { "--score", "photos.zip", "--images", _photos, "--out", scored }, alone);
        // The same batched featurizing as training, then the model's clustering on the features.
        Assert.Contains($"Featurizing {count}/{count} images", scoreLog);
        Assert.Contains($"Assigning {count}/{count} images", scoreLog);
        Assert.Contains("ResNet18 reads them shrunk to 448 px", scoreLog);
        Assert.Equal(ClusterColumn(Path.Combine(output, "assignments.csv")), ClusterColumn(Path.Combine(scored, "assignments.csv")));
        Assert.InRange(PixelsNear(Path.Combine(scored, "clusters.png"), TestPhotos.SunColour), 500, int.MaxValue);
        using (var scoredMetrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(scored, "metrics.json"))))
            Assert.Equal("resnet18", scoredMetrics.RootElement.GetProperty("Features").GetString());
    }

    [Fact]
    public void WithoutFeaturesColourPhotosTakeResNet18AndSmallGrayscaleImagesPixelsWithTheReasonPrinted()
    {
        var (photoCode, photoLog) = RunApp(new[] { "--images", _photos, "--epochs", "1", "--max-iterations", "0", "--out", Path.Combine(_folder, "photos-out") });
        Assert.True(photoCode == ExitCodes.Success, photoLog);
        // The stripes are black and white: half the sampled pictures (the suns) have colour, which is not most of them;
        // their size (48 to 127 px, median above 64) is what chooses.
        Assert.Matches(@"Features: resnet18 \(images are grayscale, \d+ of \d+ sampled, but larger than 64 px, median \d+×\d+; pass --features pixels for the pixel autoencoder\)", Unwrapped(photoLog));
        Assert.Contains("preset image-features", Unwrapped(photoLog));

        string suns = Path.Combine(_photos, "suns");
        var (sunCode, sunLog) = RunApp(new[] { "--images", suns, "--k", "2", "--epochs", "1", "--max-iterations", "0", "--out", Path.Combine(_folder, "suns-out") });
        Assert.True(sunCode == ExitCodes.Success, sunLog);
        Assert.Contains($"Features: resnet18 (images are colour, {PerGroup} of {PerGroup} sampled, median ", Unwrapped(sunLog));

        string digits = Path.Combine(_folder, "digits");
        WriteDigits(digits, ("zero", 0), ("one", 1), perClass: 10);
        var (digitCode, digitLog) = RunApp(new[] { "--images", digits, "--epochs", "1", "--max-iterations", "0", "--out", Path.Combine(_folder, "digits-out") });
        Assert.True(digitCode == ExitCodes.Success, digitLog);
        Assert.Contains("Features: pixels (images are small and grayscale, 20 of 20 sampled, median 28×28; pass --features resnet18 for pretrained ResNet18 features)", Unwrapped(digitLog));
        Assert.Contains("preset recommended", Unwrapped(digitLog));
        Assert.Contains("network 784-", digitLog);

        // --size (or --color) is about pixels: with it, photos take the pixel route too.
        var choice = FeatureChoice.Choose(Directory.GetFiles(suns), pixelOptionsGiven: true);
        Assert.Equal(FeatureRoute.Pixels, choice.Route);
        Assert.Contains("--size or --color", choice.Reason);
    }

    [Fact]
    public void AnOnnxBackboneIsReadFromItsGraphNamedInTheReportAndKeptInTheSavedModel()
    {
        // InceptionV3 (not ResNet18): input 'input' [N, 3, 299, 299], outputs embedding [N, 2048], mixed5_gap [N, 768], probs [N, 5].
        // A handful of photos: InceptionV3 at 299×299 is about 3× ResNet18's cost per image.
        string photos = Path.Combine(_folder, "few");
        TestPhotos.Write(Path.Combine(photos, "suns"), Path.Combine(photos, "stripes"), perGroup: 6);
        string output = Path.Combine(_folder, "out");
        string zip = Path.Combine(_folder, "inception.zip");
        var (code, log) = RunApp(new[] { "--images", photos, "--backbone", TestData.InceptionBackbone, "--backbone-normalization", "0..1",
            "--epochs", "30", "--max-iterations", "0", "--model", zip, "--out", output });

        Assert.True(code == ExitCodes.Success, log);
        string text = Unwrapped(log);
        Assert.Contains("Features: backbone (as --backbone asks)", text);
        Assert.Contains("Backbone: inception_v3_u8w.onnx (sha256 6a85bcc6f756…): input input [N, 3, H, W] at 299×299; output embedding [N, 2048]: " +
                        "a pooled output by its name, the widest such; also: mixed5_gap [N, 768] (pooled), probs [N, 5] (named as a classifier's)", text);
        Assert.Contains("pixels normalised as 0..1 (as --backbone-normalization asks)", text);
        Assert.Contains("preset image-features", text);
        Assert.Contains("network 2048-", text);
        using (var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json"))))
        {
            var root = metrics.RootElement;
            Assert.Equal("backbone", root.GetProperty("Features").GetString());
            var backbone = root.GetProperty("Backbone");
            Assert.Equal(TestData.InceptionBackboneSha256, backbone.GetProperty("Sha256").GetString());
            Assert.Equal("embedding", backbone.GetProperty("Output").GetString());
            Assert.Equal(2048, backbone.GetProperty("FeatureCount").GetInt32());
            Assert.Equal("0..1", backbone.GetProperty("Normalization").GetString());
            // Suns and stripes are far apart in any ImageNet-trained network's features.
            Assert.InRange(root.GetProperty("Purity").GetDouble(), 0.9, 1.0);
        }
        Assert.Contains("for the backbone inception_v3_u8w.onnx (sha256 6a85bcc6f756…), output embedding (2048 features)", File.ReadAllText(Path.Combine(output, "report.html")));

        // The saved model keeps the backbone's bytes: scored from the zip alone, the same clusters.
        string scored = Path.Combine(_folder, "scored");
        var (scoreCode, scoreLog) = RunApp(new[] { "--score", zip, "--images", photos, "--out", scored });
        Assert.True(scoreCode == ExitCodes.Success, scoreLog);
        Assert.Equal(ClusterColumn(Path.Combine(output, "assignments.csv")), ClusterColumn(Path.Combine(scored, "assignments.csv")));
        using (var scoredMetrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(scored, "metrics.json"))))
            Assert.Equal("backbone", scoredMetrics.RootElement.GetProperty("Features").GetString());

        // Another output by name; a name the graph does not have is refused with the outputs it has.
        var mixed5 = Microsoft.ML.DeepClustering.Samples.Input.BackboneChoice.Read(TestData.InceptionBackbone, "mixed5_gap", null);
        Assert.Equal(768, mixed5.FeatureCount);
        Assert.Equal("imagenet", mixed5.Normalization);
        var wrong = Assert.Throws<UserInputException>(() => Microsoft.ML.DeepClustering.Samples.Input.BackboneChoice.Read(TestData.InceptionBackbone, "pooler_output", null));
        Assert.Contains("has no output 'pooler_output'; its outputs are embedding [N, 2048], mixed5_gap [N, 768], probs [N, 5]", wrong.Message);
    }

    [Fact]
    public void FeaturesAreComputedOnceARerunReusesThemAndAGrownFolderFeaturizesOnlyWhatIsNewOrCorrupt()
    {
        string photos = Path.Combine(_folder, "few");
        TestPhotos.Write(Path.Combine(photos, "suns"), Path.Combine(photos, "stripes"), perGroup: 5);
        string cache = Path.Combine(_folder, "cache");
        (JsonElement Metrics, string[] Assignments) Run(string name)
        {
            string output = Path.Combine(_folder, name);
            var (code, log) = RunApp(new[] { "--images", photos, "--features", "resnet18", "--epochs", "3", "--max-iterations", "0", "--cache", cache, "--out", output });
            Assert.True(code == ExitCodes.Success, log);
            using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
            return (metrics.RootElement.Clone(), File.ReadAllLines(Path.Combine(output, "assignments.csv")));
        }

        var first = Run("first");
        Assert.Equal(0, first.Metrics.GetProperty("FeatureCache").GetProperty("Reused").GetInt32());
        Assert.Equal(10, first.Metrics.GetProperty("FeatureCache").GetProperty("Computed").GetInt32());
        var entries = Directory.GetFiles(cache, "*.f32", SearchOption.AllDirectories);
        Assert.Equal(10, entries.Length);
        Assert.Empty(Directory.GetFiles(cache, "*.tmp", SearchOption.AllDirectories));

        // Unchanged folder: nothing featurized, the same features bit for bit, so the same clusters.
        var second = Run("second");
        Assert.Equal(10, second.Metrics.GetProperty("FeatureCache").GetProperty("Reused").GetInt32());
        Assert.Equal(0, second.Metrics.GetProperty("FeatureCache").GetProperty("Computed").GetInt32());
        Assert.Equal(first.Assignments, second.Assignments);

        // Two new photos and one damaged entry: three images featurized, the rest reused.
        TestPhotos.Save(Path.Combine(photos, "suns", "new-sun.png"), TestPhotos.Sun(90, 70, new Random(11)));
        TestPhotos.Save(Path.Combine(photos, "stripes", "new-stripes.png"), TestPhotos.Stripes(90, 70, new Random(12)));
        var bytes = File.ReadAllBytes(entries[0]);
        bytes[20] ^= 0x40;
        File.WriteAllBytes(entries[0], bytes);
        var third = Run("third");
        Assert.Equal(9, third.Metrics.GetProperty("FeatureCache").GetProperty("Reused").GetInt32());
        Assert.Equal(3, third.Metrics.GetProperty("FeatureCache").GetProperty("Computed").GetInt32());
    }

    [Fact]
    public void UnreadableFilesStopTheRunNamedOrWithSkipUnreadableAreLeftOutAndListed()
    {
        File.WriteAllText(Path.Combine(_photos, "suns", "notes.png"), "not a picture");
        File.WriteAllBytes(Path.Combine(_photos, "stripes", "empty.jpg"), Array.Empty<byte>());
        string[] common = { "--images", _photos, "--features", "pixels", "--epochs", "1", "--max-iterations", "0" };

        var stopLog = new StringWriter();
        int stopCode = Program.Run(common.Concat(new[] { "--out", Path.Combine(_folder, "stopped") }).ToArray(), TestConsole(stopLog), stopLog);
        Assert.Equal(ExitCodes.Error, stopCode);
        Assert.Contains($"2 of the {2 * PerGroup + 2} files in '{_photos}' cannot be decoded (not an image, or a damaged one): stripes/empty.jpg, suns/notes.png. " +
                        "Remove or replace them, or pass --skip-unreadable to leave them out.", Unwrapped(stopLog.ToString()));
        Assert.False(File.Exists(Path.Combine(_folder, "stopped", "metrics.json")), "the run stops before training");

        string output = Path.Combine(_folder, "skipped");
        var (code, log) = RunApp(common.Concat(new[] { "--skip-unreadable", "--out", output }).ToArray());
        Assert.True(code == ExitCodes.Success, log);
        Assert.Contains("2 unreadable files were left out (--skip-unreadable): stripes/empty.jpg, suns/notes.png.", Unwrapped(log));
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
        Assert.Equal(2 * PerGroup, metrics.RootElement.GetProperty("Rows").GetInt32());
        Assert.Equal(new[] { Path.Combine(_photos, "stripes", "empty.jpg"), Path.Combine(_photos, "suns", "notes.png") },
            metrics.RootElement.GetProperty("SkippedUnreadable").EnumerateArray().Select(e => e.GetString()).ToArray());
        Assert.Contains("suns/notes.png", File.ReadAllText(Path.Combine(output, "report.html")));
    }

    [Fact]
    public void TwoShardsAssignTheSameIdsAsTheWholeFolderAndConcatenateUnderOneHeader()
    {
        string zip = Path.Combine(_folder, "model.zip");
        var (code, log) = RunApp(new[] { "--images", _photos, "--features", "pixels", "--epochs", "2", "--max-iterations", "0", "--model", zip, "--out", Path.Combine(_folder, "train") });
        Assert.True(code == ExitCodes.Success, log);

        string[] Score(string name, params string[] extra)
        {
            string output = Path.Combine(_folder, name);
            var (scoreCode, scoreLog) = RunApp(new[] { "--score", zip, "--images", _photos, "--out", output }.Concat(extra).ToArray());
            Assert.True(scoreCode == ExitCodes.Success, scoreLog);
            return File.ReadAllLines(Path.Combine(output, "assignments.csv"));
        }
        var whole = Score("whole");
        var first = Score("shard0", "--shard", "0/2");
        var second = Score("shard1", "--shard", "1/2");

        Assert.StartsWith("path,cluster,probability", first[0]);
        Assert.DoesNotContain(second, l => l.StartsWith("path,"));
        // Both shards hold some of the 32 files, none twice; together, every line of the whole, ids and probabilities alike.
        Assert.InRange(second.Length, 1, 2 * PerGroup - 1);
        var merged = first.Concat(second).ToArray();
        Assert.Equal(whole[0], merged[0]);
        Assert.Equal(whole.Skip(1).Order(StringComparer.Ordinal), merged.Skip(1).Order(StringComparer.Ordinal));
        // The shard of a file is a hash of its relative path: the same in any process, and for any folder it sits in.
        Assert.Equal(Shards.Of("suns/sun0.jpg", 7), Shards.Of("suns/sun0.jpg", 7));
        Assert.All(second.Select(l => l.Split(',')[0]), path => Assert.Equal(1, Shards.Of(path, 2)));
    }

    [Theory]
    [InlineData("--backbone m.onnx --images x --features resnet18", "--backbone replaces --features resnet18: give one or the other.")]
    [InlineData("--backbone m.onnx --score m.zip --images x", "--backbone applies when training")]
    [InlineData("--backbone-output embedding --images x", "--backbone-output names an output of --backbone FILE.onnx; found no --backbone.")]
    [InlineData("--backbone m.onnx --images x --backbone-normalization vgg", "--backbone-normalization takes one of imagenet, clip, 0..1, -1..1; found 'vgg'.")]
    [InlineData("--shard 2/2 --score m.zip --images x", "--shard takes I/N with 0 ≤ I < N")]
    [InlineData("--shard 0/2 --images x", "--shard splits the images of --images DIR among machines that assign them with --score MODEL: give both.")]
    [InlineData("--features resnet18 --idx a.gz", "--features resnet18 needs --images DIR (it featurizes image files); found --idx")]
    [InlineData("--features resnet18", "--features resnet18 needs --images DIR (it featurizes image files); found no input")]
    [InlineData("--features resnet18 --images x --size 64 64", "found --size 64 64. Drop --size, or use --features pixels.")]
    [InlineData("--features resnet18 --images x --color", "always reads colour; found --color. Drop --color, or use --features pixels.")]
    [InlineData("--features pixels --score m.zip --images x", "--features pixels applies when training; --score featurizes as the saved model was trained.")]
    [InlineData("--features vgg --images x", "--features takes resnet18 or pixels; found 'vgg'.")]
    public void FeaturesWhereTheyCannotApplyAreNamed(string args, string expected)
    {
        var log = new StringWriter();
        Assert.NotEqual(0, Program.Parse(args.Split(' '), log, log, out var settings));
        Assert.Null(settings);
        Assert.Contains(expected, log.ToString());
    }

    /// <summary>The cluster of each line of assignments.csv, header included, in order.</summary>
    private static string[] ClusterColumn(string csv) => File.ReadAllLines(csv).Select(l => l.Split(',')[1]).ToArray();

    /// <summary>Pixels of the picture within 12 levels of <paramref name="colour"/> in every channel.</summary>
    private static int PixelsNear(string path, SKColor colour)
    {
        using var bitmap = SKBitmap.Decode(path);
        return bitmap.Pixels.Count(p => Math.Abs(p.Red - colour.Red) <= 12 && Math.Abs(p.Green - colour.Green) <= 12 && Math.Abs(p.Blue - colour.Blue) <= 12);
    }
}
