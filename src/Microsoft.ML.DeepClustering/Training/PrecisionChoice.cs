using Microsoft.ML.DeepClustering.Runtime;
using TorchSharp;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// Which precision training's products use: a decision about the options (Precision, Architecture), so it lives
/// here; Runtime describes the CPU (<see cref="CpuInfo"/>) and runs the products but reads no option.
/// </summary>
internal static class PrecisionChoice
{
    /// <summary>
    /// The precision training uses, and why, in words for the log and <see cref="DeepClusterTrainingHistory.PrecisionReason"/>.
    /// The convolutional network trains in float32 whatever is asked: with bfloat16 (transposed) convolutions,
    /// ConvDEC-DA's pretraining on MNIST-test diverged (docs/benchmarks.md). For the dense network,
    /// <see cref="TrainingPrecision.Auto"/> means float32 on GPUs, and on a CPU bfloat16 exactly when the
    /// <paramref name="cpu"/> has native bfloat16 dot products (AVX512_BF16 or AMX_BF16) and is not one of the
    /// <see cref="TorchRuntime.SlowBFloat16Models"/>. The decision reads only what identifies the CPU, never a timing,
    /// so a busy and an idle machine train the same model from the same seed (<see cref="PrecisionProbe"/> remains a
    /// diagnostic in <c>bench speed</c>).
    /// </summary>
    public static (TrainingPrecision Precision, string Reason) Resolve(TrainingPrecision requested, AutoencoderArchitecture architecture, DeviceType device, CpuDescription cpu)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        if (architecture == AutoencoderArchitecture.Convolutional)
            return (TrainingPrecision.Float32, requested == TrainingPrecision.BFloat16
                ? "float32, not the bfloat16 asked for: the convolutional network trains in float32 (in bfloat16 its pretraining diverged)"
                : "float32: the convolutional network trains in float32");
        if (requested != TrainingPrecision.Auto)
            return (requested, $"{Name(requested)}, as Precision asks");
        if (device != DeviceType.CPU)
            return (TrainingPrecision.Float32, $"float32 on {device}");
        if (!TorchRuntime.CpuFlagsHaveBFloat16(cpu.Flags))
            return (TrainingPrecision.Float32, $"float32: this CPU ({cpu}) lists no bfloat16 dot products (avx512_bf16, amx_bf16), and emulated bfloat16 runs below float32's speed");
        if (TorchRuntime.SlowBFloat16Models.Contains((cpu.Vendor, cpu.Family, cpu.Model)))
            return (TrainingPrecision.Float32, $"float32: this CPU ({cpu}) lists bfloat16 dot products, but on this model libtorch's bfloat16 products run slower than float32's");
        return (TrainingPrecision.BFloat16, $"bfloat16: this CPU ({cpu}) has native bfloat16 dot products ({string.Join(", ", new[] { "avx512_bf16", "amx_bf16" }.Where(f => cpu.Lists(f)))})");
    }

    private static string Name(TrainingPrecision precision) => precision == TrainingPrecision.BFloat16 ? "bfloat16" : "float32";
}
