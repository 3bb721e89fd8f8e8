using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Microsoft.ML.DeepClustering.Runtime;

/// <summary>
/// The process-wide settings this library changes for libtorch's sake, and the switch that leaves them all alone
/// (docs/native-tuning.md):
/// <list type="bullet">
/// <item>OMP_WAIT_POLICY=PASSIVE, set when this assembly loads unless the environment already has a policy
///   (<see cref="PreferPassiveOpenMPWaits"/>);</item>
/// <item>on AMD CPUs with AVX-512, MKL's choice of float32 kernels, made when this assembly loads
///   (<see cref="LetMklUseAvx512OnAmd"/>);</item>
/// <item>glibc's mmap and trim thresholds, raised at the first Fit (<see cref="TorchRuntime.TuneNativeAllocator"/>).</item>
/// </list>
/// <see cref="SwitchVariable"/>=0 in the environment before the process starts (or before this assembly loads)
/// turns them all off. The first Fit that changed anything says what in the MLContext's log.
/// </summary>
internal static class NativeEnvironment
{
    /// <summary>The environment variable that turns native tuning off: 0, false, off or no (any case).</summary>
    public const string SwitchVariable = "DEEPCLUSTERING_NATIVE_TUNING";

    /// <summary>Whether this process lets the library tune OpenMP and glibc, read once from <see cref="SwitchVariable"/>.</summary>
    public static bool TuningEnabled { get; } = IsTuningEnabled(Environment.GetEnvironmentVariable(SwitchVariable));

    /// <summary>The wait policy this library chose, or null when it chose none (the environment had one, tuning is off, not glibc).</summary>
    public static string? ChosenWaitPolicy { get; private set; }

    /// <summary>Whether <see cref="LetMklUseAvx512OnAmd"/> loaded its dispatch library in this process.</summary>
    public static bool MklDispatchLoaded { get; private set; }

    /// <summary>The file <see cref="LetMklUseAvx512OnAmd"/> loads (its source: Native/mkl_intel_dispatch.c).</summary>
    internal const string MklDispatchLibrary = "libDeepClusteringMklDispatch.so";

    /// <summary>Tuning is on unless the variable says 0, false, off or no; unset or empty means on.</summary>
    internal static bool IsTuningEnabled(string? switchValue) =>
        switchValue?.Trim().ToLowerInvariant() is not ("0" or "false" or "off" or "no");

