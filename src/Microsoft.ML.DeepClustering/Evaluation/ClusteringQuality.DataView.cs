using System.Globalization;
using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering;

public static partial class ClusteringQuality
{
    private const string AcceptedTypes = "a key, Single, Double, Int32, UInt32 or Byte";

    /// <summary>
    /// Computes ACC, NMI, ARI and purity (see <see cref="Evaluate{TLabel, TCluster}(TLabel[], TCluster[])"/>)
    /// from two columns of an ML.NET <see cref="IDataView"/>, typically the output of a clustering model's
    /// <c>Transform</c> with the true labels kept alongside.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Both columns may be a key type (any raw type; values 1..n, 0 = missing) or a Single, Double, Int32, UInt32
    /// or Byte number holding whole values (NaN = missing for Single/Double). Key columns are read as their raw
    /// key values, so a <c>PredictedLabel</c>/<c>PredictedClusterId</c> key column yields cluster ids 1..k and a
    /// key label column yields class labels 1..n in <see cref="ClusteringConfusionMatrix.ClassLabels"/> and
    /// <see cref="ClusteringQualityMetrics.Mapping"/>; numeric labels (such as MNIST's digits 0..9 as
    /// Single) are used as they are. The metrics themselves do not depend on the values.
    /// </para>
    /// <para>Every row is read once; rows with a missing label or prediction are an error, not skipped.</para>
    /// </remarks>
    /// <param name="data">The data to evaluate; must have at least one row.</param>
    /// <param name="labelColumnName">The column holding the true class of each row.</param>
    /// <param name="predictedClusterIdColumnName">The column holding the predicted cluster id of each row.</param>
    /// <returns>The metrics; see <see cref="ClusteringQualityMetrics"/> for each one's range.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> or a column name is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// A column does not exist (the message lists the available ones) or has an unsupported type (the message
    /// names the expected types and the one found).
    /// </exception>
    /// <exception cref="ArgumentException">
    /// The data has no rows, or a row has a missing or non-integral label or prediction (the message names the
    /// column and the 0-based row).
    /// </exception>
    public static ClusteringQualityMetrics Evaluate(
        IDataView data,
        string labelColumnName = "Label",
        string predictedClusterIdColumnName = "PredictedClusterId")
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrWhiteSpace(labelColumnName);
        ArgumentException.ThrowIfNullOrWhiteSpace(predictedClusterIdColumnName);

        var labelColumn = FindColumn(data.Schema, labelColumnName, nameof(labelColumnName));
        var clusterColumn = FindColumn(data.Schema, predictedClusterIdColumnName, nameof(predictedClusterIdColumnName));
        CheckColumnType(labelColumn, nameof(labelColumnName));
        CheckColumnType(clusterColumn, nameof(predictedClusterIdColumnName));

        long? rowCount = data.GetRowCount();
        int capacity = rowCount is > 0 and <= int.MaxValue ? (int)rowCount.Value : 0;
        var labels = new List<int>(capacity);
        var clusters = new List<int>(capacity);

        using (var cursor = data.GetRowCursor(new[] { labelColumn, clusterColumn }))
        {
            var readLabel = CreateReader(cursor, labelColumn, nameof(labelColumnName));
            var readCluster = CreateReader(cursor, clusterColumn, nameof(predictedClusterIdColumnName));
            while (cursor.MoveNext())
            {
                if (labels.Count == int.MaxValue)
                    throw new ArgumentException("The data has more rows than can be evaluated (Int32.MaxValue).", nameof(data));
                labels.Add(readLabel());
                clusters.Add(readCluster());
            }
        }

