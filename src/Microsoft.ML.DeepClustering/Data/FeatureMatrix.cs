using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.ML.Data;
using TorchSharp;

namespace Microsoft.ML.DeepClustering.Data;

/// <summary>
/// The feature column of an <see cref="IDataView"/>, read once with one cursor into a <see cref="RowStore"/> [N, D],
/// checked on the way: the size of every row, NaN and infinity, and what the chosen <see cref="RowStoragePrecision"/>
/// can hold (naming the row). Disposing it releases the rows (and the memory-mapped file).
/// </summary>
internal sealed class FeatureMatrix : IDisposable
{
    private readonly RowStore _store;

    public int Rows => _store.Rows;
    public int Columns => _store.Columns;
    /// <summary>The column's dimensions as the schema gives them (ExtractPixels gives [C, H, W]).</summary>
    public IReadOnlyList<int> Dimensions { get; }
    /// <summary>The rows themselves, for reading in batches (<see cref="RowStore.CopyRows"/>) or by index (<see cref="RowStore.Gather"/>).</summary>
    public RowStore Store => _store;

    private FeatureMatrix(RowStore store, IReadOnlyList<int> dimensions)
    {
        _store = store;
        Dimensions = dimensions;
    }

    /// <summary>
    /// All rows as one float32 tensor [N, D] on the CPU. Float32 rows kept in memory are shared, not copied (the tensor
    /// pins their array, as <c>torch.tensor(float[])</c> does); other stores are decoded into a new tensor a batch at a time.
    /// </summary>
    public torch.Tensor ToTensor()
    {
        if (_store.ContiguousFloats(join: true) is float[] values)
            return torch.tensor(values, new long[] { Rows, Columns });
        var result = torch.empty(new long[] { Rows, Columns }, torch.ScalarType.Float32);
        try
        {
            int batch = Math.Max(1, (1 << 24) / Columns);
            for (int start = 0; start < Rows; start += batch)
            {
                int count = Math.Min(batch, Rows - start);
                using var rows = result.narrow(0, start, count);
                _store.CopyRows(start, count, MemoryMarshal.Cast<byte, float>(rows.bytes));
            }
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>Rows start..start+count-1 as a new float32 tensor [count, D] on the CPU: a batch for a pass over the rows.</summary>
    public torch.Tensor RowsTensor(int start, int count)
    {
        var result = torch.empty(new long[] { count, Columns }, torch.ScalarType.Float32);
        try
        {
            _store.CopyRows(start, count, MemoryMarshal.Cast<byte, float>(result.bytes));
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>The given rows, in the order given, as a new float32 tensor [rows.Length, D] on the CPU: a shuffled batch.</summary>
    public torch.Tensor GatherTensor(ReadOnlySpan<int> rows)
    {
        var result = torch.empty(new long[] { rows.Length, Columns }, torch.ScalarType.Float32);
        try
        {
            _store.Gather(rows, MemoryMarshal.Cast<byte, float>(result.bytes));
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>SHA-256 of the float32 values training sees, row-major (for float32 rows: of the input itself).</summary>
    public byte[] Sha256()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        int batch = Math.Max(1, (1 << 20) / Columns);
        var buffer = new float[Math.Min(batch, Rows) * Columns];
        for (int start = 0; start < Rows; start += batch)
        {
            int count = Math.Min(batch, Rows - start);
            var span = buffer.AsSpan(0, count * Columns);
            _store.CopyRows(start, count, span);
            hash.AppendData(MemoryMarshal.AsBytes(span));
        }
        return hash.GetHashAndReset();
    }

    /// <summary>Distinct rows, counted up to <paramref name="limit"/> (enough to know whether K clusters can exist).</summary>
    public int CountDistinctRows(int limit)
    {
        // Only distinct rows are kept, and at most limit of them.
        var seen = new HashSet<float[]>(RowComparer.Instance);
        var row = new float[Columns];
        for (int r = 0; r < Rows && seen.Count < limit; r++)
        {
            _store.CopyRows(r, 1, row);
            if (seen.Add(row))
                row = new float[Columns];
        }
        return seen.Count;
    }

    /// <summary>Rows compared bit for bit.</summary>
    private sealed class RowComparer : IEqualityComparer<float[]>
    {
        public static readonly RowComparer Instance = new();
        public bool Equals(float[]? x, float[]? y) => MemoryMarshal.AsBytes(x.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(y.AsSpan()));
        public int GetHashCode(float[] row)
        {
            var hash = new HashCode();
            hash.AddBytes(MemoryMarshal.AsBytes(row.AsSpan()));
            return hash.ToHashCode();
        }
    }

    public void Dispose() => _store.Dispose();

    /// <summary>How to store the rows: the precision, when to move them to a file, and where the file goes.</summary>
    /// <param name="Precision">How each value is kept.</param>
    /// <param name="SpillBytes">Bytes after which rows go to a memory-mapped file: 0 from the start, long.MaxValue never.</param>
    /// <param name="TempFolder">Where the file goes.</param>
    public sealed record StorageSettings(RowStoragePrecision Precision, long SpillBytes, string TempFolder)
    {
        public static StorageSettings InMemory { get; } = new(RowStoragePrecision.Float32, long.MaxValue, Path.GetTempPath());
    }

    /// <summary>
    /// Reads the column with one cursor, in the source's order, straight into the store: no intermediate list, and
    /// no knowledge of the row count needed (the store grows in chunks when <see cref="IDataView.GetRowCount"/> is null).
    /// </summary>
    public static FeatureMatrix Read(IDataView data, string columnName, StorageSettings storage, CancellationToken cancellation = default)
    {
        var column = InputChecks.FeatureColumn(data.Schema, columnName);
        var type = (VectorDataViewType)column.Type;
        int size = type.Size;
        var dims = type.Dimensions.ToArray();

        var buffer = default(VBuffer<float>);
        var dense = new float[size];
        int row = 0;
        using var builder = new RowStore.Builder(size, storage.Precision, data.GetRowCount(), storage.SpillBytes, storage.TempFolder);
        using (var cursor = data.GetRowCursor(new[] { column }))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            Exception Unstorable(int slot, float value, string why) => new InvalidOperationException(
                $"Column '{columnName}': row {row} holds {value} at slot {slot}; {why}. Use RowPrecision = Float32, or rescale the column.");
            Func<int, float, string, Exception> unstorable = Unstorable;
            while (ReadRow(data, cursor, getter, ref buffer, column, row))
            {
                if ((row & 1023) == 0)
                    cancellation.ThrowIfCancellationRequested();
                if (buffer.Length != size)
                    throw new InvalidOperationException(
                        $"Column '{columnName}': row {row} has {buffer.Length} values, expected {size}.");
                buffer.CopyTo(dense);
                for (int j = 0; j < size; j++)
                {
                    if (!float.IsFinite(dense[j]))
                        throw new InvalidOperationException(InputChecks.NonFiniteMessage(columnName, row, j, dense[j]));
                }
                builder.Add(dense, unstorable);
                row++;
            }
        }
        cancellation.ThrowIfCancellationRequested();
        if (row == 0)
            throw new ArgumentException($"The training data is empty: column '{columnName}' has no rows.", nameof(data));
        return new FeatureMatrix(builder.Build(), dims);
    }

    /// <summary>Moves to the next row and reads its features; a failure upstream becomes <see cref="InputChecks.ReadFailure"/>'s error, which names the row.</summary>
    private static bool ReadRow(IDataView data, DataViewRowCursor cursor, ValueGetter<VBuffer<float>> getter, ref VBuffer<float> buffer, DataViewSchema.Column column, int row)
    {
        try
        {
            if (!cursor.MoveNext())
                return false;
            getter(ref buffer);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            throw InputChecks.ReadFailure(data, column, row, e);
        }
    }
}
