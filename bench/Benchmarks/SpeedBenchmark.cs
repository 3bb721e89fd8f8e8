using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Optimizers;
using Microsoft.ML.DeepClustering.Runtime;
using Microsoft.ML.DeepClustering.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// The speed figures of docs/benchmarks.md in one run, so that ratios compare like with like on a noisy machine: the machine's float32
/// GEMM throughput (the limit), seconds per pretraining epoch of the DEC autoencoder at 1 and at all threads,
/// self-training seconds per update interval, k-means seeding time, scoring rows/s through the fitted transformer
/// and through the saved .zip, and peak working set.
/// </summary>
internal static class SpeedBenchmark
{
    // One training step of the DEC autoencoder (784-500-500-2000-10 and back) costs about 3 × 2 × 3.27 M = 19.6 MFLOP per image.
    private const double FlopPerImageStep = 3 * 2 * 3.27e6;

    public static int Run(string dataset, int? maxRows, int epochs)
    {
        var ml = new MLContext(seed: 1);
        var (data, rows, source) = MnistSets.Load(ml, dataset, maxRows);
        Console.WriteLine($"# Speed benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {dataset} ({rows} rows from {source})");
        Console.WriteLine("| figure | value | note |");
        Console.WriteLine("|---|---|---|");

        var gemm = new Dictionary<int, double>();
        foreach (int threads in ThreadCounts())
        {
            gemm[threads] = GemmGflops(threads);
            Row($"GEMM float32, {threads} thread(s)", $"{gemm[threads]:F0} GFLOP/s", "256×2000 by 2000×500, the DEC net's largest layer shape");
        }

        var auto = Training.PrecisionChoice.Resolve(TrainingPrecision.Auto, AutoencoderArchitecture.Dense, TorchSharp.DeviceType.CPU, CpuInfo.Current);
        foreach (int threads in ThreadCounts())
        {
            using var scope = TorchRuntime.UseThreads(threads);
            var probe = PrecisionProbe.Measure();
            Row($"precision probe, {threads} thread(s)", $"bfloat16 {probe.Speedup:F2}× float32", $"{probe.BFloat16Gflops:F0} against {probe.Float32Gflops:F0} GFLOP/s; a diagnostic: Precision = Auto reads the CPU instead ({auto.Reason})");
        }

        foreach (int threads in ThreadCounts())
        {
            var (ours, ops, theirs) = OptimizerStepMilliseconds(threads);
            Row($"Adam step on the DEC net's 3.3 M parameters, {threads} thread(s)", $"{ours:F1} ms", $"single pass; as libtorch operations {ops:F1} ms ({ops / ours:F1}×), TorchSharp's optim.Adam {theirs:F1} ms ({theirs / ours:F1}×); × 274 steps per 70k epoch; measured before any Fit, so with glibc's default allocator settings");
        }

        DeepClusterTransformer? model = null;
        // Both precisions wherever bfloat16 has a chance (listed in the flags), to show the ratio.
        var precisions = TorchRuntime.CpuHasBFloat16
            ? new[] { TrainingPrecision.Float32, TrainingPrecision.BFloat16 }
            : new[] { TrainingPrecision.Float32 };
        foreach (int threads in ThreadCounts())
        foreach (var precision in precisions)
        {
            var options = new DeepClusterOptions
            {
                PretrainEpochs = epochs, KMeansInitializations = 20, MaxIterations = 280, Seed = 1, NumberOfThreads = threads, Precision = precision,
            };
            model?.Dispose();
            var fit = TimedFit(ml, data, options);
            model = fit.Model;
            double gflops = rows * FlopPerImageStep / fit.BestEpoch / 1e9;
            string setting = $"{threads} thread(s), {precision}";
            Row($"pretraining epoch, {setting}", $"{fit.BestEpoch:F2} s", $"{gflops:F0} GFLOP/s = {gflops / gemm[threads]:P0} of float32 GEMM; {rows / fit.BestEpoch:F0} images/s; epochs {fit.Epochs}");
            Row($"k-means seeding (20 restarts), {setting}", $"{model.History.SeedingTime.TotalSeconds:F2} s", $"{rows} × 10-d embeddings, K = 10");
            Row($"self-training per update interval (140 steps), {setting}", $"{fit.PerUpdateInterval:F2} s", $"{model.History.SelfTrainingSteps} steps incl. the full-data P passes");
        }

        // The convolutional network (Recommended, ConvDEC-DA): float32 always, augmented batches, default threads.
        {
            var options = DeepClusterPresets.ConvDecDa();
            options.PretrainEpochs = epochs;
            options.MaxIterations = 280;
            options.Seed = 1;
            var fit = TimedFit(ml, data, options);
            using var convolutional = fit.Model;
            string setting = $"{convolutional.History.NumberOfThreads} thread(s), {convolutional.History.Precision}";
            Row($"ConvDEC-DA pretraining epoch (augmented), {setting}", $"{fit.BestEpoch:F2} s", $"{rows / fit.BestEpoch:F0} images/s; epochs {fit.Epochs}");
            Row($"ConvDEC-DA self-training per update interval (140 steps), {setting}", $"{fit.PerUpdateInterval:F2} s", $"{convolutional.History.SelfTrainingSteps} steps incl. the full-data P passes");
        }

        var transformerRate = ScoringRate(model!, data);
        Row("scoring, fitted transformer", $"{transformerRate:F0} rows/s", "Transform + a cursor over every column it adds: ONNX Runtime on batches of 256 rows");
        string zip = Path.Combine(Path.GetTempPath(), $"speed-{Guid.NewGuid():N}.zip");
        ml.Model.Save(model!, data.Schema, zip);
        var loaded = ml.Model.Load(zip, out _);
        Row("scoring, loaded .zip", $"{ScoringRate(loaded, data):F0} rows/s", "ML.NET's own transforms: one ONNX Runtime call per row");
        (loaded as IDisposable)?.Dispose();
        var restored = ml.Model.LoadDeepClusterModel(zip, out _);
        var restoredRate = ScoringRate(restored, data);
        Row("scoring, loaded .zip through LoadDeepClusterModel", $"{restoredRate:F0} rows/s", $"{restoredRate / transformerRate:F2}× the fitted transformer's: the batched scorer restored");
        ((IDisposable)restored).Dispose();
        File.Delete(zip);
        model!.Dispose();
        Row("peak working set", $"{Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20)} MB", "whole process");
        return 0;
    }

