using System.Globalization;
using System.Text;
using Microsoft.ML.DeepClustering.Samples.Input;

namespace Microsoft.ML.DeepClustering.Samples.Report;

/// <summary>
/// assignments.csv: one line per input row, in input order (RFC 4180 quoting, invariant numbers). Under --shard I/N
/// only shard 0's file has the header line, so that the shards' files concatenated in any order after shard 0's
/// (<c>cat out-0/assignments.csv out-1/assignments.csv ...</c>) are the whole folder's, with one header.
/// </summary>
public static class AssignmentsCsv
{
    public static void Write(string path, ScoredRows rows, SampleInput input)
    {
        var sb = new StringBuilder();
        bool named = input.ItemNames is not null;
        if (input.Shard is not { Index: > 0 })
        {
            sb.Append(named ? "path" : "index").Append(",cluster,probability");
            if (rows.Labels is not null)
                sb.Append(",label");
            sb.Append('\n');
        }
        for (int i = 0; i < rows.Count; i++)
        {
            sb.Append(named ? Quote(input.ItemNames![i]) : i.ToString(CultureInfo.InvariantCulture));
            sb.Append(',').Append(rows.ClusterIds[i].ToString(CultureInfo.InvariantCulture));
            sb.Append(',').Append(rows.TopProbabilities[i].ToString("0.####", CultureInfo.InvariantCulture));
            if (rows.Labels is not null)
                sb.Append(',').Append(Quote(input.Labels!.NameOf(rows.Labels[i])));
            sb.Append('\n');
        }
        AtomicFile.WriteText(path, sb.ToString());
    }

    private static string Quote(string value) =>
        value.IndexOfAny(new[] { ',', '"', '\n', '\r' }) < 0 ? value : "\"" + value.Replace("\"", "\"\"") + "\"";
}
