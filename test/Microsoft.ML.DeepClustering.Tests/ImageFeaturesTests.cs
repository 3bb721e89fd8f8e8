using System.Globalization;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Onnx;
using Microsoft.ML.DeepClustering.Onnx.Proto;
using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>
/// The feature route on real image files: PNG and JPEG files of several sizes, in two groups any pretrained network
/// tells apart (suns: warm discs on a sky; stripes: black-and-white bars, one of them a grayscale file), through
/// FeaturizeImages and DeepCluster.
/// </summary>
public sealed class ImageFeaturesTests : IDisposable
{
    private const int PerGroup = 10;
    private readonly string _folder = TestData.NewTempDirectory();
    private readonly List<(string Path, int Group)> _images = new();

    public ImageFeaturesTests()
    {
        var random = new Random(7);
        for (int i = 0; i < PerGroup; i++)
        {
            int width = 48 + random.Next(80), height = 40 + random.Next(60);
            _images.Add((Write($"sun{i}.{(i % 3 == 0 ? "jpg" : "png")}", Sun(width, height, random)), 0));
            _images.Add((Write($"stripes{i}.png", Stripes(width, height, random), grayscale: i == 0), 1));
        }
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void ResNet18FeaturesClusterTwoKindsOfPictureAndTheSavedPipelineScoresTheSameInAFreshProcess()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(_images.Select(i => new ImageRow { ImagePath = i.Path }));
        var options = DeepClusterPresets.ImageFeatures();   // as it ships: 20 images make its 300 epochs 300 small steps
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
        // At most one picture of the 20 in the other group's cluster (measured: one stripes picture, already so after
        // seeding); chance would misplace about half.
        Assert.InRange(ClusteringQuality.Accuracy(_images.Select(i => i.Group).ToArray(), ids), 0.95, 1.0);

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

        string red = Write("red.png", Solid(50, 30, new SKColor(255, 0, 0)));
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
        options.PretrainEpochs = 500;   // one batch per epoch on 20 images
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
        string model = Write("any.png", Solid(8, 8, SKColors.Red));   // any existing file passes the path check
        var std = Assert.Throws<ArgumentException>(() => ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions
        {
            Backbone = new OnnxImageBackbone { ModelPath = model, StandardDeviation = [0.2f, 0f, 0.2f] },
        }));
        Assert.Contains("StandardDeviation", std.Message);
        Assert.Contains("ImagePathColumnName", Assert.Throws<ArgumentException>(() =>
            ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions { ImagePathColumnName = " " })).Message);
    }

    private string Write(string name, SKBitmap bitmap, bool grayscale = false)
    {
        string path = Path.Combine(_folder, name);
        using (bitmap)
        {
            using var image = grayscale ? bitmap.Copy(SKColorType.Gray8) : bitmap.Copy();
            using var file = File.Create(path);
            image.Encode(file, name.EndsWith(".jpg") ? SKEncodedImageFormat.Jpeg : SKEncodedImageFormat.Png, 95);
        }
        return path;
    }

    private static SKBitmap Sun(int width, int height, Random random)
    {
        // One sky and one sun colour: the pictures differ in size and in where the sun stands.
        var bitmap = Solid(width, height, new SKColor(110, 190, 235));
        using var canvas = new SKCanvas(bitmap);
        using var paint = new SKPaint { Color = new SKColor(255, 190, 20), IsAntialias = true };
        canvas.DrawCircle(width * (0.3f + 0.4f * (float)random.NextDouble()), height * (0.3f + 0.4f * (float)random.NextDouble()), Math.Min(width, height) * 0.3f, paint);
        return bitmap;
    }

    private static SKBitmap Stripes(int width, int height, Random random)
    {
        var bitmap = Solid(width, height, SKColors.White);
        using var canvas = new SKCanvas(bitmap);
        // One stroke and spacing, so that every stripes picture has about the same mean gray.
        using var paint = new SKPaint { Color = SKColors.Black, StrokeWidth = 3 };
        float slant = height * (random.Next(2) == 0 ? 0.5f : -0.5f);
        for (int x = -height; x < width + height; x += 8)
            canvas.DrawLine(x, 0, x + slant, height, paint);
        return bitmap;
    }

    private static SKBitmap Solid(int width, int height, SKColor colour)
    {
        var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        bitmap.Erase(colour);
        return bitmap;
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
