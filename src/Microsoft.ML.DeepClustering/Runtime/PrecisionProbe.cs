using System.Collections.Concurrent;
using System.Diagnostics;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Runtime;

/// <summary>The rates of one float32 and one bfloat16 product of the dense network's largest layer shape, as measured.</summary>
/// <param name="Float32Gflops">float32 product rate, GFLOP/s.</param>
/// <param name="BFloat16Gflops">bfloat16 product rate (operands cast, float32 result, as training runs it), GFLOP/s.</param>
/// <param name="Threads">libtorch CPU threads during the measurement.</param>
internal sealed record PrecisionProbeResult(double Float32Gflops, double BFloat16Gflops, int Threads)
{
    public double Speedup => BFloat16Gflops / Float32Gflops;
}

/// <summary>
/// A diagnostic (<c>bench speed</c>): how fast bfloat16 products run against float32's on this CPU right now. It
/// times a 256×2000 by 2000×500 product (a batch through DEC's largest layer) both ways, the best of several runs
/// after a warm-up, once per process and thread count. Training does not use it: a timing follows the machine's load,
/// and <see cref="TrainingPrecision.Auto"/> must give the same model from the same seed on a busy machine, so it
/// decides from the CPU's identity (PrecisionChoice.Resolve, in Training).
/// </summary>
internal static class PrecisionProbe
{
    private const int Rows = 256, Inner = 2000, Outer = 500, Runs = 7;
    private static readonly ConcurrentDictionary<int, PrecisionProbeResult> s_results = new();

    /// <summary>The measurement for libtorch's current CPU thread count, made on first use.</summary>
    public static PrecisionProbeResult Measure() => s_results.GetOrAdd(get_num_threads(), Run);

    private static PrecisionProbeResult Run(int threads)
    {
        using var scope = NewDisposeScope();
        // A fixed generator: the probe must not draw from the global one, which training seeds.
        using var generator = new Generator(0);
        var x = randn(new long[] { Rows, Inner }, generator: generator);
        var w = randn(new long[] { Outer, Inner }, generator: generator);
        double flops = 2.0 * Rows * Inner * Outer;
        double float32 = flops / Best(() => nn.functional.linear(x, w)) / 1e9;
        double bfloat16 = flops / Best(() => TorchRuntime.BFloat16Product(x, w)) / 1e9;
        return new PrecisionProbeResult(float32, bfloat16, threads);
    }

    /// <summary>The shortest of <see cref="Runs"/> timed runs after two untimed ones, in seconds.</summary>
    private static double Best(Func<Tensor> product)
    {
        double best = double.PositiveInfinity;
        for (int run = -2; run < Runs; run++)
        {
            var clock = Stopwatch.StartNew();
            using (product()) { }
            if (run >= 0)
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return Math.Max(best, 1e-9);
    }
}