    /// <summary>
    /// OMP_WAIT_POLICY=PASSIVE unless the user set it: idle OpenMP threads sleep instead of spinning. When other
    /// processes share the cores, libgomp's default spinning makes threads that wait for each other burn the time
    /// slices the working threads need, and a training epoch takes several times longer (docs/benchmarks.md); on
    /// idle cores the two policies are within noise. libgomp reads the variable once, when libtorch loads, so it must
    /// be set before the first call into TorchSharp: hence a module initializer. <c>Environment.SetEnvironmentVariable</c>
    /// would not do: on Unix it changes .NET's copy of the environment, not the one libgomp reads, hence libc's setenv.
    /// </summary>
    [ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "Must run before libtorch loads, whichever of our types is touched first.")]
    internal static void PreferPassiveOpenMPWaits()
    {
        if (!TuningEnabled || !OperatingSystem.IsLinux())
            return;
        try
        {
            if (getenv("OMP_WAIT_POLICY") != IntPtr.Zero)
                return;
            if (setenv("OMP_WAIT_POLICY", "PASSIVE", 0) == 0)
                ChosenWaitPolicy = "PASSIVE";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: leave the environment alone.
        }
    }

    /// <summary>
    /// libtorch's official x64 builds link Intel's oneMKL, which gives AMD CPUs its slower non-AVX-512 float32
    /// kernels, less than half as fast as its AVX-512 ones on AVX-512 AMD CPUs (docs/benchmarks.md has the
    /// products measured both ways). Our one-function library answers MKL's "is this an
    /// Intel CPU?" with yes; loaded with RTLD_GLOBAL before libtorch, it comes first in the symbol lookup. Only on
    /// Linux x64 AMD CPUs that list AVX-512, so MKL's choice then rests on instructions the CPU has. Like the wait
    /// policy it must precede libtorch, hence the module initializer; it does nothing when tuning is off, and the
    /// first Fit's log says it was done.
    /// </summary>
    [ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "Must run before libtorch loads, whichever of our types is touched first.")]
    internal static void LetMklUseAvx512OnAmd()
    {
        if (!TuningEnabled || !OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return;
        var (vendor, flags) = CpuInfo.Read();
        if (!ShouldLetMklUseAvx512(vendor, flags) || FindMklDispatchLibrary() is not string path)
            return;
        try
        {
            MklDispatchLoaded = dlopen(path, RtldNow | RtldGlobal) != IntPtr.Zero;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: leave MKL alone.
        }
    }

    /// <summary>An AMD CPU whose flags list AVX-512 (Foundation): the case MKL's vendor check slows down.</summary>
    internal static bool ShouldLetMklUseAvx512(string vendor, string flags) =>
        vendor.Trim() == "AuthenticAMD" && CpuInfo.Lists(flags, "avx512f");

    /// <summary>
    /// Beside this assembly (a project reference, the tests) or under runtimes/linux-x64/native/ (the package's
    /// place for native files, where a portable application keeps them).
    /// </summary>
    internal static string? FindMklDispatchLibrary()
    {
        string? here = Path.GetDirectoryName(typeof(NativeEnvironment).Assembly.Location);
        var folders = new[] { here, AppContext.BaseDirectory }.Where(f => !string.IsNullOrEmpty(f)).Distinct();
        return folders.SelectMany(f => new[] { Path.Combine(f!, MklDispatchLibrary), Path.Combine(f!, "runtimes", "linux-x64", "native", MklDispatchLibrary) })
            .FirstOrDefault(File.Exists);
    }

    private const int RtldNow = 0x002, RtldGlobal = 0x100;

    private static int s_described;

    /// <summary>
    /// What the library changed in this process, for the log of the first Fit; null after the first call, and when
    /// it changed nothing.
    /// </summary>
    public static string? DescribeOnce(bool allocatorTuned) =>
        Interlocked.Exchange(ref s_described, 1) == 0 ? Describe(ChosenWaitPolicy, MklDispatchLoaded, allocatorTuned) : null;

    /// <summary>The sentence <see cref="DescribeOnce"/> logs, or null when nothing was changed.</summary>
    internal static string? Describe(string? chosenWaitPolicy, bool mklDispatchLoaded, bool allocatorTuned)
    {
        var changes = new List<string>();
        if (chosenWaitPolicy is not null)
            changes.Add($"set OMP_WAIT_POLICY={chosenWaitPolicy} (idle OpenMP threads sleep rather than spin)");
        if (mklDispatchLoaded)
            changes.Add($"loaded {MklDispatchLibrary} (MKL takes its AVX-512 float32 kernels on this AMD CPU)");
        if (allocatorTuned)
            changes.Add($"raised glibc's mmap threshold to {TorchRuntime.MmapThresholdBytes >> 20} MB and its trim threshold to {TorchRuntime.TrimThresholdBytes >> 20} MB (training reuses its buffers instead of mapping them afresh each step)");
        return changes.Count == 0 ? null
            : $"Native tuning for this process: {string.Join("; ", changes)}. Set {SwitchVariable}=0 before the process starts to leave it all alone.";
    }

    [DllImport("libc.so.6", CharSet = CharSet.Ansi)]
    private static extern IntPtr getenv(string name);

    [DllImport("libc.so.6", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc.so.6", CharSet = CharSet.Ansi)]
    private static extern IntPtr dlopen(string file, int mode);
}
