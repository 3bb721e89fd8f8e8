namespace Microsoft.ML.DeepClustering.Samples;

/// <summary>The process exit codes of the deepcluster tool.</summary>
public static class ExitCodes
{
    /// <summary>The report was written.</summary>
    public const int Success = 0;

    /// <summary>Bad input or options: one error line was printed, nothing was trained.</summary>
    public const int Error = 1;

    /// <summary>Stopped with Ctrl+C (128 + SIGINT, as shells report it); what was done so far was written.</summary>
    public const int Cancelled = 130;
}
