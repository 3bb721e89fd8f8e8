using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Microsoft.ML.DeepClustering.Runtime;

/// <summary>
/// Settings libtorch's OpenMP runtime reads once, when it is loaded: they must be in the process environment before
/// the first call into TorchSharp, so they are set when this assembly loads.
/// </summary>
internal static class NativeEnvironment
{
    /// <summary>The wait policy this library chose, or null when the environment already had one (or not on Linux).</summary>
    public static string? ChosenWaitPolicy { get; private set; }

    /// <summary>
    /// OMP_WAIT_POLICY=PASSIVE unless the user set it: idle OpenMP threads sleep instead of spinning. Measured on the
    /// project's 2-core machine (docs/benchmarks.md): with the cores shared by another process, a 2-thread pretraining
    /// epoch took 228–254 s with libgomp's default spinning and 34–42 s with PASSIVE; on idle cores the two are within
    /// noise. <c>Environment.SetEnvironmentVariable</c> would not do: on Unix it changes .NET's copy of the environment,
    /// not the one libgomp reads, hence libc's setenv.
    /// </summary>
    [ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "Must run before libtorch loads, whichever of our types is touched first.")]
    internal static void PreferPassiveOpenMPWaits()
    {
        if (!OperatingSystem.IsLinux())
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

    [DllImport("libc.so.6", CharSet = CharSet.Ansi)]
    private static extern IntPtr getenv(string name);

    [DllImport("libc.so.6", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);
}
