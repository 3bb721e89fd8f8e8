using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Runtime;

/// <summary>Where and how libtorch runs: the device choice and the CPU thread count, in one place.</summary>
internal static class TorchRuntime
{
    /// <summary>
    /// CPU unless the <see cref="MLContext"/> asks for a GPU (<see cref="MLContext.GpuDeviceId"/>), as ML.NET's own
    /// GPU-capable components do. A GPU needs the application to reference TorchSharp's CUDA package; without it
    /// (or with too few devices) training falls back to the CPU when <see cref="MLContext.FallbackToCpu"/> says so,
    /// and fails with an explanation otherwise.
    /// </summary>
    /// <param name="gpuDeviceId">The MLContext's GPU device, or null for the CPU.</param>
    /// <param name="fallbackToCpu">The MLContext's choice when that GPU is missing.</param>
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

    public static Device ResolveDevice(int? gpuDeviceId, bool fallbackToCpu)
    {
        int count = gpuDeviceId is null ? 0 : SafeCudaDeviceCount();
        var (type, index) = ChooseDevice(gpuDeviceId, fallbackToCpu, count);
        return type == DeviceType.CUDA ? new Device(type, index) : CPU;
    }

    private static int SafeCudaDeviceCount()
    {
        try { return cuda.is_available() ? cuda.device_count() : 0; }
        catch (Exception) { return 0; }
    }

    /// <summary>
    /// Threads for libtorch's CPU kernels when the user does not choose: one per core, since the autoencoder's large
    /// products scale with cores on an idle machine (docs/benchmarks.md). When other processes share the cores,
    /// OpenMP threads that spin-wait lose several times over; this library therefore sets OMP_WAIT_POLICY=PASSIVE
    /// unless the user chose a policy (<see cref="NativeEnvironment"/>).
    /// </summary>
    public static int DefaultThreads(int processorCount) => Math.Max(1, processorCount);

    /// <summary>
    /// CPUs whose flags list bfloat16 dot products but on which libtorch's bfloat16 products run slower than its
    /// float32 ones, as (vendor, family, model). Intel family 6 model 207 (Emerald Rapids) was measured
    /// (docs/benchmarks.md); model 143 (Sapphire Rapids) has the same core and is listed with it.
    /// </summary>
    internal static readonly IReadOnlyList<(string Vendor, int Family, int Model)> SlowBFloat16Models = new[]
    {
        ("GenuineIntel", 6, 143),
        ("GenuineIntel", 6, 207),
    };

    /// <summary>Whether this machine's CPU has bfloat16 dot products (from /proc/cpuinfo on Linux, CPUID elsewhere on x86).</summary>
    public static bool CpuHasBFloat16 => CpuFlagsHaveBFloat16(CpuInfo.Current.Flags);

    internal static bool CpuFlagsHaveBFloat16(string flags) => CpuInfo.Lists(flags, "avx512_bf16", "amx_bf16");

    /// <summary>
    /// x Wᵀ with bfloat16 operands and float32 accumulation, returned in float32: how the dense network's bfloat16
    /// layers multiply, and what <see cref="PrecisionProbe"/> times. The casts are differentiable, so float32 weights
    /// receive their gradients through them (mixed precision, as autocast does).
    /// </summary>
    public static Tensor BFloat16Product(Tensor x, Tensor weight)
    {
        using var x16 = x.to(ScalarType.BFloat16);
        using var w16 = weight.to(ScalarType.BFloat16);
        using var product = nn.functional.linear(x16, w16);
        return product.to(ScalarType.Float32);
    }

    /// <summary>
    /// Keeps the native allocator from returning freed megabytes to the operating system between training steps
    /// (Linux, glibc): every step frees and reallocates the same activation and gradient buffers, and with glibc's
    /// defaults the large ones are mapped and unmapped each time, so every step pays page faults on fresh zeroed
    /// pages. Blocks up to <see cref="MmapThresholdBytes"/> (glibc's maximum) then come from the heap, which keeps up
    /// to <see cref="TrimThresholdBytes"/> free before trimming. Process-wide and done once; memory then stays at its
    /// high-water mark instead of going up and down. Nothing is changed when
    /// <see cref="NativeEnvironment.SwitchVariable"/> turns native tuning off.
    /// </summary>
    /// <returns>Whether glibc accepted the settings (false elsewhere, and when tuning is off).</returns>
    public static bool TuneNativeAllocator() => NativeEnvironment.TuningEnabled && s_allocatorTuned.Value;

    /// <summary>glibc keeps this much freed memory in its heap before giving any back, once <see cref="TuneNativeAllocator"/> has run.</summary>
    public const long TrimThresholdBytes = 256 << 20;

    /// <summary>Blocks up to this size come from glibc's heap once <see cref="TuneNativeAllocator"/> has run; larger ones are mapped afresh.</summary>
    public const long MmapThresholdBytes = 32 << 20;

    /// <summary>
    /// Rows per chunk of a chunked computation whose largest tensor holds <paramref name="bytesPerRow"/> bytes per row:
    /// as many as keep that tensor within half of <see cref="MmapThresholdBytes"/>, at least 1, so that each chunk
    /// reuses heap memory instead of mapping and page-faulting a fresh block.
    /// </summary>
    public static long HeapChunkRows(long bytesPerRow) => Math.Max(1, MmapThresholdBytes / 2 / Math.Max(1, bytesPerRow));

    /// <summary>
    /// A pass over <paramref name="n"/> rows, <paramref name="chunk"/> at a time: <paramref name="part"/>(start, count)
    /// computes the rows start..start+count-1 (in a dispose scope of their own), and each chunk's result goes straight
    /// into one result [n, …], allocated once the first chunk gives its shape. Nothing a chunk allocates outlives it, so
    /// with the heap kept by <see cref="TuneNativeAllocator"/> one chunk's memory serves the next. Kept as parts and
    /// joined at the end, the small surviving parts sat between the freed temporaries and glibc's heap grew by about a
    /// chunk's temporaries per chunk: 1.5 GB in k-means' distances and 8 GB in the embedding pass at a million rows
    /// (docs/architecture.md, "Memory in passes over every row"). One chunk is returned as it is.
    /// </summary>
    public static Tensor RowsInChunks(long n, long chunk, Func<long, long, Tensor> part)
    {
        if (n <= chunk)
        {
            using var single = NewDisposeScope();
            return part(0, n).MoveToOuterDisposeScope();
        }
        Tensor? result = null;
        try
        {
            for (long start = 0; start < n; start += chunk)
            {
                using var scope = NewDisposeScope();
                long count = Math.Min(chunk, n - start);
                var rows = part(start, count);
                result ??= empty(new[] { n }.Concat(rows.shape.Skip(1)).ToArray(), rows.dtype, rows.device).MoveToOuterDisposeScope();
                using var target = result.narrow(0, start, count);
                target.copy_(rows);
            }
            return result!;
        }
        catch
        {
            result?.Dispose();
            throw;
        }
    }

    private static readonly Lazy<bool> s_allocatorTuned = new(() =>
    {
        if (!OperatingSystem.IsLinux())
            return false;
        try
        {
            const int M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3;
            return NativeMethods.mallopt(M_MMAP_THRESHOLD, (int)MmapThresholdBytes) == 1 && NativeMethods.mallopt(M_TRIM_THRESHOLD, (int)TrimThresholdBytes) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // not glibc (musl): nothing to tune
        }
    });

    private static class NativeMethods
    {
        [System.Runtime.InteropServices.DllImport("libc.so.6")]
        public static extern int mallopt(int parameter, int value);
    }

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
