using System.Diagnostics;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// Which libtorch path multiplies fastest in float32 here: nn.functional.linear (libtorch's BLAS, MKL in the
/// official builds) against the same product as a 1×1 convolution (oneDNN), forward and forward + backward, for the
/// dense network's layer shapes on a batch of 256. Run it with DEEPCLUSTERING_NATIVE_TUNING=0 and without, side by
/// side, to see what MKL's dispatch library (Runtime/NativeEnvironment.cs) changes.
/// </summary>
internal static class GemmPaths
{
    public static int Run(int reps)
    {
        // Touching the library first runs its module initializers (MKL's dispatch on AMD) before libtorch loads.
        Microsoft.ML.DeepClustering.Runtime.TorchRuntime.TuneNativeAllocator();
        Console.WriteLine($"MKL dispatch library loaded: {Microsoft.ML.DeepClustering.Runtime.NativeEnvironment.MklDispatchLoaded} ({Microsoft.ML.DeepClustering.Runtime.NativeEnvironment.SwitchVariable}={Environment.GetEnvironmentVariable(Microsoft.ML.DeepClustering.Runtime.NativeEnvironment.SwitchVariable) ?? "unset"}); {get_num_threads()} threads");
        using var generator = new Generator(1);
        foreach (var (inputs, outputs) in new[] { (784, 500), (500, 500), (500, 2000), (2000, 500), (2000, 10) })
        {
            var x = randn(new long[] { 256, inputs }, generator: generator).requires_grad_(true);
            var w = (randn(new long[] { outputs, inputs }, generator: generator) * 0.01).requires_grad_(true);
            double flops = 2.0 * 256 * inputs * outputs;
            string line = $"{inputs}→{outputs,-5}";
            foreach (string path in new[] { "linear", "conv1x1" })
            {
                double forward = Time(reps, () => Product(path, x, w), backward: false);
                double both = Time(reps, () => Product(path, x, w), backward: true);
                line += $" {path}: forward {flops / forward / 1e9,4:F0} GFLOP/s, forward+backward {3 * flops / both / 1e9,4:F0} GFLOP/s;";
            }
            using (no_grad())
            {
                using var a = Product("linear", x, w);
                using var b = Product("conv1x1", x, w);
                line += $" max |difference| {(a - b).abs().max().item<float>():E1}";
            }
            Console.WriteLine(line);
        }
        return 0;
    }

    private static Tensor Product(string path, Tensor x, Tensor w) => path == "linear"
        ? nn.functional.linear(x, w)
        : nn.functional.conv2d(x.view(x.shape[0], x.shape[1], 1, 1), w.view(w.shape[0], w.shape[1], 1, 1)).view(x.shape[0], w.shape[0]);

    private static double Time(int reps, Func<Tensor> product, bool backward)
    {
        double best = double.PositiveInfinity;
        for (int r = -2; r < reps; r++)
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            var y = product();
            if (backward)
                y.sum().backward();
            if (r >= 0)
                best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
    }
}
