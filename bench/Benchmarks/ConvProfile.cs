using System.Diagnostics;
using Microsoft.ML.DeepClustering.Optimizers;
using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.DeepClustering.Networks;
using Microsoft.ML.DeepClustering.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// Where a ConvDEC-DA pretraining step's time goes on a batch of 256 MNIST-sized images (augmentation, forward,
/// backward, Adam), then each (transposed) convolution alone, forward + backward: float32, bfloat16 operands with a
/// float32 result (as the dense network's bfloat16 layers run), and both with channels-last strides; and how far
/// bfloat16's gradients are from float32's (relative L2 error).
/// </summary>
internal static class ConvProfile
{
    public static int Run(int reps)
    {
        Microsoft.ML.DeepClustering.Runtime.TorchRuntime.TuneNativeAllocator();
        var image = new ImageShape(1, 28, 28);
        random.manual_seed(1);
        using var net = new ConvolutionalAutoencoder(image, 10);
        using var generator = new Generator(1);
        var x = rand(new long[] { 256, 784 }, generator: generator);
        var augmentation = new Augmentation(image, 10, 0.1f);
        using var adam = new AllocationFreeAdam(net.parameters(), 1e-3);
        {
            double aug = 0, fwd = 0, bwd = 0, step = 0;
            for (int r = -3; r < reps; r++)
            {
                using var scope = NewDisposeScope();
                var clock = Stopwatch.StartNew();
                var batch = augmentation.Apply(x, generator);
                double t0 = clock.Elapsed.TotalMilliseconds;
                adam.ZeroGrad();
                var loss = nn.functional.mse_loss(net.forward(batch), batch);
                double t1 = clock.Elapsed.TotalMilliseconds;
                loss.backward();
                double t2 = clock.Elapsed.TotalMilliseconds;
                adam.Step();
                double t3 = clock.Elapsed.TotalMilliseconds;
                if (r < 0) continue;
                aug += t0; fwd += t1 - t0; bwd += t2 - t1; step += t3 - t2;
            }
            Console.WriteLine($"float32 step: augmentation {aug / reps:F1} ms, forward {fwd / reps:F1} ms, backward {bwd / reps:F1} ms, Adam {step / reps:F1} ms, total {(aug + fwd + bwd + step) / reps:F1} ms per 256-image step ({get_num_threads()} threads)");
        }
        Console.WriteLine("forward + backward in ms per layer (-CL: channels-last strides)");
        Layers(reps);
        return 0;
    }

    /// <summary>Forward and backward of each (transposed) convolution alone, in float32 and with bfloat16 operands.</summary>
    private static void Layers(int reps)
    {
        using var generator = new Generator(2);
        // (name, input channels, output channels, kernel, input side, transposed, padding, output padding)
        var layers = new (string Name, int In, int Out, int Kernel, int Side, bool Transposed, int Pad, int OutPad)[]
        {
            ("conv1 1→32 5×5 28→14", 1, 32, 5, 28, false, 2, 0),
            ("conv2 32→64 5×5 14→7", 32, 64, 5, 14, false, 2, 0),
            ("conv3 64→128 3×3 7→3", 64, 128, 3, 7, false, 0, 0),
            ("deconv1 128→64 3×3 3→7", 128, 64, 3, 3, true, 0, 0),
            ("deconv2 64→32 5×5 7→14", 64, 32, 5, 7, true, 2, 1),
            ("deconv3 32→1 5×5 14→28", 32, 1, 5, 14, true, 2, 1),
        };
        foreach (var l in layers)
        {
            var input = rand(new long[] { 256, l.In, l.Side, l.Side }, generator: generator).requires_grad_(true);
            var weight = (l.Transposed ? randn(new long[] { l.In, l.Out, l.Kernel, l.Kernel }, generator: generator) : randn(new long[] { l.Out, l.In, l.Kernel, l.Kernel }, generator: generator)).mul_(0.05).requires_grad_(true);
            string line = $"{l.Name,-26}";
            var upstream = (Tensor?)null;
            var grads = new List<(Tensor Input, Tensor Weight)>();
            foreach (var (dtype, channelsLast) in new[] { (ScalarType.Float32, false), (ScalarType.BFloat16, false), (ScalarType.Float32, true), (ScalarType.BFloat16, true) })
            {
                double forward = 0, backward = 0;
                for (int r = -3; r < reps; r++)
                {
                    using var scope = NewDisposeScope();
                    var clock = Stopwatch.StartNew();
                    var xi = dtype == ScalarType.Float32 ? input : input.to(dtype);
                    var wi = dtype == ScalarType.Float32 ? weight : weight.to(dtype);
                    if (channelsLast)
                    {
                        // NCHW shape with NHWC strides: libtorch picks its channels-last kernels from the strides.
                        xi = xi.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
                        wi = wi.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
                    }
                    var y = l.Transposed
                        ? nn.functional.conv_transpose2d(xi, wi, null, strides: new long[] { 2, 2 }, padding: new long[] { l.Pad, l.Pad }, output_padding: new long[] { l.OutPad, l.OutPad })
                        : nn.functional.conv2d(xi, wi, null, strides: new long[] { 2, 2 }, padding: new long[] { l.Pad, l.Pad });
                    var y32 = y.to(ScalarType.Float32);
                    double t0 = clock.Elapsed.TotalMilliseconds;
                    upstream ??= randn(y32.shape, generator: generator).MoveToOuterDisposeScope();
                    y32.backward(new[] { upstream });
                    double t1 = clock.Elapsed.TotalMilliseconds;
                    if (r == reps - 1 && !channelsLast)
                        grads.Add((input.grad!.clone().MoveToOuterDisposeScope(), weight.grad!.clone().MoveToOuterDisposeScope()));
                    input.grad?.zero_();
                    weight.grad?.zero_();
                    if (r < 0) continue;
                    forward += t0; backward += t1 - t0;
                }
                line += $" {(dtype == ScalarType.Float32 ? "f32" : "bf16")}{(channelsLast ? "-CL" : "")} {forward / reps,4:F1}+{backward / reps,4:F1};";
            }
            double Relative(Tensor a, Tensor b) => (a - b).norm().item<float>() / b.norm().item<float>();
            line += $" bf16 gradient error: input {Relative(grads[1].Input, grads[0].Input):E1}, weight {Relative(grads[1].Weight, grads[0].Weight):E1}";
            Console.WriteLine(line);
        }
    }
}
