using Microsoft.ML;
using Microsoft.ML.Transforms.Image;
using SkiaSharp;
using Microsoft.ML.DeepClustering.Samples.Input;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>The pipeline users write for a folder of images, through real PNG files on disk.</summary>
public class ImagePipelineTests
{
    private sealed class ImageFile
    {
        public string Path { get; set; } = "";
        public float Label { get; set; }
    }

    [Fact]
    public void LoadResizeGrayscaleExtractThenDeepClusterSeparatesTwoDigits()
    {
        string dir = TestData.NewTempDirectory();
        try
        {
            // 0s and 1s from MNIST, written as 32×32 colour PNGs (white digit on a blue background) so that resizing
            // and grayscale conversion have work to do.
            var images = MnistIdx.ReadImages(TestData.ImagesPath);
            var labels = MnistIdx.ReadLabels(TestData.LabelsPath);
            var files = new List<ImageFile>();
            for (int i = 0; i < labels.Length && files.Count < 160; i++)
            {
                if (labels[i] > 1)
                    continue;
                string name = $"digit{i}.png";
                WritePng(Path.Combine(dir, name), images.GetImage(i), images.Width, images.Height);
                files.Add(new ImageFile { Path = name, Label = labels[i] });
            }

            var ml = new MLContext(seed: 1) { TempFilePath = dir };
            var data = ml.Data.LoadFromEnumerable(files);
            var options = new DeepClusterOptions
            {
                NumberOfClusters = 2, HiddenLayers = new[] { 64 }, EmbeddingDimension = 4, PretrainEpochs = 15,
                BatchSize = 32, KMeansInitializations = 3, MaxIterations = 40, UpdateInterval = 10, Seed = 1,
            };
            var pipeline = ml.Transforms.LoadImages("Image", dir, nameof(ImageFile.Path))
                .Append(ml.Transforms.ResizeImages("Image", 28, 28))
                .Append(ml.Transforms.ConvertToGrayscale("Image"))
                .Append(ml.Transforms.ExtractPixels("Features", "Image",
                    colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1f / 255))
                .Append(ml.Transforms.DeepCluster(options));
            using var model = pipeline.Fit(data);
            var scored = model.Transform(data);

            var metrics = ClusteringQuality.Evaluate(scored, "Label", "PredictedClusterId");
            Assert.True(metrics.Accuracy >= 0.95, $"0 vs 1 accuracy {metrics.Accuracy:F3}");
            Assert.Equal(784, model.LastTransformer.InputDimension);

            // The whole pipeline, image loading included, saves and loads as one model.
            string zip = Path.Combine(dir, "images.zip");
            ml.Model.Save(model, data.Schema, zip);
            var loaded = new MLContext().Model.Load(zip, out _);
            Assert.Equal(TestData.KeyColumn(scored, "PredictedClusterId"), TestData.KeyColumn(loaded.Transform(data), "PredictedClusterId"));
            (loaded as IDisposable)?.Dispose();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void WritePng(string path, ReadOnlySpan<byte> pixels, int width, int height)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(32, 32, SKColorType.Rgba8888, SKAlphaType.Opaque));
        bitmap.Erase(new SKColor(0, 0, 40));
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                byte v = pixels[y * width + x];
                if (v > 0)
                    bitmap.SetPixel(x + 2, y + 2, new SKColor(v, v, v));
            }
        using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, png.ToArray());
    }
}