    /// <summary>A fitted model with its seconds per pretraining epoch and per self-training update interval.</summary>
    private sealed record TimedModel(DeepClusterTransformer Model, IReadOnlyList<double> EpochSeconds, double PerUpdateInterval)
    {
        /// <summary>The first epoch also pays for libtorch's warm-up: the best of the others when there are any.</summary>
        public double BestEpoch => EpochSeconds.Count > 1 ? EpochSeconds.Skip(1).Min() : EpochSeconds[0];
        public string Epochs => string.Join(", ", EpochSeconds.Select(t => t.ToString("F2")));
    }

    private static TimedModel TimedFit(MLContext ml, IDataView data, DeepClusterOptions options)
    {
        var epochSeconds = new List<double>();
        double last = 0;
        options.Progress = new ProgressCallback(p =>
        {
            if (p.Stage == DeepClusterStage.Pretraining)
                epochSeconds.Add(p.Elapsed.TotalSeconds - last);
            last = p.Elapsed.TotalSeconds;
        });
        var model = ml.Transforms.DeepCluster(options).Fit(data);
        var h = model.History;
        int updates = Math.Max(1, h.SelfTrainingSteps / options.UpdateInterval);
        return new TimedModel(model, epochSeconds, h.SelfTrainingTime.TotalSeconds / updates);
    }

    private static IEnumerable<int> ThreadCounts() => Environment.ProcessorCount > 1 ? new[] { 1, Environment.ProcessorCount } : new[] { 1 };

    private static void Row(string figure, string value, string note) => Console.WriteLine($"| {figure} | {value} | {note} |");

