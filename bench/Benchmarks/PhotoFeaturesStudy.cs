using System.Diagnostics;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Seeding;
using Microsoft.ML.DeepClustering.Training;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// Which ResNet18 features and which head cluster photos best, side by side in one run: the last pooling alone, averaged
/// with the mirrored image's, or concatenated with the pooled outputs of earlier stages (each part at unit length);
/// or averaged over 4 views (as is, mirrored, zoomed out onto white, centre 80 %);
/// then heads on them: ML.NET's KMeans, k-means++ with 10 restarts, PCA-whitened k-means, spectral clustering of the
/// nearest-neighbour graph, with or without PCA first. No autoencoder: this asks what the features themselves give.
/// With --restarts N it instead runs N single k-means++ restarts on the last pooling and shows which rule for picking
/// a restart (lowest inertia, highest silhouette, lowest Davies–Bouldin, highest Calinski–Harabasz) agrees with the
/// labels, and how far apart equally good restarts are.
/// </summary>
internal static class PhotoFeaturesStudy
{
    public static int Run(string[] categories, int[] seeds, int[] neighbours, int[] pcaDims, int restarts)
    {
        string stamps = MnistSets.Find("tuxpaint-stamps", categories[0]) ?? throw new DirectoryNotFoundException("Run build/fetch-tuxpaint-stamps.sh.");
        var rows = categories.SelectMany((c, label) => PhotoBenchmark.OnWhite(stamps, c).Select(f => (File: f, Label: label))).ToList();
        var labels = rows.Select(r => r.Label).ToArray();
        int k = categories.Length;
        Console.WriteLine($"{rows.Count} images of {k} kinds; largest class {labels.GroupBy(l => l).Max(g => g.Count()) / (double)rows.Count:F3}");
        var clock = Stopwatch.StartNew();
        var files = rows.Select(r => r.File).ToList();
        var layers = LayerFeatures.Compute(files);
        var mirrored = LayerFeatures.Compute(files.Select(f => View(f, "mirror")).ToList());
        Dictionary<string, float[][]>? zoomedOut = null, cropped = null;
        if (restarts == 0)
        {
            zoomedOut = LayerFeatures.Compute(files.Select(f => View(f, "zoom-out")).ToList());
            cropped = LayerFeatures.Compute(files.Select(f => View(f, "crop")).ToList());
        }
        Console.WriteLine($"features of the views: {clock.Elapsed.TotalSeconds:F0} s; dims {string.Join(", ", layers.Values.Select(v => v[0].Length))}");
        string last = LayerFeatures.Stages[^1], l3 = LayerFeatures.Stages[^2], l2 = LayerFeatures.Stages[^3], l1 = LayerFeatures.Stages[1];
        if (restarts > 0)
        {
            Restarts(Unit(layers[last]), labels, k, restarts);
            return 0;
        }
        var variants = new Dictionary<string, float[][]>
        {
            ["last"] = Unit(layers[last]),
            ["last+mirror"] = Mean(Unit(layers[last]), Unit(mirrored[last])),
            ["last, 4 views"] = Mean(Unit(layers[last]), Unit(mirrored[last]), Unit(zoomedOut![last]), Unit(cropped![last])),
            ["last|-1"] = Concat(Unit(layers[last]), Unit(layers[l3])),
            ["last|-1|-2"] = Concat(Unit(layers[last]), Unit(layers[l3]), Unit(layers[l2])),
            ["last|-1|-2|-3"] = Concat(Unit(layers[last]), Unit(layers[l3]), Unit(layers[l2]), Unit(layers[l1])),
            ["(last|-1|-2)+mirror"] = Mean(Concat(Unit(layers[last]), Unit(layers[l3]), Unit(layers[l2])), Concat(Unit(mirrored[last]), Unit(mirrored[l3]), Unit(mirrored[l2]))),
        };
        Console.WriteLine($"{"features",-24} {"head",-26} {"ACC (seeds)",-24} {"NMI (seeds)",-24} {"mean ACC / NMI"}");
        foreach (var (name, features) in variants)
        {
            Report(name, "ML.NET KMeans", labels, seeds, seed => MlNetKMeans(features, k, seed));
            Report(name, "k-means++ ×10", labels, seeds, seed => Ours(features, k, seed, SeedingMethod.KMeans, 0, 0));
            foreach (int d in pcaDims)
                Report(name, $"PCA-whiten {d} + k-means", labels, seeds, seed => Ours(features, k, seed, SeedingMethod.KMeans, 0, d));
            foreach (int m in neighbours)
            {
                Report(name, $"spectral {m}-NN", labels, seeds, seed => Ours(features, k, seed, SeedingMethod.Spectral, m, 0));
                foreach (int d in pcaDims)
                    Report(name, $"PCA {d} + spectral {m}-NN", labels, seeds, seed => Ours(features, k, seed, SeedingMethod.Spectral, m, d));
            }
        }
        return 0;
    }

