using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// Photos through the feature route, side by side in one run: ResNet18 features (FeaturizeImages) then ML.NET's own
/// KMeans (what a .NET user can do today without us), then our ImageFeatures preset's seeding (autoencoder + k-means)
/// and its result after self-training; ACC, NMI, ARI and time per seed.
/// The set: Tux Paint's stamps (build/fetch-tuxpaint-stamps.sh), one class per category folder, each cut-out
/// composited onto white as users' photos are opaque (cached beside the stamps, in data/tuxpaint-stamps-on-white/).
/// </summary>
internal static class PhotoBenchmark
{
    public static int Run(string[] categories, int[] seeds, int? epochs, int[]? hiddenLayers, int? embeddingDimension, string? settings = null)
    {
        string stamps = MnistSets.Find("tuxpaint-stamps", categories[0]) ?? throw new DirectoryNotFoundException("The photos need data/tuxpaint-stamps/: run build/fetch-tuxpaint-stamps.sh.");
        var files = categories.SelectMany((c, label) => OnWhite(stamps, c).Select(f => new PhotoRow { ImagePath = f, Label = label })).ToList();
        Console.WriteLine($"{files.Count} images of {categories.Length} kinds ({string.Join(", ", categories.Select(c => $"{c} {files.Count(f => f.Label == Array.IndexOf(categories, c))}"))}), on white; largest class {files.GroupBy(f => f.Label).Max(g => g.Count()) / (double)files.Count:F3}");

        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(files);
        var clock = Stopwatch.StartNew();
        var featurized = ml.Data.Cache(ml.Transforms.FeaturizeImages(new ImageFeaturizerOptions()).Fit(data).Transform(data));
        int count = featurized.GetColumn<int>("Label").Count();   // runs the featurizer once, into the cache
        Console.WriteLine($"ResNet18 features of {count} images: {clock.Elapsed.TotalSeconds:F1} s");
        var labels = files.Select(f => f.Label).ToArray();
        // The pixel baseline: 32×32 colour thumbnails, what k-means sees without a network.
        var pixels = ml.Data.Cache(ml.Transforms.LoadImages("Image", null, nameof(PhotoRow.ImagePath))
            .Append(ml.Transforms.ResizeImages("Image", 32, 32))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image", scaleImage: 1f / 255))
            .Fit(data).Transform(data));

        Console.WriteLine($"{"method",-34} {"seed",4} {"ACC",7} {"NMI",7} {"ARI",7} {"time",8}");
        foreach (int seed in seeds)
        {
            var seeded = new MLContext(seed);
            clock.Restart();
            var kmeans = seeded.Clustering.Trainers.KMeans(new Microsoft.ML.Trainers.KMeansTrainer.Options { NumberOfClusters = categories.Length, FeatureColumnName = "Features" }).Fit(featurized);
            Print("ResNet18 + ML.NET KMeans", seed, labels, Ids(kmeans.Transform(featurized), "PredictedLabel"), clock.Elapsed);
            clock.Restart();
            var pixelKMeans = seeded.Clustering.Trainers.KMeans(new Microsoft.ML.Trainers.KMeansTrainer.Options { NumberOfClusters = categories.Length, FeatureColumnName = "Pixels" }).Fit(pixels);
            Print("32×32 pixels + ML.NET KMeans", seed, labels, Ids(pixelKMeans.Transform(pixels), "PredictedLabel"), clock.Elapsed);

            clock.Restart();
            var options = DeepClusterPresets.ImageFeatures();
            options.NumberOfClusters = categories.Length;
            options.Seed = seed;
            if (epochs is int e) options.PretrainEpochs = e;
            if (hiddenLayers is not null) options.HiddenLayers = hiddenLayers;
            if (embeddingDimension is int d) options.EmbeddingDimension = d;
            OptionSettings.Apply(options, settings);
            using var model = seeded.Transforms.DeepCluster(options).Fit(featurized);
            var elapsed = clock.Elapsed;
            Print("ResNet18 + ImageFeatures(): seeding", seed, labels, model.History.SeedingAssignments.Select(a => (uint)(a + 1)).ToArray(), model.History.PretrainingTime + model.History.SeedingTime);
            Print("ResNet18 + ImageFeatures(): DEC", seed, labels, Ids(model.Transform(featurized), "PredictedClusterId"), elapsed);
            if (model.History.ClusterCountCandidates.Count > 0)
                Console.WriteLine($"{"",34} {"",4} chose K = {model.NumberOfClusters} of {categories.Length} kinds by {model.History.ClusterCountCriterion}: " +
                    string.Join(", ", model.History.ClusterCountCandidates.Select(c => $"{c.NumberOfClusters}: {c.Score:F3}")));
            if (model.History.SelfTrainingVerdict is { } v)
                Console.WriteLine($"{"",34} {"",4} silhouette, pretrained embedding / input (seeding → final): {QualityBenchmark.Verdict(v)}");
        }
        return 0;
    }

    private static uint[] Ids(IDataView scored, string column) => scored.GetColumn<uint>(column).ToArray();

    private static void Print(string method, int seed, int[] labels, uint[] ids, TimeSpan time)
    {
        var m = ClusteringQuality.Evaluate(labels, ids);
        Console.WriteLine($"{method,-34} {seed,4} {m.Accuracy,7:F3} {m.NormalizedMutualInformation,7:F3} {m.AdjustedRandIndex,7:F3} {time.TotalSeconds,7:F1}s");
    }

    /// <summary>The category's PNG stamps composited onto white, made once and cached.</summary>
    internal static List<string> OnWhite(string stamps, string category)
    {
        string source = Path.Combine(stamps, category);
        if (!Directory.Exists(source))
            throw new DirectoryNotFoundException($"No category '{category}' in {stamps}; it has {string.Join(", ", Directory.GetDirectories(stamps).Select(Path.GetFileName))}.");
        string target = Path.Combine(Path.GetDirectoryName(stamps)!, "tuxpaint-stamps-on-white", category);
        var result = new List<string>();
        foreach (string file in Directory.EnumerateFiles(source, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string output = Path.Combine(target, Path.GetRelativePath(source, file));
            if (!File.Exists(output))
            {
                using var bitmap = SKBitmap.Decode(file);
                if (bitmap is null) continue;
                using var white = new SKBitmap(bitmap.Width, bitmap.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
                using (var canvas = new SKCanvas(white))
                {
                    canvas.Clear(SKColors.White);
                    canvas.DrawBitmap(bitmap, 0, 0);
                }
                Directory.CreateDirectory(Path.GetDirectoryName(output)!);
                using var stream = File.Create(output);
                white.Encode(stream, SKEncodedImageFormat.Png, 100);
            }
            result.Add(output);
        }
        return result;
    }

    private sealed class PhotoRow
    {
        public string ImagePath { get; set; } = "";
        public int Label { get; set; }
    }
}
