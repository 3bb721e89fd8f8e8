using System.Globalization;
using System.Text;
using Microsoft.ML.DeepClustering.Samples.Input;

namespace Microsoft.ML.DeepClustering.Samples.Report;

/// <summary>assignments.csv: one line per input row, in input order (RFC 4180 quoting, invariant numbers).</summary>
public static class AssignmentsCsv
{
    public static void Write(string path, ScoredRows rows, SampleInput input)
    {
        var sb = new StringBuilder();
        bool named = input.ItemNames is not null;
        sb.Append(named ? "path" : "index").Append(",cluster,probability");
        if (rows.Labels is not null)
            sb.Append(",label");
        sb.Append('\n');
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