    /// <summary>Single k-means++ restarts: which criterion's pick agrees best with the labels?</summary>
    private static void Restarts(float[][] features, int[] labels, int k, int count)
    {
        var all = Enumerable.Range(0, features.Length).ToArray();
        var runs = new List<(double Inertia, double Silhouette, double Db, double Ch, double Acc, double Nmi)>();
        for (int r = 0; r < count; r++)
        {
            var ids = Ours(features, k, 1000 + r, SeedingMethod.KMeans, 0, 0, restarts: 1);
            int[] l = ids.Select(i => (int)i - 1).ToArray();
            var centroids = ClusterMeans(features, l, k);
            var q = ClusteringQuality.Evaluate(labels, ids);
            runs.Add((ClusterCountCriteria.Inertia(features, l, centroids), ClusterCountCriteria.Silhouette(features, l, k, all),
                ClusterCountCriteria.DaviesBouldin(features, l, centroids), ClusterCountCriteria.CalinskiHarabasz(features, l, centroids), q.Accuracy, q.NormalizedMutualInformation));
        }
        void Show(string rule, (double Inertia, double Silhouette, double Db, double Ch, double Acc, double Nmi) pick) => Console.WriteLine($"{rule,-22} ACC {pick.Acc:F3} NMI {pick.Nmi:F3}");
        Show("lowest inertia", runs.MinBy(r => r.Inertia));
        Show("highest silhouette", runs.MaxBy(r => r.Silhouette));
        Show("lowest Davies-Bouldin", runs.MinBy(r => r.Db));
        Show("highest Calinski-H.", runs.MaxBy(r => r.Ch));
        Console.WriteLine($"{"mean of restarts",-22} ACC {runs.Average(r => r.Acc):F3} NMI {runs.Average(r => r.Nmi):F3}; best ACC {runs.Max(r => r.Acc):F3}");
        foreach (var r in runs.OrderBy(r => r.Inertia))
            Console.WriteLine($"  inertia {r.Inertia:F2} silhouette {r.Silhouette:F3} DB {r.Db:F3} CH {r.Ch:F1} ACC {r.Acc:F3} NMI {r.Nmi:F3}");
    }

    private static void Report(string features, string head, int[] labels, int[] seeds, Func<int, uint[]> cluster)
    {
        var metrics = seeds.Select(s => ClusteringQuality.Evaluate(labels, cluster(s))).ToList();
        Console.WriteLine($"{features,-24} {head,-26} {string.Join(" ", metrics.Select(m => m.Accuracy.ToString("F3"))),-24} {string.Join(" ", metrics.Select(m => m.NormalizedMutualInformation.ToString("F3"))),-24} " +
            $"{metrics.Average(m => m.Accuracy):F3} / {metrics.Average(m => m.NormalizedMutualInformation):F3}");
    }

    private static uint[] MlNetKMeans(float[][] features, int k, int seed)
    {
        var ml = new MLContext(seed);
        var data = ml.Data.LoadFromEnumerable(features.Select(f => new Row { Features = f }), SchemaFor(features[0].Length));
        var model = ml.Clustering.Trainers.KMeans(new Microsoft.ML.Trainers.KMeansTrainer.Options { NumberOfClusters = k }).Fit(data);
        return model.Transform(data).GetColumn<uint>("PredictedLabel").ToArray();
    }

