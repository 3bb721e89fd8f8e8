namespace Microsoft.ML.DeepClustering.Runtime;

/// <summary>What Linux's /proc/cpuinfo says of the first CPU: its vendor and its instruction-set flags.</summary>
internal static class CpuInfo
{
    /// <summary>The vendor ("AuthenticAMD", "GenuineIntel") and the space-separated flags; both "" off Linux or when unreadable.</summary>
    public static (string Vendor, string Flags) Read()
    {
        string vendor = "", flags = "";
        try
        {
            if (!OperatingSystem.IsLinux() || !File.Exists("/proc/cpuinfo"))
                return (vendor, flags);
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (vendor.Length == 0 && line.StartsWith("vendor_id", StringComparison.Ordinal))
                    vendor = line.Split(':', 2)[1].Trim();
                else if (flags.Length == 0 && line.StartsWith("flags", StringComparison.Ordinal))
                    flags = line.Split(':', 2)[1];
                if (vendor.Length > 0 && flags.Length > 0)
                    break;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return (vendor, flags);
    }

    /// <summary>Whether <paramref name="flags"/> lists any of <paramref name="wanted"/>, word by word ("avx512f" is not "avx512fx").</summary>
    public static bool Lists(string flags, params string[] wanted) =>
        flags.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Any(wanted.Contains);
}
