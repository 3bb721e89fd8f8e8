using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// How a Fit scales with the rows: MNIST-like digits (<see cref="ScaleData.MnistLike"/>) or mixture vectors
/// (<see cref="ScaleData.Mixture"/>) at each size asked, each stage's time, peak working set and cost per row, and
/// ACC/NMI/ARI beside ML.NET's KMeans on the same input. Stages are told apart by the Fit's own log and progress:
/// read (until training starts), pretrain, graph (spectral seeding's neighbour graph and eigenvectors), seed, self-train
/// (the rest of Fit), score (Transform over every row). Peaks are per stage: the kernel's high-water mark is reset
/// between stages (/proc/self/clear_refs), so each figure is that stage's own peak, runtimes included.
/// </summary>
internal static class ScaleBenchmark
{
    private static readonly string[] Stages = ["read", "pretrain", "graph", "seed", "self-train", "score"];

    public static int Run(string data, long[] sizes, string preset, int seed, string? settings, bool kmeans, int vectorDimensions = 384, long? kmeansRows = null, string? embeddingOut = null)
    {
        Console.WriteLine($"# Scale benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {CpuName()}");
        Console.WriteLine("| data | rows | method | " + string.Join(" | ", Stages.Select(s => $"{s} s (µs/row), peak MB")) + " | ACC / NMI / ARI | KMeans ACC / NMI / ARI (s) |");
        Console.WriteLine("|---|---|---|" + string.Concat(Enumerable.Repeat("---|", Stages.Length)) + "---|---|");
        foreach (long rows in sizes)
        {
            var ml = new MLContext(seed: seed);
            var (view, dimensions, k, labels) = Make(ml, data, rows, seed, vectorDimensions);
            var options = DeepClusterPresets.Get(preset);
            options.Seed = seed;
            options.NumberOfClusters = k;
            OptionSettings.Apply(options, settings);

            var marks = new Dictionary<string, (double Seconds, long PeakMb)>();
            var clock = Stopwatch.StartNew();
            double last = 0;
            void Mark(string stage)
            {
                lock (marks)
                {
                    if (marks.ContainsKey(stage))
                        return;
                    double now = clock.Elapsed.TotalSeconds;
                    marks[stage] = (now - last, PeakMb());
                    last = now;
                    ResetPeak();
                }
            }
            ml.Log += (_, e) =>
            {
                if (e.Message.Contains("Warning") || e.Message.Contains("Spectral seeding") || e.Message.Contains("k-means:")) Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss} {e.Message}");
                if (e.Message.Contains("Training on ")) Mark("read");
                // A finished checkpoint reports no epochs: pretraining ends when it is loaded.
                else if (FinishedCheckpoint(e.Message)) Mark("pretrain");
                else if (e.Message.Contains("leading eigenvectors of the")) Mark("graph");
                else if (e.Message.Contains(" seeding, K = ") || e.Message.Contains("Chose K = ")) { Mark("graph"); Mark("seed"); }
            };
            options.Progress = new ProgressCallback(report =>
            {
                if (report.Stage == DeepClusterStage.Pretraining && report.Step == report.TotalSteps) Mark("pretrain");
                if (report.Stage == DeepClusterStage.Pretraining && report.Step % 10 == 0)
                    Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss} {report}");
            });
            ResetPeak();
            using var model = ml.Transforms.DeepCluster(options).Fit(view);
            Mark("pretrain"); Mark("graph"); Mark("seed"); Mark("self-train");
            // Exact figures of each stage's output, so that two runs of one command can be compared stage by stage.
            Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss} fingerprints: last pretraining loss {model.History.PretrainLosses[^1]:R}, " +
                $"k-means inertias {string.Join(" ", model.History.KMeansInertias.Select(v => v.ToString("R")))}, " +
                $"seeding partition hash {model.History.SeedingAssignments.Aggregate(17L, (h, a) => h * 31 + a)}, final hash {model.History.FinalAssignments.Aggregate(17L, (h, a) => h * 31 + a)}");
            var seeded = ClusteringQuality.Evaluate(labels, model.History.SeedingAssignments.Select(a => (uint)(a + 1)).ToArray());
            Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss} self-training: {model.History.StopReason} after {model.History.SelfTrainingSteps} steps; " +
                $"the seeding's partition scored ACC / NMI {seeded.Accuracy:F4} / {seeded.NormalizedMutualInformation:F4}");
            var scored = model.Transform(view);
            // With --embedding-out, the same pass over the rows also writes their embedding.
            var predicted = embeddingOut is null ? scored.GetColumn<uint>("PredictedClusterId").ToArray()
                : ScoreWritingEmbedding(scored, options.EmbeddingColumnName, labels, embeddingOut);
            Mark("score");
            var quality = ClusteringQuality.Evaluate(labels, predicted);
            string baseline = kmeans ? KMeansBaseline(ml, view, labels, k, kmeansRows) + (kmeansRows is long f && f < rows ? $", fitted on {f:N0} rows" : "") : "";
            string Cell(string stage) => marks.TryGetValue(stage, out var m) ? $"{m.Seconds:F1} ({m.Seconds * 1e6 / rows:F0}), {m.PeakMb}" : "";
            Console.WriteLine($"| {data} {dimensions}-d | {rows:N0} | {preset}{(settings is null ? "" : $", {settings}")} | {string.Join(" | ", Stages.Select(Cell))} | " +
                $"{quality.Accuracy:F4} / {quality.NormalizedMutualInformation:F4} / {quality.AdjustedRandIndex:F4} | {baseline} |");
        }
        return 0;
    }

    private static (IDataView View, int Dimensions, int K, int[] Labels) Make(MLContext ml, string data, long rows, int seed, int vectorDimensions)
    {
        switch (data)
        {
            case "mnist-like":
                var source = Source(ml);
                var digits = ScaleData.MnistLike(source, rows, seed);
                return (ScaleData.View(ml, digits, 784), 784, 10, Labels(ScaleData.MnistLike(source, rows, seed)));
            case "vectors":
                return (ScaleData.View(ml, ScaleData.Mixture(rows, vectorDimensions, 20, 1.0, seed), vectorDimensions), vectorDimensions, 20, Labels(ScaleData.Mixture(rows, vectorDimensions, 20, 1.0, seed)));
            default:
                throw new ArgumentException($"Unknown data '{data}'; expected mnist-like or vectors.");
        }
    }

    private static int[] Labels(IEnumerable<ScaleData.Row> rows) => rows.Select(r => (int)r.Label).ToArray();

    /// <summary>MNIST-full's 70,000 digits when fetched (build/fetch-mnist.sh), else the 10,000 shipped test digits.</summary>
    private static List<(float[] Pixels, int Label)> Source(MLContext ml)
    {
        IDataView view;
        try { view = MnistSets.Load(ml, "mnist-full", null).Data; }
        catch (FileNotFoundException)
        {
            Console.Error.WriteLine("MNIST-full not found (build/fetch-mnist.sh): deforming the 10,000 MNIST test digits instead.");
            view = MnistSets.Load(ml, "mnist-test", null).Data;
        }
        return ml.Data.CreateEnumerable<MnistSets.Row>(view, reuseRowObject: false).Select(r => (r.Features, (int)r.Label)).ToList();
    }

    /// <summary>
    /// ML.NET's <c>KMeans</c> with its defaults on the same rows, fitted on all of them or, with
    /// <paramref name="fitRows"/>, on the first that many (the generators draw rows independently, so they are a
    /// random sample), then scored on all.
    /// </summary>
    private static string KMeansBaseline(MLContext ml, IDataView view, int[] labels, int k, long? fitRows)
    {
        var clock = Stopwatch.StartNew();
        var fitOn = fitRows is long take && take < labels.Length ? ml.Data.TakeRows(view, take) : view;
        var model = ml.Clustering.Trainers.KMeans("Features", numberOfClusters: k).Fit(fitOn);
        var predicted = model.Transform(view).GetColumn<uint>("PredictedLabel").ToArray();
        var q = ClusteringQuality.Evaluate(labels, predicted);
        return $"{q.Accuracy:F4} / {q.NormalizedMutualInformation:F4} / {q.AdjustedRandIndex:F4} ({clock.Elapsed.TotalSeconds:F0})";
    }

    /// <summary>
    /// Every row's PredictedClusterId, read in one pass that also writes the embedding column and the labels, for
    /// <c>graphs --data embedding-file:FILE</c>: with <c>--set MaxIterations=0</c> that is the pretrained embedding
    /// seeding ran on. Little-endian: rows and dimensions (int32), the labels (int32 each), then the rows (float32).
    /// </summary>
    private static uint[] ScoreWritingEmbedding(IDataView scored, string column, int[] labels, string path)
    {
        var predicted = new uint[labels.Length];
        using var writer = new BinaryWriter(File.Create(path));
        writer.Write(labels.Length);
        writer.Write(0);   // the dimensions, written once the first row is read
        foreach (int label in labels) writer.Write(label);
        var embedding = scored.Schema[column];
        var cluster = scored.Schema["PredictedClusterId"];
        using var cursor = scored.GetRowCursor(new[] { embedding, cluster });
        var getEmbedding = cursor.GetGetter<VBuffer<float>>(embedding);
        var getCluster = cursor.GetGetter<uint>(cluster);
        VBuffer<float> row = default;
        int dims = 0, read = 0;
        while (cursor.MoveNext())
        {
            getEmbedding(ref row);
            getCluster(ref predicted[read++]);
            dims = row.Length;
            foreach (float v in row.DenseValues()) writer.Write(v);
        }
        writer.Seek(4, SeekOrigin.Begin);
        writer.Write(dims);
        Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss} {read:N0} rows of the {dims}-d embedding written to {path}");
        return predicted;
    }

    /// <summary>"Resuming pretraining from '…' after epoch E of E.": nothing left to pretrain.</summary>
    private static bool FinishedCheckpoint(string message)
    {
        var match = System.Text.RegularExpressions.Regex.Match(message, @"Resuming pretraining from .* after epoch (\d+) of (\d+)\.");
        return match.Success && match.Groups[1].Value == match.Groups[2].Value;
    }

    private static long PeakMb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:"))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;
        return Process.GetCurrentProcess().PeakWorkingSet64 >> 20;
    }

    /// <summary>Linux: writing 5 to clear_refs resets the peak resident set size, so that the next reading is the next stage's own.</summary>
    private static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static string CpuName()
    {
        try
        {
            var lines = File.ReadAllLines("/proc/cpuinfo");
            string Field(string name) => lines.FirstOrDefault(l => l.StartsWith(name))?.Split(':', 2)[1].Trim() ?? "?";
            return $"{Field("model name")} (family {Field("cpu family")}, model {Field("model\t")})";
        }
        catch (IOException) { return Environment.OSVersion.ToString(); }
    }
}
