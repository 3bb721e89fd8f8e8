using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.DeepClustering.Runtime;

/// <summary>
/// What identifies a CPU and does not change while a process runs: its vendor, family and model numbers, and the
/// instruction-set flags. Decisions that must give the same result on a busy and an idle machine
/// (PrecisionChoice.Resolve, in Training) rest on this, never on timings.
/// </summary>
/// <param name="Vendor">"AuthenticAMD", "GenuineIntel", or "" when unknown.</param>
/// <param name="Family">The CPU family number as Linux prints it (extended family included), or -1 when unknown.</param>
/// <param name="Model">The model number (extended model included), or -1 when unknown.</param>
/// <param name="Flags">Space-separated instruction-set flags, in Linux's /proc/cpuinfo spelling ("avx512_bf16").</param>
internal sealed record CpuDescription(string Vendor, int Family, int Model, string Flags)
{
    public static readonly CpuDescription Unknown = new("", -1, -1, "");

    /// <summary>Whether <see cref="Flags"/> lists any of <paramref name="wanted"/>.</summary>
    public bool Lists(params string[] wanted) => CpuInfo.Lists(Flags, wanted);

    public override string ToString() =>
        Vendor.Length == 0 && Family < 0 ? "an unidentified CPU" : $"{(Vendor.Length > 0 ? Vendor : "unknown vendor")}, family {Family}, model {Model}";
}

/// <summary>What the CPU says of itself: Linux's /proc/cpuinfo for the first CPU, else the CPUID instruction on x86.</summary>
internal static class CpuInfo
{
    private static readonly Lazy<CpuDescription> s_current = new(Describe);

    /// <summary>This machine's CPU, read once per process.</summary>
    public static CpuDescription Current => s_current.Value;

    /// <summary>The vendor ("AuthenticAMD", "GenuineIntel") and the space-separated flags; both "" when unreadable.</summary>
    public static (string Vendor, string Flags) Read()
    {
        var cpu = Current;
        return (cpu.Vendor, cpu.Flags);
    }

    private static CpuDescription Describe()
    {
        if (OperatingSystem.IsLinux() && FromProcCpuInfo() is { } linux)
            return linux;
        return FromCpuId() ?? CpuDescription.Unknown;
    }

    private static CpuDescription? FromProcCpuInfo()
    {
        string vendor = "", flags = "";
        int family = -1, model = -1;
        try
        {
            if (!File.Exists("/proc/cpuinfo"))
                return null;
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                var parts = line.Split(':', 2);
                if (parts.Length != 2)
                {
                    if (line.Trim().Length == 0 && flags.Length > 0)
                        break; // the end of the first CPU's block
                    continue;
                }
                string key = parts[0].Trim(), value = parts[1].Trim();
                switch (key)
                {
                    case "vendor_id" when vendor.Length == 0: vendor = value; break;
                    case "cpu family" when family < 0: int.TryParse(value, out family); break;
                    case "model" when model < 0: int.TryParse(value, out model); break;
                    case "flags" when flags.Length == 0: flags = value; break;
                }
            }
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        return vendor.Length == 0 && flags.Length == 0 ? null : new CpuDescription(vendor, family, model, flags);
    }

    /// <summary>The same facts from CPUID (Windows, macOS on Intel): only the flags this library's decisions read.</summary>
    private static CpuDescription? FromCpuId()
    {
        if (!X86Base.IsSupported)
            return null;
        var (maxLeaf, b0, c0, d0) = X86Base.CpuId(0, 0);
        string vendor = string.Concat(new[] { b0, d0, c0 }.Select(r => System.Text.Encoding.ASCII.GetString(BitConverter.GetBytes(r))));
        var (signature, _, _, _) = X86Base.CpuId(1, 0);
        int baseFamily = (signature >> 8) & 0xF, baseModel = (signature >> 4) & 0xF;
        int family = baseFamily == 0xF ? baseFamily + ((signature >> 20) & 0xFF) : baseFamily;
        int model = baseFamily is 0x6 or 0xF ? baseModel | (((signature >> 16) & 0xF) << 4) : baseModel;
        var flags = new List<string>();
        if (maxLeaf >= 7)
        {
            var (_, b7, _, d7) = X86Base.CpuId(7, 0);
            var (a71, _, _, _) = X86Base.CpuId(7, 1);
            if ((b7 & (1 << 16)) != 0) flags.Add("avx512f");
            if ((d7 & (1 << 22)) != 0) flags.Add("amx_bf16");
            if ((a71 & (1 << 5)) != 0) flags.Add("avx512_bf16");
        }
        return new CpuDescription(vendor, family, model, string.Join(' ', flags));
    }

    /// <summary>Whether <paramref name="flags"/> lists any of <paramref name="wanted"/>, word by word ("avx512f" is not "avx512fx").</summary>
    public static bool Lists(string flags, params string[] wanted) =>
        flags.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Any(wanted.Contains);
}
