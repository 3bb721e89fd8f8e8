using System.Globalization;

namespace Microsoft.ML.DeepClustering.Data;

/// <summary>
/// What a Fit's large arrays take, from the row count, the feature size and the options, against the memory the
/// process may use; so that a Fit too large for the machine or the container fails before it reads or trains, with
/// the figures, instead of being killed later. docs/options.md ("Memory") gives the same formula.
/// </summary>
internal static class MemoryBudget
{
    /// <summary>The bytes the process may use, and where that figure comes from (for the message).</summary>
    public readonly record struct Limit(long Bytes, string Source);

    /// <summary>The figures of <see cref="Of"/>: each large array Fit holds at once, in bytes.</summary>
    /// <param name="Rows">N.</param>
    /// <param name="Columns">D, values per row.</param>
    /// <param name="Store">The stored rows, N·D·(4, 2 or 1); 0 when memory-mapped.</param>
    /// <param name="Embeddings">The embedding of every row, kept about three times over (seeding, the safeguard, the final labels): 3·N·E·4.</param>
    /// <param name="Assignments">q and P of self-training, N·K·4 each: 2·N·K·4.</param>
    /// <param name="NeighbourGraph">The embedding's k-nearest-neighbour graph (spectral or UMAP seeding, modularity), distances and indices and the symmetric copy: 2·N·k·12.</param>
    public sealed record Estimate(long Rows, int Columns, long Store, long Embeddings, long Assignments, long NeighbourGraph)
    {
        public long Total => Store + Embeddings + Assignments + NeighbourGraph;
    }

    /// <summary>Rows passing this many bytes go to a memory-mapped file (<see cref="DeepClusterOptions.RowStorage"/>).</summary>
    public static long SpillBytes(RowStorageLocation storage, Limit limit) => storage switch
    {
        RowStorageLocation.Memory => long.MaxValue,
        RowStorageLocation.MemoryMappedFile => 0,
        _ => limit.Bytes / 2,
    };

    public static Estimate Of(long rows, int columns, DeepClusterOptions options, bool storeInMemory)
    {
        long values = rows * columns;
        long store = storeInMemory ? values * RowStore.BytesPerValue(options.RowPrecision) : 0;
        // Training reads the stored rows: a tensor over the float32 array itself when there is one (no copy), else
        // a batch decoded at a time (TrainingRows), so there is no float32 copy of all rows to count.
        long embeddings = 3 * rows * options.EmbeddingDimension * sizeof(float);
        int k = options.NumberOfClusters > 0 ? options.NumberOfClusters : options.MaximumNumberOfClusters;
        long assignments = 2 * rows * k * sizeof(float);
        int neighbours = 0;
        if (options.Seeding == SeedingMethod.Spectral)
            neighbours = options.SpectralNeighbors;
        if (options.Seeding == SeedingMethod.Umap || (options.NumberOfClusters == 0 && options.ClusterCountCriterion == ClusterCountCriterion.Modularity))
            neighbours = Math.Max(neighbours, options.UmapNeighbors);
        long graph = 2 * rows * Math.Min(neighbours, Math.Max(0, rows - 1)) * (sizeof(float) + sizeof(long));
        return new Estimate(rows, columns, store, embeddings, assignments, graph);
    }

    /// <summary>Throws when <paramref name="estimate"/> exceeds <paramref name="limit"/>, with every figure and the option that would help.</summary>
    public static void Check(Estimate estimate, Limit limit, DeepClusterOptions options)
    {
        if (estimate.Total <= limit.Bytes)
            return;
        var help = new List<string>();
        if (estimate.Store > 0)
            help.Add($"RowStorage = MemoryMappedFile keeps the stored rows ({Bytes(estimate.Store)}) out of memory" +
                (options.RowPrecision == RowStoragePrecision.Float32 ? ", and RowPrecision = Half (or Byte for pixels in [0, 1]) stores them in a half (a quarter)" : ""));
        if (estimate.NeighbourGraph > 0)
            help.Add($"Seeding = KMeans (and a fixed NumberOfClusters) needs no neighbour graph ({Bytes(estimate.NeighbourGraph)})");
        help.Add("train on a sample of the rows (mlContext.Data.TakeRows, or a filter)");
        throw new InsufficientMemoryException(string.Create(CultureInfo.InvariantCulture,
            $"Fit needs at least {Bytes(estimate.Total)} for {estimate.Rows:N0} rows of {estimate.Columns:N0} features " +
            $"(stored rows {Bytes(estimate.Store)}, embeddings {Bytes(estimate.Embeddings)}, " +
            $"soft assignments and targets {Bytes(estimate.Assignments)}, neighbour graph {Bytes(estimate.NeighbourGraph)}), " +
            $"but the process may use {Bytes(limit.Bytes)} ({limit.Source}). To fit: {string.Join("; ", help)}. docs/options.md (\"Memory\") gives the formula."));
    }

    /// <summary>"1,234,567,890 bytes (1.15 GiB)".</summary>
    public static string Bytes(long bytes) =>
        string.Create(CultureInfo.InvariantCulture, $"{bytes:N0} bytes ({bytes / (double)(1L << 30):F2} GiB)");

    /// <summary>
    /// The least of what .NET reports as available to the process (which follows the container's limit and a GC heap
    /// limit) and the cgroup's own memory limit (v2 memory.max, v1 memory.limit_in_bytes), read directly as well.
    /// </summary>
    public static Limit ProcessLimit()
    {
        var limit = new Limit(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, "the memory .NET reports available to the process");
        foreach (var (file, name) in new[] { ("/sys/fs/cgroup/memory.max", "cgroup v2 memory.max"), ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "cgroup v1 memory.limit_in_bytes") })
        {
            if (CgroupLimit(file) is long bytes && bytes < limit.Bytes)
                limit = new Limit(bytes, $"the container's limit, {name}");
        }
        return limit;
    }

    /// <summary>A cgroup limit file's value in bytes, or null when absent, unreadable or unlimited ("max").</summary>
    internal static long? CgroupLimit(string file)
    {
        try
        {
            if (!File.Exists(file))
                return null;
            return ParseCgroupLimit(File.ReadAllText(file));
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    internal static long? ParseCgroupLimit(string text) =>
        long.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long bytes) && bytes > 0 ? bytes : null;
}