    private static SchemaDefinition SchemaFor(int d)
    {
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, d);
        return schema;
    }

    private static uint[] Ours(float[][] features, int k, int seed, SeedingMethod seeding, int neighbours, int pcaDim, int restarts = 10)
    {
        using var scope = NewDisposeScope();
        var options = new DeepClusterOptions { NumberOfClusters = k, KMeansInitializations = restarts, Seeding = seeding, SpectralNeighbors = Math.Max(neighbours, 1) };
        using var context = new TrainingContext(options, CPU, seed, CancellationToken.None, _ => { });
        var x = Matrix(features);
        if (pcaDim > 0)
            x = Whiten(x, pcaDim);
        using var prepared = Seedings.Create(options, context.ForSeeding).Prepare(x, k);
        return prepared.Cluster(k).Assignments.Select(a => (uint)(a + 1)).ToArray();
    }

    private static Tensor Matrix(float[][] rows) => tensor(rows.SelectMany(f => f).ToArray(), new long[] { rows.Length, rows[0].Length });

    /// <summary>Each cluster's mean row (zeros for an empty one), by the seeding's own <see cref="KMeans.ClusterMeans"/>.</summary>
    private static float[][] ClusterMeans(float[][] features, int[] labels, int k)
    {
        using var scope = NewDisposeScope();
        var (means, _) = KMeans.ClusterMeans(Matrix(features), tensor(labels.Select(l => (long)l).ToArray()), k);
        return Enumerable.Range(0, k).Select(c => means[c].data<float>().ToArray()).ToArray();
    }

    /// <summary>Centred, projected on the top d principal directions, each scaled to unit variance, rows to unit length.</summary>
    private static Tensor Whiten(Tensor x, int d)
    {
        var centred = x - x.mean(new long[] { 0 }, keepdim: true);
        var (u, s, _) = linalg.svd(centred, fullMatrices: false);
        var projected = u[.., ..d] * Math.Sqrt(x.shape[0]);
        return projected / projected.norm(1, keepdim: true).clamp_min(1e-12);
    }

    private static float[][] Unit(float[][] x) => Mean(x);

    private static float[][] Concat(params float[][][] parts) => Unit(Enumerable.Range(0, parts[0].Length).Select(i => parts.SelectMany(p => p[i]).ToArray()).ToArray());

    private static float[][] Mean(params float[][][] views)
    {
        var result = new float[views[0].Length][];
        for (int i = 0; i < result.Length; i++)
        {
            var sum = new float[views[0][i].Length];
            foreach (var v in views)
                for (int j = 0; j < sum.Length; j++)
                    sum[j] += v[i][j];
            float norm = MathF.Sqrt(sum.Sum(a => a * a));
            result[i] = sum.Select(a => a / norm).ToArray();
        }
        return result;
    }

    /// <summary>The image mirrored, zoomed out (a white margin of a quarter of each side) or cropped to its central 80 %, cached.</summary>
    private static string View(string file, string view)
    {
        string output = file.Replace("tuxpaint-stamps-on-white", Path.Combine("tuxpaint-stamps-views", view));
        if (File.Exists(output))
            return output;
        using var bitmap = SKBitmap.Decode(file);
        int w = bitmap.Width, h = bitmap.Height;
        var (outW, outH) = view switch { "zoom-out" => (w * 3 / 2, h * 3 / 2), "crop" => (w * 4 / 5, h * 4 / 5), _ => (w, h) };
        using var result = new SKBitmap(outW, outH, SKColorType.Rgba8888, SKAlphaType.Premul);
        using (var canvas = new SKCanvas(result))
        {
            canvas.Clear(SKColors.White);
            if (view == "mirror")
            {
                canvas.Scale(-1, 1, w / 2f, 0);
                canvas.DrawBitmap(bitmap, 0, 0);
            }
            else
                canvas.DrawBitmap(bitmap, (outW - w) / 2f, (outH - h) / 2f);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        using var stream = File.Create(output);
        result.Encode(stream, SKEncodedImageFormat.Png, 100);
        return output;
    }

    private sealed class Row { public float[] Features { get; set; } = []; }
}

