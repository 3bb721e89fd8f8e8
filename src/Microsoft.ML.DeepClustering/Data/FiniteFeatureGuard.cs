using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Data;

/// <summary>
/// Scoring-time input check of the fitted transformer (here with the other input checks): a NaN or infinite feature would otherwise flow through the ONNX
/// graph and come out as NaN scores and an arbitrary cluster id. The guard wraps the input (data view for
/// Transform, row for PredictionEngine) so that reading such a row throws, naming the column, the row and the slot.
/// A model loaded with mlContext.Model.Load is ML.NET's own transforms only and does not carry this check; one loaded
/// with LoadDeepClusterModel does (LoadedScoringModel, in the root).
/// </summary>
internal static class FiniteFeatureGuard
{
    public static IDataView Wrap(IDataView input, string columnName) => new GuardedDataView(input, columnName);

    public static IRowToRowMapper Wrap(IRowToRowMapper mapper, string columnName) => new GuardedMapper(mapper, columnName);

    /// <summary>The getter itself for other columns; for the feature column, one that checks every value it reads.</summary>
    private static ValueGetter<T> GuardIfFeature<T>(ValueGetter<T> getter, DataViewSchema.Column column, Func<long> position, string columnName)
    {
        if (column.Name != columnName || column.IsHidden || getter is not ValueGetter<VBuffer<float>> vectorGetter)
            return getter;
        ValueGetter<VBuffer<float>> guarded = (ref VBuffer<float> value) =>
        {
            vectorGetter(ref value);
            var values = value.GetValues();
            for (int i = 0; i < values.Length; i++)
            {
                if (!float.IsFinite(values[i]))
                {
                    int slot = value.IsDense ? i : value.GetIndices()[i];
                    throw new InvalidOperationException(InputChecks.NonFiniteMessage(columnName, position(), slot, values[i]));
                }
            }
        };
        return (ValueGetter<T>)(Delegate)guarded;
    }

    private sealed class GuardedDataView(IDataView inner, string columnName) : IDataView
    {
        public bool CanShuffle => inner.CanShuffle;
        public DataViewSchema Schema => inner.Schema;
        public long? GetRowCount() => inner.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
            new GuardedCursor(inner.GetRowCursor(columnsNeeded, rand), columnName);

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            inner.GetRowCursorSet(columnsNeeded, n, rand).Select(c => (DataViewRowCursor)new GuardedCursor(c, columnName)).ToArray();
    }

    private sealed class GuardedCursor(DataViewRowCursor inner, string columnName) : DataViewRowCursor
    {
        public override DataViewSchema Schema => inner.Schema;
        public override long Position => inner.Position;
        public override long Batch => inner.Batch;
        public override bool MoveNext() => inner.MoveNext();
        public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
            GuardIfFeature(inner.GetGetter<TValue>(column), column, () => inner.Position, columnName);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                inner.Dispose();
            base.Dispose(disposing);
        }
    }

    private sealed class GuardedRow(DataViewRow inner, string columnName) : DataViewRow
    {
        public override DataViewSchema Schema => inner.Schema;
        public override long Position => inner.Position;
        public override long Batch => inner.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
            GuardIfFeature(inner.GetGetter<TValue>(column), column, () => inner.Position, columnName);
    }

    private sealed class GuardedMapper(IRowToRowMapper inner, string columnName) : IRowToRowMapper
    {
        public DataViewSchema InputSchema => inner.InputSchema;
        public DataViewSchema OutputSchema => inner.OutputSchema;
        public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) => inner.GetDependencies(dependingColumns);
        public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) => inner.GetRow(new GuardedRow(input, columnName), activeColumns);
    }
}
