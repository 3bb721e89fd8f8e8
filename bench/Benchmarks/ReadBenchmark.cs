using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Data;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// The read stage of Fit alone, on a synthetic N × D float column streamed from an enumerable (nothing held in
/// memory but the row being produced): the process's peak resident memory (VmHWM) above what it held before reading,
/// against the raw float32 size N·D·4. <c>--path list</c> measures the reading Fit did before the row store
/// (a List&lt;float&gt; grown row by row, then ToArray), the baseline of docs/benchmarks.md. Run each case in its own
/// process: the peak is the process's.
/// </summary>
internal static class ReadBenchmark
{
    private sealed class Row { public float[] Features { get; set; } = Array.Empty<float>(); }

    /// <summary>The enumerable's view with the row count it is given (null: the source does not know it).</summary>
    private sealed class Counted(IDataView inner, long? rows) : IDataView
    {
        public DataViewSchema Schema => inner.Schema;
        public bool CanShuffle => false;
        public long? GetRowCount() => rows;
        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => inner.GetRowCursor(columnsNeeded, rand);
        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => inner.GetRowCursorSet(columnsNeeded, n, rand);
    }

    public static int Run(int rows, int columns, bool countKnown, string path, RowStorageLocation storage, RowStoragePrecision precision)
    {
        var ml = new MLContext(seed: 1);
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, columns);
        IEnumerable<Row> Generate()
        {
            var random = new Random(1);
            for (int r = 0; r < rows; r++)
            {
                var values = new float[columns];
                for (int j = 0; j < columns; j++)
                    values[j] = random.NextSingle();
                yield return new Row { Features = values };
            }
        }
        IDataView data = new Counted(ml.Data.LoadFromEnumerable(Generate(), schema), countKnown ? rows : null);

        // Everything but the rows loaded and warmed first: a small read of the same kind, then a full collection.
        Read(new Counted(ml.Data.LoadFromEnumerable(Generate().Take(1000), schema), countKnown ? 1000 : null), path, storage, precision);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        ResetPeak();
        long before = Status("VmRSS");
        long beforePeak = Status("VmHWM");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int read = Read(data, path, storage, precision);
        long peak = Status("VmHWM");
        long raw = (long)rows * columns * sizeof(float);
        Console.WriteLine($"# Read stage, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC: {read:N0} rows × {columns} ({raw / (double)(1 << 20):F0} MiB as float32), " +
            $"row count {(countKnown ? "known" : "unknown")}, path {path}, RowStorage {storage}, RowPrecision {precision}");
        Console.WriteLine($"resident before reading {before / 1024.0:F0} MiB (peak so far {beforePeak / 1024.0:F0} MiB); " +
            $"peak while reading {peak / 1024.0:F0} MiB: {(peak - before) / 1024.0:F0} MiB above, {(peak - before) * 1024.0 / raw:F2}× the raw float32 size; {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }

    private static int Read(IDataView data, string path, RowStorageLocation storage, RowStoragePrecision precision)
    {
        if (path == "list")
            return ReadIntoList(data);
        long spill = MemoryBudget.SpillBytes(storage, MemoryBudget.ProcessLimit());
        using var matrix = FeatureMatrix.Read(data, "Features", new FeatureMatrix.StorageSettings(precision, spill, Path.GetTempPath()));
        return matrix.Rows;
    }

    /// <summary>Fit's reading before the row store, for the baseline: every value appended to a List&lt;float&gt;, then one array.</summary>
    private static int ReadIntoList(IDataView data)
    {
        var column = data.Schema["Features"];
        int size = ((VectorDataViewType)column.Type).Size;
        long? known = data.GetRowCount();
        var values = new List<float>(known is long n && n * size < int.MaxValue ? (int)(n * size) : 0);
        var buffer = default(VBuffer<float>);
        var dense = new float[size];
        int rows = 0;
        using (var cursor = data.GetRowCursor(new[] { column }))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            while (cursor.MoveNext())
            {
                getter(ref buffer);
                buffer.CopyTo(dense);
                values.AddRange(dense);
                rows++;
            }
        }
        var array = values.ToArray();
        GC.KeepAlive(array);
        return rows;
    }

    /// <summary>A field of /proc/self/status in KiB.</summary>
    private static long Status(string field) =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":"))[(field.Length + 1)..].Trim().Split(' ')[0]);

    /// <summary>Resets VmHWM to the current resident size (Linux 4.0 and later: write 5 to clear_refs).</summary>
    private static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
