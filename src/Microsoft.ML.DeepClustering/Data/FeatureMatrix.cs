using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Data;

/// <summary>
/// The feature column of an <see cref="IDataView"/> read once into one contiguous row-major float array [N, D],
/// checked on the way: the type, the size, NaN and infinity (naming the row).
/// </summary>
internal sealed class FeatureMatrix
{
    public float[] Values { get; }
    public int Rows { get; }
    public int Columns { get; }
    /// <summary>The column's dimensions as the schema gives them (ExtractPixels gives [C, H, W]).</summary>
    public IReadOnlyList<int> Dimensions { get; }

    private FeatureMatrix(float[] values, int rows, int columns, IReadOnlyList<int> dimensions)
    {
        Values = values;
        Rows = rows;
        Columns = columns;
        Dimensions = dimensions;
    }

    /// <summary>Distinct rows, counted up to <paramref name="limit"/> (enough to know whether K clusters can exist).</summary>
    public int CountDistinctRows(int limit)
    {
        var seen = new HashSet<RowKey>();
        for (int r = 0; r < Rows && seen.Count < limit; r++)
            seen.Add(new RowKey(Values, r * Columns, Columns));
        return seen.Count;
    }

    private readonly struct RowKey(float[] values, int offset, int length) : IEquatable<RowKey>
    {
        private ReadOnlySpan<float> Span => values.AsSpan(offset, length);
        public bool Equals(RowKey other) => Span.SequenceEqual(other.Span);
        public override bool Equals(object? obj) => obj is RowKey other && Equals(other);
        public override int GetHashCode()
        {
            var hash = new HashCode();
            hash.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Span));
            return hash.ToHashCode();
        }
    }

    public static FeatureMatrix Read(IDataView data, string columnName, CancellationToken cancellation = default)
    {
        var column = InputChecks.FeatureColumn(data.Schema, columnName);
        var type = (VectorDataViewType)column.Type;
        int size = type.Size;
        var dims = type.Dimensions.ToArray();

        long? knownRows = data.GetRowCount();
        var values = new List<float>(knownRows is long n && n > 0 && n * size < int.MaxValue ? (int)(n * size) : 0);
        var buffer = default(VBuffer<float>);
        var dense = new float[size];
        int row = 0;
        using (var cursor = data.GetRowCursor(new[] { column }))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
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
                values.AddRange(dense);
                row++;
                if ((long)row * size > Array.MaxLength)
                    throw new InvalidOperationException($"Column '{columnName}': more than {Array.MaxLength} values in all; train on a sample.");
            }
        }
        if (row == 0)
            throw new ArgumentException($"The training data is empty: column '{columnName}' has no rows.", nameof(data));
        return new FeatureMatrix(values.ToArray(), row, size, dims);
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
