using System.Diagnostics;
using Microsoft.ML.Data;
using SkiaSharp;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// How fast photos are featurized, on a folder of a few thousand made from the Tux Paint stamps (random crops, flips,
/// colour changes and sizes, written once): ML.NET's FeaturizeImages transformer (one image per ONNX Runtime call),
/// the batched featurizer the tool uses, and a rerun that finds every image in the feature cache, all in one process,
/// one after the other, so that the ratios compare like with like.
/// </summary>
internal static class PhotoRateBenchmark
{
    public static int Run(int count, string? folder, int oneAtATime, int batchSize, string? backbonePath)
    {
        string stamps = MnistSets.Find("tuxpaint-stamps", "animals") ?? throw new DirectoryNotFoundException("The photos need data/tuxpaint-stamps/: run build/fetch-tuxpaint-stamps.sh.");
        folder ??= Path.Combine(Path.GetTempPath(), $"deepcluster-photo-rate-{count}");
        var files = MakeFolder(stamps, folder, count);
        long bytes = files.Sum(f => new FileInfo(f).Length);
        Console.WriteLine($"# Photo featurizing rate, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores");
        Console.WriteLine($"{files.Count:N0} JPEG photos in {folder} ({bytes / (1 << 20):N0} MB), made from the Tux Paint stamps.");

        var ml = new MLContext(seed: 1);
        var options = new ImageFeaturizerOptions { ImagePathColumnName = "Path", OutputColumnName = "Features", ImageFolder = folder };
        if (backbonePath is not null)
        {
            var inspected = OnnxBackboneInspection.Inspect(backbonePath);
            // The shared InceptionV3 reads pixels at 0..1: mean 0, standard deviation 1 after the /255.
            options.Backbone = inspected.ToBackbone([0f, 0f, 0f], [1f, 1f, 1f]);
            Console.WriteLine($"Backbone {backbonePath}: input {inspected.InputName} {inspected.ImageWidth}x{inspected.ImageHeight}, output {inspected.Output.Name} ({inspected.Reason})");
        }
        var relative = files.Select(f => Path.GetRelativePath(folder, f)).ToList();

        // 1. The transformer, one image per call, on the first images only (it is the slow path).
        int n1 = Math.Min(oneAtATime, relative.Count);
        var firstRows = ml.Data.LoadFromEnumerable(relative.Take(n1).Select(p => new PathRow { Path = p }).ToList());
        var clock = Stopwatch.StartNew();
        var transformer = ml.Transforms.FeaturizeImages(options).Fit(firstRows);
        var fitSeconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var oneByOne = transformer.Transform(firstRows).GetColumn<float[]>("Features").ToList();
        double rate1 = n1 / clock.Elapsed.TotalSeconds;
        Console.WriteLine($"FeaturizeImages transformer, one image per call: {n1:N0} images in {clock.Elapsed.TotalSeconds:F1} s = {rate1:F1} images/s (fit {fitSeconds:F1} s, not counted)");
        (transformer as IDisposable)?.Dispose();

        // 2. The batched featurizer, every image, keeping each result in a fresh feature cache as the tool does.
        string cacheFolder = Path.Combine(Path.GetTempPath(), $"deepcluster-photo-rate-cache-{Environment.ProcessId}");
        try
        {
            var cache = new ImageFeatureCache(cacheFolder, $"photo-rate {backbonePath ?? "resnet18"}");
            var keys = new string[relative.Count];
            clock.Restart();
            float[][] batched;
            using (var featurizer = new BatchedImageFeaturizer(ml, options, batchSize))
            {
                batched = featurizer.Featurize(relative, null, (i, values) =>
                {
                    keys[i] = ImageFeatureCache.ContentHash(files[i]);
                    cache.Put(keys[i], values);
                });
                double seconds = clock.Elapsed.TotalSeconds;
                Console.WriteLine($"Batched featurizer ({featurizer.BatchSize} per call), cache written: {relative.Count:N0} images in {seconds:F1} s = {relative.Count / seconds:F1} images/s, {relative.Count / seconds / rate1:F2}× the transformer's rate");
            }
            double first = clock.Elapsed.TotalSeconds;
            float worst = 0;
            for (int i = 0; i < n1; i++)
                for (int j = 0; j < oneByOne[i].Length; j++)
                    worst = Math.Max(worst, Math.Abs(oneByOne[i][j] - batched[i][j]));
            Console.WriteLine($"Largest difference between the two paths' features on the first {n1:N0} images: {worst:E1}");

            // 3. A rerun on the unchanged folder: every file hashed and found in the cache, as the tool's lookup does.
            clock.Restart();
            int hits = 0;
            for (int i = 0; i < files.Count; i++)
                if (new ImageFeatureCache(cacheFolder, $"photo-rate {backbonePath ?? "resnet18"}").TryGet(ImageFeatureCache.ContentHash(files[i])) is { } hit && hit.AsSpan().SequenceEqual(batched[i]))
                    hits++;
            double rerun = clock.Elapsed.TotalSeconds;
            Console.WriteLine($"Rerun from the cache: {hits:N0} of {files.Count:N0} hits in {rerun:F2} s = {100 * rerun / first:F1} % of the first run's featurizing time");
        }
        finally
        {
            if (Directory.Exists(cacheFolder))
                Directory.Delete(cacheFolder, recursive: true);
        }
        return 0;
    }

