using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Microsoft.ML.DeepClustering.Runtime;

/// <summary>
/// The two process-wide settings this library changes for libtorch's sake, and the switch that leaves both alone
/// (docs/native-tuning.md):
/// <list type="bullet">
/// <item>OMP_WAIT_POLICY=PASSIVE, set when this assembly loads unless the environment already has a policy
///   (<see cref="PreferPassiveOpenMPWaits"/>);</item>
/// <item>glibc's mmap and trim thresholds, raised at the first Fit (<see cref="TorchRuntime.TuneNativeAllocator"/>).</item>
/// </list>
/// <see cref="SwitchVariable"/>=0 in the environment before the process starts (or before this assembly loads)
/// turns both off. The first Fit that changed anything says what in the MLContext's log.
/// </summary>
internal static class NativeEnvironment
{
    /// <summary>The environment variable that turns native tuning off: 0, false, off or no (any case).</summary>
    public const string SwitchVariable = "DEEPCLUSTERING_NATIVE_TUNING";

    /// <summary>Whether this process lets the library tune OpenMP and glibc, read once from <see cref="SwitchVariable"/>.</summary>
    public static bool TuningEnabled { get; } = IsTuningEnabled(Environment.GetEnvironmentVariable(SwitchVariable));

    /// <summary>The wait policy this library chose, or null when it chose none (the environment had one, tuning is off, not glibc).</summary>
    public static string? ChosenWaitPolicy { get; private set; }

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

    private static int s_described;

    /// <summary>
    /// What the library changed in this process, for the log of the first Fit; null after the first call, and when
    /// it changed nothing.
    /// </summary>
    public static string? DescribeOnce(bool allocatorTuned) =>
        Interlocked.Exchange(ref s_described, 1) == 0 ? Describe(ChosenWaitPolicy, allocatorTuned) : null;

    /// <summary>The sentence <see cref="DescribeOnce"/> logs, or null when nothing was changed.</summary>
    internal static string? Describe(string? chosenWaitPolicy, bool allocatorTuned)
    {
        var changes = new List<string>();
        if (chosenWaitPolicy is not null)
            changes.Add($"set OMP_WAIT_POLICY={chosenWaitPolicy} (idle OpenMP threads sleep rather than spin)");
        if (allocatorTuned)
            changes.Add($"raised glibc's mmap threshold to {TorchRuntime.MmapThresholdBytes >> 20} MB and its trim threshold to {TorchRuntime.TrimThresholdBytes >> 20} MB (training reuses its buffers instead of mapping them afresh each step)");
        return changes.Count == 0 ? null
            : $"Native tuning for this process: {string.Join("; ", changes)}. Set {SwitchVariable}=0 before the process starts to leave both alone.";
    }

    [DllImport("libc.so.6", CharSet = CharSet.Ansi)]
    private static extern IntPtr getenv(string name);

    [DllImport("libc.so.6", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);
}