        if (labels.Count == 0)
        {
            throw new ArgumentException(
                $"The data has no rows: there is nothing to evaluate in columns '{labelColumn.Name}' and '{clusterColumn.Name}'.",
                nameof(data));
        }
        return Evaluate(BuildConfusionMatrix(labels.ToArray(), clusters.ToArray()));
    }

    private static DataViewSchema.Column FindColumn(DataViewSchema schema, string name, string paramName)
    {
        var column = schema.GetColumnOrNull(name);
        if (column is null)
        {
            var available = schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}' ({c.Type})").ToArray();
            string list = available.Length == 0 ? "(none)" : string.Join(", ", available);
            throw new ArgumentOutOfRangeException(paramName,
                $"Column '{name}' was not found in the data. Available columns: {list}.");
        }
        return column.Value;
    }

    private static void CheckColumnType(DataViewSchema.Column column, string paramName)
    {
        var type = column.Type;
        bool ok = type is KeyDataViewType
            || type == NumberDataViewType.Single
            || type == NumberDataViewType.Double
            || type == NumberDataViewType.Int32
            || type == NumberDataViewType.UInt32
            || type == NumberDataViewType.Byte;
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(paramName,
                $"Column '{column.Name}' must be {AcceptedTypes} column; found {type}.");
        }
    }

    /// <summary>A reader of the current row's value of one column, as an int; throws on missing values.</summary>
    private static Func<int> CreateReader(DataViewRowCursor cursor, DataViewSchema.Column column, string paramName)
    {
        var type = column.Type;
        if (type is KeyDataViewType key)
        {
            if (key.RawType == typeof(uint))
                return KeyReader<uint>(cursor, column, paramName, v => v);
            if (key.RawType == typeof(byte))
                return KeyReader<byte>(cursor, column, paramName, v => v);
            if (key.RawType == typeof(ushort))
                return KeyReader<ushort>(cursor, column, paramName, v => v);
            if (key.RawType == typeof(ulong))
                return KeyReader<ulong>(cursor, column, paramName, v => v);
            throw new ArgumentOutOfRangeException(paramName,
                $"Column '{column.Name}' is a key column of unsupported raw type {key.RawType.Name}; found {type}.");
        }
        if (type == NumberDataViewType.Single)
        {
            var getter = cursor.GetGetter<float>(column);
            float value = 0;
            return () =>
            {
                getter(ref value);
                return FromFloating(value, float.IsNaN(value), cursor, column, paramName);
            };
        }
        if (type == NumberDataViewType.Double)
        {
            var getter = cursor.GetGetter<double>(column);
            double value = 0;
            return () =>
            {
                getter(ref value);
                return FromFloating(value, double.IsNaN(value), cursor, column, paramName);
            };
        }
        if (type == NumberDataViewType.Int32)
        {
            var getter = cursor.GetGetter<int>(column);
            int value = 0;
            return () =>
            {
                getter(ref value);
                return value;
            };
        }
        if (type == NumberDataViewType.UInt32)
        {
            var getter = cursor.GetGetter<uint>(column);
            uint value = 0;
            return () =>
            {
                getter(ref value);
                if (value > int.MaxValue)
                    throw OutOfInt32Range(value, cursor, column, paramName);
                return (int)value;
            };
        }
        if (type == NumberDataViewType.Byte)
        {
            var getter = cursor.GetGetter<byte>(column);
            byte value = 0;
            return () =>
            {
                getter(ref value);
                return value;
            };
        }
        // CheckColumnType ran first; kept so that a new accepted type cannot be forgotten here silently.
        throw new ArgumentOutOfRangeException(paramName,
            $"Column '{column.Name}' must be {AcceptedTypes} column; found {type}.");
    }

    private static Func<int> KeyReader<T>(DataViewRowCursor cursor, DataViewSchema.Column column, string paramName, Func<T, ulong> widen)
    {
        var getter = cursor.GetGetter<T>(column);
        T value = default!;
        return () =>
        {
            getter(ref value);
            ulong raw = widen(value);
            if (raw == 0)
            {
                throw new ArgumentException(
                    $"Column '{column.Name}' has a missing value (key value 0) at row {cursor.Position} (0-based); " +
                    "every row needs a label and a predicted cluster id: filter such rows out first " +
                    "(e.g. mlContext.Data.FilterRowsByMissingValues).",
                    paramName);
            }
            if (raw > int.MaxValue)
                throw OutOfInt32Range(raw, cursor, column, paramName);
            return (int)raw;
        };
    }

    private static int FromFloating(double value, bool isNaN, DataViewRowCursor cursor, DataViewSchema.Column column, string paramName)
    {
        if (isNaN)
        {
            throw new ArgumentException(
                $"Column '{column.Name}' has a missing value (NaN) at row {cursor.Position} (0-based); " +
                "every row needs a label and a predicted cluster id: filter such rows out first " +
                "(e.g. mlContext.Data.FilterRowsByMissingValues).",
                paramName);
        }
        if (value != Math.Floor(value) || double.IsInfinity(value))
        {
            throw new ArgumentException(
                $"Column '{column.Name}' has the non-integral value {value.ToString(CultureInfo.InvariantCulture)} at row " +
                $"{cursor.Position} (0-based); class labels and cluster ids must be whole numbers.",
                paramName);
        }
        if (value < int.MinValue || value > int.MaxValue)
            throw OutOfInt32Range(value, cursor, column, paramName);
        return (int)value;
    }

    private static ArgumentException OutOfInt32Range(object value, DataViewRowCursor cursor, DataViewSchema.Column column, string paramName)
        => new ArgumentException(
            $"Column '{column.Name}' has the value {Convert.ToString(value, CultureInfo.InvariantCulture)} at row " +
            $"{cursor.Position} (0-based), which does not fit in an Int32.",
            paramName);
}
