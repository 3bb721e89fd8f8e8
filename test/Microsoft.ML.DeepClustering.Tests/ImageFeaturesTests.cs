using System.Globalization;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Onnx;
using Microsoft.ML.DeepClustering.Onnx.Proto;
using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>
/// The feature route on real image files (<see cref="TestPhotos"/>: suns and stripes, PNG and JPEG of several sizes,
/// one grayscale), through FeaturizeImages and DeepCluster.
/// </summary>
public sealed class ImageFeaturesTests : IDisposable
{
    private const int PerGroup = 20;
    private readonly string _folder = TestData.NewTempDirectory();
    private readonly List<(string Path, int Group)> _images;

    public ImageFeaturesTests() => _images = TestPhotos.Write(_folder, _folder, PerGroup);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void ResNet18FeaturesClusterTwoKindsOfPictureAndTheSavedPipelineScoresTheSameInAFreshProcess()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(_images.Select(i => new ImageRow { ImagePath = i.Path }));
        var options = DeepClusterPresets.ImageFeatures();   // as it ships: 40 images make its 300 epochs 300 small steps
        options.NumberOfClusters = 2;
        options.Seed = 1;
        var pipeline = ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions()).Append(ml.Transforms.DeepCluster(options));
        using var model = pipeline.Fit(data);
        var scored = model.Transform(data);

        Assert.Equal(512, ((VectorDataViewType)scored.Schema["Features"].Type).Size);
        Assert.Null(scored.Schema.GetColumnOrNull("DeepClusteringPixels"));   // the featurizer's own columns are dropped
        var norms = TestData.Column(scored, "Features").Select(f => Math.Sqrt(f.Sum(v => (double)v * v)));
        Assert.All(norms, n => Assert.Equal(1.0, n, 4));
        var ids = TestData.KeyColumn(scored, "PredictedClusterId");
        // Chance would misplace about half of the 40. The head (an autoencoder and DEC on 40 points) misplaces one to
        // three pictures, and which ones turns on float rounding (Adam's last bit): the bound leaves room for that.
        Assert.InRange(ClusteringQuality.Accuracy(_images.Select(i => i.Group).ToArray(), ids), 0.9, 1.0);

        // One .zip, featurizer included, loaded by a process that references neither this library nor the ResNet18
        // package (so has no DnnImageModels folder): the same clusters and scores.
        string zip = Path.Combine(_folder, "photos.zip");
        ml.Model.Save(model, data.Schema, zip);
        var lines = TestData.RunModelLoadProbe(new[] { zip, "--images" }.Concat(_images.Select(i => i.Path)));
        var scores = TestData.Column(scored, "Score");
        for (int i = 0; i < _images.Count; i++)
        {
            var parts = lines[i].Split(' ');
            Assert.Equal(ids[i], uint.Parse(parts[0], CultureInfo.InvariantCulture));
            TestData.AssertEqualUpToFloatRounding([scores[i]], [parts.Skip(1).Select(p => float.Parse(p, CultureInfo.InvariantCulture)).ToArray()], "Score");
        }
    }

    [Fact]
    public void AnOnnxBackboneOfYourOwnGetsItsInputSizeAndNormalisation()
    {
        // A backbone whose features are the mean of each normalised channel: [batch, 3, 32, 32] → [batch, 3].
        var graph = new OnnxGraph("mean_colour");
        string input = graph.FloatInput("pixel_values", 3, 32, 32);
        string pooled = graph.Node("GlobalAveragePool", new[] { input });
        graph.Node("Flatten", new[] { pooled }, output: "pooler_output", OnnxGraph.Int("axis", 1));
        graph.Output("pooler_output", TensorProto.Types.DataType.Float, 3);
        string modelPath = Path.Combine(_folder, "mean-colour.onnx");
        File.WriteAllBytes(modelPath, graph.ToModelBytes("test backbone", new Dictionary<string, string>()));

        string red = TestPhotos.Save(Path.Combine(_folder, "red.png"), TestPhotos.Solid(50, 30, new SKColor(255, 0, 0)));
        var ml = new MLContext(seed: 1);
        var featurizer = ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions
        {
            Backbone = new OnnxImageBackbone { ModelPath = modelPath, ImageWidth = 32, ImageHeight = 32 },
            NormalizeFeatures = false,
        });
        var redData = ml.Data.LoadFromEnumerable(new[] { new ImageRow { ImagePath = red } });
        var features = TestData.Column(featurizer.Fit(redData).Transform(redData), "Features").Single();
        // Pure red, in 0..1: (1, 0, 0); ImageNet's normalisation: ((1 − 0.485) / 0.229, −0.456 / 0.224, −0.406 / 0.225).
        Assert.Equal(new[] { 2.248908f, -2.035714f, -1.804444f }, features, new FloatTolerance(1e-4f));

        // In front of DeepCluster: suns on a blue sky and gray stripes are two mean colours apart (not normalised: on
        // three features the L2 norm would keep only their direction, which brightness hardly moves).
        var data = ml.Data.LoadFromEnumerable(_images.Select(i => new ImageRow { ImagePath = i.Path }));
        var options = TestData.SmallOptions();
        options.NumberOfClusters = 2;
        options.HiddenLayers = new[] { 16 };
        options.EmbeddingDimension = 3;
        options.PretrainEpochs = 500;   // one batch per epoch on 40 images
        options.MaxIterations = 0;
        var pipeline = ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions
        {
            Backbone = new OnnxImageBackbone { ModelPath = modelPath, ImageWidth = 32, ImageHeight = 32 },
            NormalizeFeatures = false,
        }).Append(ml.Transforms.DeepCluster(options));
        using var model = pipeline.Fit(data);
        var ids = TestData.KeyColumn(model.Transform(data), "PredictedClusterId");
        Assert.Equal(1.0, ClusteringQuality.Accuracy(_images.Select(i => i.Group).ToArray(), ids));
    }

    /// <summary>
    /// The package pins the library exactly and checks it at first use (LibraryVersion): built together, the versions
    /// agree; apart, the message names both and the fix. PackagingTests runs a real mismatched pair of packages.
    /// </summary>
    [Fact]
    public void TheLibraryVersionIsCheckedAtFirstUse()
    {
        string expected = LibraryVersion.Expected(typeof(ImageFeaturesCatalog).Assembly);
        Assert.Equal(expected, LibraryVersion.Loaded(typeof(DeepClusterOptions).Assembly));
        Assert.DoesNotContain("+", expected);
        LibraryVersion.EnsureMatches();
        Assert.Null(LibraryVersion.Mismatch("0.2.0", "0.2.0", "0.2.0", "/app/Microsoft.ML.DeepClustering.dll"));
        string message = LibraryVersion.Mismatch("0.2.0", "0.2.0", "0.3.1", "/app/Microsoft.ML.DeepClustering.dll")!;
        Assert.Contains("MLNet.DeepClustering.ImageFeatures 0.2.0 works with MLNet.DeepClustering 0.2.0 only, but MLNet.DeepClustering 0.3.1 is loaded (from /app/Microsoft.ML.DeepClustering.dll)", message);
        Assert.Contains("MLNet.DeepClustering 0.2.0 with this MLNet.DeepClustering.ImageFeatures, or MLNet.DeepClustering.ImageFeatures 0.3.1", message);
    }

    [Fact]
    public void AChannelsLastBackboneGetsInterleavedPixels()
    {
        // [batch, 32, 32, 3] → the mean of each channel over the image: [batch, 3].
        var graph = new OnnxGraph("mean_colour_nhwc");
        string input = graph.FloatInput("images", 32, 32, 3);
        graph.Node("ReduceMean", new[] { input }, output: "pooled", OnnxGraph.Ints("axes", 1, 2), OnnxGraph.Int("keepdims", 0));
        graph.Output("pooled", TensorProto.Types.DataType.Float, 3);
        string modelPath = Path.Combine(_folder, "mean-colour-nhwc.onnx");
        File.WriteAllBytes(modelPath, graph.ToModelBytes("test backbone", new Dictionary<string, string>()));

        var inspection = OnnxBackboneInspection.Inspect(modelPath);
        Assert.True(inspection.ChannelsLast);
        Assert.Equal(("images", 32, 32, "pooled", 3), (inspection.InputName, inspection.ImageWidth, inspection.ImageHeight, inspection.Output.Name, inspection.Output.VectorSize));
        Assert.Equal("the only vector", inspection.OutputKind);

        string red = TestPhotos.Save(Path.Combine(_folder, "red.png"), TestPhotos.Solid(50, 30, new SKColor(255, 0, 0)));
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new ImageRow { ImagePath = red } });
        var (mean, std) = ImageNormalizations.Get("-1..1")!.Value;
        var featurizer = ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions { Backbone = inspection.ToBackbone(mean, std), NormalizeFeatures = false });
        // Pure red at -1..1: (1, −1, −1); a planar reading of interleaved pixels would mix the channels.
        Assert.Equal(new[] { 1f, -1f, -1f }, TestData.Column(featurizer.Fit(data).Transform(data), "Features").Single(), new FloatTolerance(1e-5f));
    }

    [Fact]
    public void TheFeatureCacheReturnsWhatWasPutAndNeverADamagedOrForeignEntry()
    {
        string folder = Path.Combine(_folder, "cache");
        var cache = new ImageFeatureCache(folder, "network A");
        string key = ImageFeatureCache.ContentHash(_images[0].Path);
        Assert.Equal(key, ImageFeatureCache.ContentHash(_images[0].Path));
        Assert.NotEqual(key, ImageFeatureCache.ContentHash(_images[1].Path));
        Assert.Null(cache.TryGet(key));
        float[] values = [0.25f, -1.5f, 3f];
        cache.Put(key, values);
        Assert.Equal(values, cache.TryGet(key));
        Assert.Null(new ImageFeatureCache(folder, "network B").TryGet(key));   // another fingerprint: another folder
        Assert.Contains("network A", File.ReadAllText(Path.Combine(cache.Folder, "fingerprint.txt")));

        // Many writers of the same entry at once (two processes featurizing the same photo): always a whole entry.
        Parallel.For(0, 32, i => new ImageFeatureCache(folder, "network A").Put(key, values));
        Assert.Equal(values, cache.TryGet(key));
        Assert.Empty(Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories));

        string entry = Directory.GetFiles(cache.Folder, "*.f32", SearchOption.AllDirectories).Single();
        var bytes = File.ReadAllBytes(entry);
        bytes[9] ^= 1;   // one bit of the first value
        File.WriteAllBytes(entry, bytes);
        Assert.Null(cache.TryGet(key));
        File.WriteAllBytes(entry, bytes[..10]);   // cut short
        Assert.Null(cache.TryGet(key));
    }

    [Fact]
    public void InceptionV3IsReadFromItsGraph()
    {
        var inspection = OnnxBackboneInspection.Inspect(TestData.InceptionBackbone);
        Assert.Equal(TestData.InceptionBackboneSha256, inspection.Sha256);
        Assert.Equal(("input", 299, 299, false), (inspection.InputName, inspection.ImageWidth, inspection.ImageHeight, inspection.ChannelsLast));
        Assert.Equal(("embedding", 2048), (inspection.Output.Name, inspection.Output.VectorSize!.Value));
        Assert.Equal(new[] { "embedding", "mixed5_gap", "probs" }, inspection.Outputs.Select(o => o.Name).Order());
        Assert.Equal(768, OnnxBackboneInspection.Inspect(TestData.InceptionBackbone, "mixed5_gap").Output.VectorSize);
    }

    [Fact]
    public void BatchedFeaturizingAgreesWithTheTransformerForResNet18AndAnOnnxBackbone()
    {
        // 7 pictures in batches of 3: two full batches and a partial one; PNG, JPEG and a grayscale PNG among them.
        var paths = _images.Take(7).Select(i => i.Path).ToList();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(paths.Select(p => new ImageRow { ImagePath = p }));
        var inception = OnnxBackboneInspection.Inspect(TestData.InceptionBackbone, "mixed5_gap");
        var (mean, std) = ImageNormalizations.Get("0..1")!.Value;
        foreach (var options in new[] { new ImageFeaturizerOptions(), new ImageFeaturizerOptions { Backbone = inception.ToBackbone(mean, std) } })
        {
            var expected = TestData.Column(ml.Transforms.FeaturizeImages(options).Fit(data).Transform(data), "Features");
            using var batched = new BatchedImageFeaturizer(ml, options, batchSize: 3);
            var reported = new List<int>();
            var actual = batched.Featurize(paths, new Progress(reported.Add));
            Assert.Equal(new[] { 3, 6, 7 }, reported);
            // Unit-length features: a batched convolution may sum in another order, which moves the last float bits only
            // (within 2e-6 on an AMD EPYC; the bound leaves room for other CPUs' kernels).
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
                Assert.Equal(expected[i], actual[i], new FloatTolerance(1e-5f));
        }
    }

    /// <summary>Reports on the calling thread, in order (System.Progress posts to the thread pool).</summary>
    private sealed class Progress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }

    [Fact]
    public void AnImageThatDoesNotDecodeIsNamed()
    {
        string broken = Path.Combine(_folder, "broken.png");
        File.WriteAllText(broken, "not a picture");
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new ImageRow { ImagePath = _images[0].Path }, new ImageRow { ImagePath = broken } });
        var error = Assert.Throws<InvalidDataException>(() => ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions()).Fit(data));
        Assert.Contains("broken.png", error.Message);
        Assert.Contains("row 2", error.Message);
        Assert.Contains("'ImagePath'", error.Message);
    }

    [Fact]
    public void BadBackboneOptionsAreNamed()
    {
        var ml = new MLContext(seed: 1);
        var missing = Assert.Throws<FileNotFoundException>(() => ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions
        {
            Backbone = new OnnxImageBackbone { ModelPath = Path.Combine(_folder, "nowhere.onnx") },
        }));
        Assert.Contains("Backbone.ModelPath", missing.Message);
        string model = TestPhotos.Save(Path.Combine(_folder, "any.png"), TestPhotos.Solid(8, 8, SKColors.Red));   // any existing file passes the path check
        var std = Assert.Throws<ArgumentException>(() => ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions
        {
            Backbone = new OnnxImageBackbone { ModelPath = model, StandardDeviation = [0.2f, 0f, 0.2f] },
        }));
        Assert.Contains("StandardDeviation", std.Message);
        Assert.Contains("ImagePathColumnName", Assert.Throws<ArgumentException>(() =>
            ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions { ImagePathColumnName = " " })).Message);
    }

    private sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(float obj) => 0;
    }
}
