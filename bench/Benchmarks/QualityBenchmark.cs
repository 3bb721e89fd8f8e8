using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// Method × dataset × seed: ACC, NMI, ARI, wall time and peak working set of each run, printed as a Markdown table.
/// Budgets (epochs, self-training steps) are printed with every row, because on 2 CPU cores we run shorter
/// configurations than the papers did.
/// </summary>
internal static class QualityBenchmark
{
    public static int Run(string[] methods, string[] datasets, int[] seeds, int? epochs, int? maxIterations, int? updateInterval, int? maxRows, bool progress, string? checkpointDirectory, int? threads, LearningRateSchedule? schedule, SeedingMethod? seeding, string? settings = null)
    {
        Console.WriteLine($"# Quality benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {Environment.OSVersion}");
        // "seeded ACC" is the same run's autoencoder + k-means result (History.SeedingAssignments), before self-training.
        Console.WriteLine("| method | dataset | rows | seed | epochs | T | self-training steps (stop) | seeded ACC | seeded NMI | ACC | NMI | ARI | silhouette, pretrained embedding / input (seeding → final) | pretrain / seed / self-train (s) | time (s) | peak working set (MB) |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
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
                    if (updateInterval is int t) options.UpdateInterval = t;
                    // One thread per process lets two seeds run side by side on 2 cores, with slightly more epochs per
                    // hour in all than one run at 2 threads (the convolutional network, docs/benchmarks.md).
                    if (threads is int n) options.NumberOfThreads = n;
                    if (schedule is LearningRateSchedule s) options.SelfTrainingLearningRateSchedule = s;
                    // Seeding is not part of the checkpoint, so a finished pretraining can be seeded both ways.
                    if (seeding is SeedingMethod how) options.Seeding = how;
                    OptionSettings.Apply(options, settings);
                    // Cache row order is the training order, so the seeding assignments and the self-training
                    // assignments of the progress reports line up with the labels.
                    var labels = data.GetColumn<float>("Label").Select(label => (int)label).ToArray();
                    // One pretraining checkpoint per method, dataset and seed: a run stopped by the end of a session resumes
                    // where it was, and a longer --epochs continues it (the epochs are not part of the name for that reason).
                    if (checkpointDirectory is not null)
                        options.CheckpointPath = Path.Combine(checkpointDirectory, $"{method}-{dataset}{(maxRows is int r ? $"-{r}" : "")}-seed{seed}.ckpt");
                    // Long runs (MNIST-full) print where they are: every 10th epoch, each restart and each target update.
                    if (progress)
                        // On standard error, with the wall clock, so that the table on standard output stays clean.
                        options.Progress = new ProgressCallback(report =>
                        {
                            if (report.Stage != DeepClusterStage.Pretraining || report.Step % 10 == 0 || report.Step == report.TotalSteps)
                                Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss} {report}" +
                                    (report.Assignments is { } a ? $", ACC {ClusteringQuality.Accuracy(labels, a.ToArray()):F4}" : ""));
                        });
                    var clock = Stopwatch.StartNew();
                    using var model = ml.Transforms.DeepCluster(options).Fit(data);
                    double seconds = clock.Elapsed.TotalSeconds;
                    var metrics = ClusteringQuality.Evaluate(model.Transform(data), "Label", "PredictedClusterId");
                    var h = model.History;
                    var seededMetrics = ClusteringQuality.Evaluate(labels, h.SeedingAssignments.Select(a => (uint)(a + 1)).ToArray());
                    // A resumed run says so: its times cover only the epochs this process ran.
                    // The epochs run, not PretrainEpochs: a PretrainSamples budget sets them from the rows.
                    int epochsDone = h.PretrainLosses.Count;
                    string samples = $"{(double)epochsDone * rows / 1e6:0.##}M samples";
                    string epochsRun = h.PretrainingResumedAfterEpoch == 0 ? $"{epochsDone} ({samples})"
                        : $"{epochsDone} ({samples}; resumed after {h.PretrainingResumedAfterEpoch})";
                    string methodShown = method
                        + (seeding is SeedingMethod chosen && chosen != DeepClusterPresets.Get(method).Seeding ? $", {chosen.ToString().ToLowerInvariant()} seeding" : "")
                        + (options.SelfTrainingLearningRateSchedule == LearningRateSchedule.Constant ? "" : $", {options.SelfTrainingLearningRateSchedule.ToString().ToLowerInvariant()} rate")
                        + (settings is null ? "" : $", {settings}")
                        + (h.ClusterCountCandidates.Count > 0 ? $", chose K = {model.NumberOfClusters} by {h.ClusterCountCriterion}" : "");
                    Console.WriteLine($"| {methodShown} | {dataset} | {rows} | {seed} | {epochsRun} | {options.UpdateInterval} | {h.SelfTrainingSteps} ({h.StopReason}) | " +
                        $"{seededMetrics.Accuracy:F4} | {seededMetrics.NormalizedMutualInformation:F4} | {metrics.Accuracy:F4} | {metrics.NormalizedMutualInformation:F4} | {metrics.AdjustedRandIndex:F4} | {Verdict(h.SelfTrainingVerdict)} | " +
                        $"{h.PretrainingTime.TotalSeconds:F0} / {h.SeedingTime.TotalSeconds:F0} / {h.SelfTrainingTime.TotalSeconds:F0} | {seconds:F0} | {Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20)} |");
                }
        return 0;
    }

    /// <summary>The safeguard's silhouettes, seeding → final, in the pretrained embedding / in the input, and what it did.</summary>
    internal static string Verdict(SelfTrainingVerdict? v) => v is null ? "" :
        $"{v.SeedingSilhouette:F3} → {v.FinalSilhouette:F3} / {v.SeedingInputSilhouette:F3} → {v.FinalInputSilhouette:F3}{(v.KeptSeeding ? " (kept seeding)" : v.FinalIsWorse ? " (worse)" : "")}";
}