/// <summary>An ONNX graph's inputs, outputs and its activation and pooling nodes, to find the blocks to pool.</summary>
internal static class OnnxNodes
{
    public static int Print(string path)
    {
        var model = Microsoft.ML.DeepClustering.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        Console.WriteLine($"opset {string.Join(",", model.OpsetImport.Select(o => o.Domain + ":" + o.Version))}; inputs {string.Join(",", model.Graph.Input.Select(i => i.Name))}; outputs {string.Join(",", model.Graph.Output.Select(i => i.Name + " " + i.Type.TensorType.Shape))}");
        foreach (var n in model.Graph.Node)
            if (n.OpType is "Relu" or "GlobalAveragePool" or "AveragePool" or "Add" or "Reshape" or "Flatten" or "MaxPool")
                Console.WriteLine($"{n.OpType} {string.Join(",", n.Input)} -> {string.Join(",", n.Output)}");
        return 0;
    }
}

/// <summary>
/// ResNet18's global average pool of the outputs of its last residual blocks, by ONNX Runtime directly: the shipped
/// graph (ML.NET's ResNet18Onnx, fed by its ResNetPreprocess graph as DnnFeaturizeImage does) with a
/// GlobalAveragePool output added after each block named in <see cref="Stages"/> (64, 128, 256, 512 and 512 channels).
/// </summary>
internal static class LayerFeatures
{
    public static readonly string[] Stages = ["ReLU283_Output_0", "ReLU315_Output_0", "ReLU347_Output_0", "ReLU379_Output_0", "ReLU393_Output_0"];

    public static Dictionary<string, float[][]> Compute(List<string> files)
    {
        string models = Path.Combine(AppContext.BaseDirectory, "DnnImageModels");
        var model = Microsoft.ML.DeepClustering.Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(models, "ResNet18Onnx", "ResNet18.onnx")));
        foreach (string stage in Stages)
        {
            var pool = new Microsoft.ML.DeepClustering.Onnx.Proto.NodeProto { OpType = "GlobalAveragePool", Name = "gap_" + stage };
            pool.Input.Add(stage);
            pool.Output.Add("gap_" + stage);
            model.Graph.Node.Add(pool);
            model.Graph.Output.Add(new Microsoft.ML.DeepClustering.Onnx.Proto.ValueInfoProto { Name = "gap_" + stage, Type = new() { TensorType = new() { ElemType = 1 } } });
        }
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 2 };
        using var prep = new Microsoft.ML.OnnxRuntime.InferenceSession(Path.Combine(models, "ResNetPrepOnnx", "ResNetPreprocess.onnx"), options);
        using var net = new Microsoft.ML.OnnxRuntime.InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model), options);
        var result = Stages.ToDictionary(s => s, _ => new float[files.Count][]);
        string prepInput = prep.InputMetadata.Keys.Single(), netInput = net.InputMetadata.Keys.Single();
        for (int i = 0; i < files.Count; i++)
        {
            using var bitmap = SKBitmap.Decode(files[i]).Resize(new SKImageInfo(224, 224, SKColorType.Rgba8888), SKFilterQuality.Medium);
            var pixels = new float[3 * 224 * 224];
            for (int y = 0; y < 224; y++)
                for (int x = 0; x < 224; x++)
                {
                    var c = bitmap.GetPixel(x, y);
                    pixels[y * 224 + x] = c.Red; pixels[224 * 224 + y * 224 + x] = c.Green; pixels[2 * 224 * 224 + y * 224 + x] = c.Blue;
                }
            var shape = prep.InputMetadata[prepInput].Dimensions.Select(d => Math.Max(d, 1)).ToArray();
            using var prepared = prep.Run(new[] { Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(prepInput, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(pixels, shape)) });
            var tensorIn = prepared.First().AsTensor<float>();
            using var outputs = net.Run(new[] { Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(netInput, tensorIn) });
            foreach (var o in outputs.Where(o => o.Name.StartsWith("gap_")))
                result[o.Name["gap_".Length..]][i] = o.AsTensor<float>().ToArray();
        }
        return result;
    }
}
