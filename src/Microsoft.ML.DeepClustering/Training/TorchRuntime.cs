using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>Where and how libtorch runs: the device choice and the CPU thread count, in one place.</summary>
internal static class TorchRuntime
{
    /// <summary>
    /// CPU unless the <see cref="MLContext"/> asks for a GPU (<see cref="MLContext.GpuDeviceId"/>), as ML.NET's own
    /// GPU-capable components do. A GPU needs the application to reference TorchSharp's CUDA package; without it
    /// (or with too few devices) training falls back to the CPU when <see cref="MLContext.FallbackToCpu"/> says so,
    /// and fails with an explanation otherwise.
    /// </summary>
    /// <param name="cudaDeviceCount">CUDA devices libtorch sees (0 with the CPU-only libtorch).</param>
    public static (DeviceType Type, int Index) ChooseDevice(int? gpuDeviceId, bool fallbackToCpu, int cudaDeviceCount)
    {
        if (gpuDeviceId is not int id)
            return (DeviceType.CPU, -1);
        if (id < 0)
            throw new ArgumentOutOfRangeException(nameof(MLContext.GpuDeviceId), id, $"MLContext.GpuDeviceId must be null (CPU) or a device index ≥ 0; found {id}.");
        if (id < cudaDeviceCount)
            return (DeviceType.CUDA, id);
        if (fallbackToCpu)
            return (DeviceType.CPU, -1);
        string why = cudaDeviceCount == 0
            ? "libtorch sees no CUDA device: the application references the CPU libtorch (reference TorchSharp-cuda-linux or TorchSharp-cuda-windows instead of libtorch-cpu-*), or no NVIDIA driver is installed"
            : $"libtorch sees {cudaDeviceCount} CUDA device(s), numbered 0..{cudaDeviceCount - 1}";
        throw new InvalidOperationException(
            $"MLContext.GpuDeviceId is {id} but {why}. Set MLContext.FallbackToCpu = true to train on the CPU instead, or GpuDeviceId = null.");
    }

    public static Device ResolveDevice(MLContextSettings settings)
    {
        int count = settings.GpuDeviceId is null ? 0 : SafeCudaDeviceCount();
        var (type, index) = ChooseDevice(settings.GpuDeviceId, settings.FallbackToCpu, count);
        return type == DeviceType.CUDA ? new Device(type, index) : CPU;
    }

    private static int SafeCudaDeviceCount()
    {
        try { return cuda.is_available() ? cuda.device_count() : 0; }
        catch (Exception) { return 0; }
    }

    /// <summary>
    /// Threads for libtorch's CPU kernels when the user does not choose: one per core. Measured on a 2-core machine
    /// (docs/benchmarks.md), 2 threads pretrain the DEC autoencoder about 1.6× faster than 1 when the machine is idle;
    /// OMP_WAIT_POLICY made no difference there. Several trainings at once should each get fewer threads
    /// (<see cref="DeepClusterOptions.NumberOfThreads"/>): OpenMP threads that share cores spin-wait on each other.
    /// </summary>
    public static int DefaultThreads(int processorCount) => Math.Max(1, processorCount);

    /// <summary>Sets libtorch's intra-op thread count for the lifetime of the returned scope, then restores it.</summary>
    public static IDisposable UseThreads(int threads)
    {
        int previous = get_num_threads();
        set_num_threads(threads);
        return new Restore(() => set_num_threads(previous));
    }

    private sealed class Restore(Action action) : IDisposable
    {
        private Action? _action = action;
        public void Dispose() { _action?.Invoke(); _action = null; }
    }
}

/// <summary>The few <see cref="MLContext"/> settings training reads.</summary>
internal sealed record MLContextSettings(int? GpuDeviceId, bool FallbackToCpu, string TempFilePath);