    private static double GemmGflops(int threads)
    {
        int previous = get_num_threads();
        set_num_threads(threads);
        try
        {
            using var a = rand(256, 2000);
            using var b = rand(2000, 500);
            for (int i = 0; i < 5; i++)
                a.mm(b).Dispose();
            const int repeats = 200;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < repeats; i++)
                a.mm(b).Dispose();
            return repeats * 2.0 * 256 * 2000 * 500 / clock.Elapsed.TotalSeconds / 1e9;
        }
        finally
        {
            set_num_threads(previous);
        }
    }

    /// <summary>
    /// Milliseconds per Adam step on the DEC autoencoder with a fixed gradient: our single pass, our libtorch
    /// operations and TorchSharp's optim.Adam, timed in interleaved rounds so that another process's load falls
    /// on all three alike.
    /// </summary>
    internal static (double SinglePass, double LibtorchOps, double TorchSharp) OptimizerStepMilliseconds(int threads, int rounds = 10)
    {
        using var threadScope = TorchRuntime.UseThreads(threads);
        using var net = new Networks.DenseAutoencoder(784, new[] { 500, 500, 2000 }, 10);
        using (var x = rand(256, 784))
        using (var loss = nn.functional.mse_loss(net.forward(x), x))
            loss.backward();
        using var singlePass = new AllocationFreeAdam(net.parameters(), 1e-3);
        using var libtorchOps = new AllocationFreeAdam(net.parameters(), 1e-3, singlePass: false);
        using var theirs = optim.Adam(net.parameters(), lr: 1e-3);
        var steps = new Action[] { singlePass.Step, libtorchOps.Step, () => theirs.step() };
        var milliseconds = new double[steps.Length];
        const int stepsPerRound = 10;
        for (int round = -1; round < rounds; round++) // round −1 warms up
        {
            for (int k = 0; k < steps.Length; k++)
            {
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < stepsPerRound; i++)
                    steps[k]();
                if (round >= 0)
                    milliseconds[k] += clock.Elapsed.TotalMilliseconds / (rounds * stepsPerRound);
            }
        }
        return (milliseconds[0], milliseconds[1], milliseconds[2]);
    }

    /// <summary>
    /// Seconds per float32 pretraining epoch of the DEC autoencoder (Pretraining's loop: shuffled batches of 256, MSE,
    /// Adam at 1e-3) over <paramref name="rows"/> random 784-d rows, with the single-pass Adam and with the libtorch
    /// operations: two networks from the same start, their epochs alternating so that another process's load falls
    /// on both alike. The time of an epoch does not depend on the pixel values, so random rows stand in for MNIST.
    /// </summary>
    internal static (double SinglePass, double LibtorchOps) PretrainingEpochSeconds(int threads, int rows, int epochs)
    {
        using var threadScope = TorchRuntime.UseThreads(threads);
        using var scope = NewDisposeScope();
        random.manual_seed(1);
        var x = rand(rows, 784);
        var nets = new[] { new Networks.DenseAutoencoder(784, new[] { 500, 500, 2000 }, 10), new Networks.DenseAutoencoder(784, new[] { 500, 500, 2000 }, 10) };
        nets[1].load_state_dict(nets[0].state_dict());
        var optimizers = new[] { new AllocationFreeAdam(nets[0].parameters(), 1e-3), new AllocationFreeAdam(nets[1].parameters(), 1e-3, singlePass: false) };
        var seconds = new double[2];
        for (int epoch = 0; epoch <= epochs; epoch++) // epoch 0 warms up
        {
            for (int k = 0; k < 2; k++)
            {
                var clock = Stopwatch.StartNew();
                using var epochScope = NewDisposeScope();
                var order = randperm(rows);
                for (long start = 0; start < rows; start += 256)
                {
                    using var batchScope = NewDisposeScope();
                    var batch = x.index_select(0, order.narrow(0, start, Math.Min(256, rows - start)));
                    var loss = nn.functional.mse_loss(nets[k].forward(batch), batch);
                    optimizers[k].ZeroGrad();
                    loss.backward();
                    optimizers[k].Step();
                }
                if (epoch > 0)
                    seconds[k] += clock.Elapsed.TotalSeconds / epochs;
            }
        }
        foreach (var optimizer in optimizers)
            optimizer.Dispose();
        foreach (var net in nets)
            net.Dispose();
        return (seconds[0], seconds[1]);
    }

    /// <summary>The Adam step figures alone, for each thread count, and a pretraining epoch with each Adam.</summary>
    public static int RunOptimizerStep(int rounds, int epochs)
    {
        Console.WriteLine($"# Adam step, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, DEC autoencoder (3.3 M parameters), {rounds} interleaved rounds of 10 steps");
        Console.WriteLine("| threads | single pass | libtorch operations | TorchSharp optim.Adam | libtorch ops / single pass |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (int threads in ThreadCounts())
        {
            var (fused, ops, theirs) = OptimizerStepMilliseconds(threads, rounds);
            Console.WriteLine($"| {threads} | {fused:F2} ms | {ops:F2} ms | {theirs:F2} ms | {ops / fused:F2}× |");
        }
        if (epochs <= 0)
            return 0;
        Console.WriteLine();
        Console.WriteLine($"# float32 pretraining epoch, DEC autoencoder, 10,000 random 784-d rows (MNIST-test's size), batches of 256, {epochs} alternating epochs each after one warm-up");
        Console.WriteLine("| threads | single-pass Adam | libtorch-operations Adam | ratio |");
        Console.WriteLine("|---|---|---|---|");
        foreach (int threads in ThreadCounts())
        {
            var (fused, ops) = PretrainingEpochSeconds(threads, 10_000, epochs);
            Console.WriteLine($"| {threads} | {fused:F2} s | {ops:F2} s | {ops / fused:F2}× |");
        }
        return 0;
    }

    private static double ScoringRate(ITransformer model, IDataView data)
    {
        var clock = Stopwatch.StartNew();
        var scored = model.Transform(data);
        var columns = new[] { "PredictedClusterId", "Score", "SoftAssignment", "Embedding" }.Select(c => scored.Schema[c]).ToArray();
        long count = 0;
        using var cursor = scored.GetRowCursor(columns);
        var id = cursor.GetGetter<uint>(columns[0]);
        var score = cursor.GetGetter<VBuffer<float>>(columns[1]);
        var q = cursor.GetGetter<VBuffer<float>>(columns[2]);
        var z = cursor.GetGetter<VBuffer<float>>(columns[3]);
        uint idValue = 0;
        VBuffer<float> buffer = default;
        while (cursor.MoveNext())
        {
            id(ref idValue);
            score(ref buffer);
            q(ref buffer);
            z(ref buffer);
            count++;
        }
        return count / clock.Elapsed.TotalSeconds;
    }
}