    /// <summary>
    /// <paramref name="count"/> photos from every stamp category, each a seeded random crop (60–100 % of each side), a
    /// horizontal flip half the time, a colour change (each channel scaled by 0.75–1.25) and a size (longer side
    /// 256–800 px), written as JPEG once; an existing folder with the same count is reused.
    /// </summary>
    internal static List<string> MakeFolder(string stamps, string folder, int count)
    {
        var existing = Directory.Exists(folder) ? Directory.GetFiles(folder, "*.jpg").Order(StringComparer.Ordinal).ToList() : new List<string>();
        if (existing.Count == count)
            return existing;
        var sources = Directory.GetDirectories(stamps).Order(StringComparer.Ordinal)
            .SelectMany(c => PhotoBenchmark.OnWhite(stamps, Path.GetFileName(c))).ToList();
        string partial = folder + ".partial";
        if (Directory.Exists(partial))
            Directory.Delete(partial, recursive: true);
        Directory.CreateDirectory(partial);
        var random = new Random(20261207);
        for (int i = 0; i < count; i++)
        {
            using var source = SKBitmap.Decode(sources[i % sources.Count]);
            float cropW = source.Width * (0.6f + 0.4f * random.NextSingle()), cropH = source.Height * (0.6f + 0.4f * random.NextSingle());
            float left = (source.Width - cropW) * random.NextSingle(), top = (source.Height - cropH) * random.NextSingle();
            bool flip = random.Next(2) == 1;
            float r = 0.75f + 0.5f * random.NextSingle(), g = 0.75f + 0.5f * random.NextSingle(), b = 0.75f + 0.5f * random.NextSingle();
            int longer = 256 + random.Next(545);
            float scale = longer / Math.Max(cropW, cropH);
            int width = Math.Max(16, (int)(cropW * scale)), height = Math.Max(16, (int)(cropH * scale));
            using var target = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
            using (var canvas = new SKCanvas(target))
            using (var paint = new SKPaint { FilterQuality = SKFilterQuality.Medium })
            {
                canvas.Clear(SKColors.White);
                paint.ColorFilter = SKColorFilter.CreateColorMatrix(new float[] { r, 0, 0, 0, 0, 0, g, 0, 0, 0, 0, 0, b, 0, 0, 0, 0, 0, 1, 0 });
                if (flip)
                {
                    canvas.Translate(width, 0);
                    canvas.Scale(-1, 1);
                }
                canvas.DrawBitmap(source, SKRect.Create(left, top, cropW, cropH), SKRect.Create(0, 0, width, height), paint);
            }
            using var stream = File.Create(Path.Combine(partial, $"{i:D5}.jpg"));
            target.Encode(stream, SKEncodedImageFormat.Jpeg, 90);
        }
        // Whole or not at all: a stopped run leaves only the .partial folder, which the next run starts over.
        if (Directory.Exists(folder))
            Directory.Delete(folder, recursive: true);
        Directory.Move(partial, folder);
        return Directory.GetFiles(folder, "*.jpg").Order(StringComparer.Ordinal).ToList();
    }

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }
}
