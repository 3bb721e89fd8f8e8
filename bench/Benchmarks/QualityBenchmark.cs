using System.Diagnostics;
using Microsoft.ML;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// Method × dataset × seed: ACC, NMI, ARI, wall time and peak working set of each run, printed as a Markdown table.
/// Budgets (epochs, self-training steps) are printed with every row, because on 2 CPU cores we run shorter
/// configurations than the papers did.
/// </summary>
internal static class QualityBenchmark
{
    public static int Run(string[] methods, string[] datasets, int[] seeds, int? epochs, int? maxIterations, int? maxRows)
    {
        Console.WriteLine($"# Quality benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {Environment.OSVersion}");
        Console.WriteLine("| method | dataset | rows | seed | epochs | self-training steps (stop) | ACC | NMI | ARI | time (s) | peak working set (MB) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var dataset in datasets)
            foreach (var method in methods)
                foreach (var seed in seeds)
                {
                    var ml = new MLContext(seed: seed);
                    var (data, rows, _) = MnistSets.Load(ml, dataset, maxRows);
                    var options = DeepClusterPresets.Get(method);
                    options.Seed = seed;
                    if (epochs is int e) options.PretrainEpochs = e;
                    if (maxIterations is int m) options.MaxIterations = m;
                    var clock = Stopwatch.StartNew();
                    using var model = ml.Transforms.DeepCluster(options).Fit(data);
                    double seconds = clock.Elapsed.TotalSeconds;
                    var metrics = ClusteringQuality.Evaluate(model.Transform(data), "Label", "PredictedClusterId");
                    var h = model.History;
                    Console.WriteLine($"| {method} | {dataset} | {rows} | {seed} | {options.PretrainEpochs} | {h.SelfTrainingSteps} ({h.StopReason}) | " +
                        $"{metrics.Accuracy:F4} | {metrics.NormalizedMutualInformation:F4} | {metrics.AdjustedRandIndex:F4} | {seconds:F0} | {Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20)} |");
                }
        return 0;
    }
}
