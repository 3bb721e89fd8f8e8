using Microsoft.ML.DeepClustering.Runtime;
using TorchSharp;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// Which precision training's products use: a decision about the options (Precision, Architecture), so it lives
/// here; Runtime measures (<see cref="PrecisionProbe"/>) and runs the products but reads no option.
/// </summary>
internal static class PrecisionChoice
{
    /// <summary>
    /// The precision training uses, and why, in words for the log and <see cref="DeepClusterTrainingHistory.PrecisionReason"/>.
    /// The convolutional network trains in float32 whatever is asked: with bfloat16 (transposed) convolutions,
    /// ConvDEC-DA's pretraining on MNIST-test diverged at epoch 26 (MSE 0.017 to 2e6; docs/benchmarks.md). For the
    /// dense network, <see cref="TrainingPrecision.Auto"/> means float32 on GPUs, and on a CPU whichever the
    /// <paramref name="probe"/> measured to pay (<see cref="PrecisionProbe"/>, <see cref="TorchRuntime.MinimumBFloat16Speedup"/>);
    /// the probe runs only then.
    /// </summary>
    public static (TrainingPrecision Precision, string Reason) Resolve(TrainingPrecision requested, AutoencoderArchitecture architecture, DeviceType device, Func<PrecisionProbeResult> probe)
    {
        if (architecture == AutoencoderArchitecture.Convolutional)
            return (TrainingPrecision.Float32, requested == TrainingPrecision.BFloat16
                ? "float32, not the bfloat16 asked for: the convolutional network trains in float32 (in bfloat16 its pretraining diverged)"
                : "float32: the convolutional network trains in float32");
        if (requested != TrainingPrecision.Auto)
            return (requested, $"{Name(requested)}, as Precision asks");
        if (device != DeviceType.CPU)
            return (TrainingPrecision.Float32, $"float32 on {device}");
        var measured = probe();
        bool pays = measured.Speedup >= TorchRuntime.MinimumBFloat16Speedup;
        return (pays ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32,
            $"{(pays ? "bfloat16" : "float32")}: bfloat16 products measured {measured.Speedup:F2}× float32's on this CPU " +
            $"({measured.BFloat16Gflops:F0} against {measured.Float32Gflops:F0} GFLOP/s, {measured.Threads} thread(s)); bfloat16 is used from {TorchRuntime.MinimumBFloat16Speedup:F2}×");
    }

    private static string Name(TrainingPrecision precision) => precision == TrainingPrecision.BFloat16 ? "bfloat16" : "float32";
}
