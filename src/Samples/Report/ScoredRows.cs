using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Samples.Input;

namespace Microsoft.ML.DeepClustering.Samples.Report;

/// <summary>
/// The model's output for every row, read in one pass over the scored data: cluster id, top soft-assignment
/// probability, embedding, distances, and the label when known. Everything in the report is computed from these
/// arrays, so the model (and, for a folder, the image decoding) runs once; only the montage's few images are read
/// again (<see cref="ReadFeatures"/>).
/// </summary>
public sealed class ScoredRows
{
    public required int NumberOfClusters { get; init; }

    /// <summary>PredictedClusterId, 1..K.</summary>
    public required int[] ClusterIds { get; init; }

    /// <summary>The largest value of SoftAssignment: how sure the model is of the row's cluster.</summary>
    public required float[] TopProbabilities { get; init; }

    public required float[][] Embeddings { get; init; }

    /// <summary>Score: squared distances to each centroid in the embedding, as ML.NET's clustering evaluator reads them.</summary>
    public required float[][] Scores { get; init; }

    /// <summary>Label values (whole numbers), or null when the input has no labels.</summary>
    public int[]? Labels { get; init; }

    public int Count => ClusterIds.Length;

    /// <summary>Number of rows in each cluster; index 0 is cluster id 1.</summary>
    public int[] ClusterSizes()
    {
        var sizes = new int[NumberOfClusters];
        foreach (int id in ClusterIds)
            sizes[id - 1]++;
        return sizes;
    }

    /// <param name="rowsRead">Told the number of rows read so far, after each row (for a progress display); may be null.</param>
    public static ScoredRows Read(IDataView scored, bool withLabels, CancellationToken cancellation, IProgress<int>? rowsRead = null)
    {
        var schema = scored.Schema;
        var idColumn = schema[SampleColumns.PredictedClusterId];
        var softColumn = schema[SampleColumns.SoftAssignment];
        var embeddingColumn = schema[SampleColumns.Embedding];
        var scoreColumn = schema[SampleColumns.Score];
        var labelColumn = withLabels ? schema[SampleColumns.Label] : (DataViewSchema.Column?)null;
        int k = ((VectorDataViewType)softColumn.Type).Size;

        var ids = new List<int>();
        var top = new List<float>();
        var embeddings = new List<float[]>();
        var scores = new List<float[]>();
        var labels = new List<int>();
        var columns = new List<DataViewSchema.Column> { idColumn, softColumn, embeddingColumn, scoreColumn };
        if (labelColumn is { } l)
            columns.Add(l);

        using var cursor = scored.GetRowCursor(columns);
        var getId = cursor.GetGetter<uint>(idColumn);
        var getSoft = cursor.GetGetter<VBuffer<float>>(softColumn);
        var getEmbedding = cursor.GetGetter<VBuffer<float>>(embeddingColumn);
        var getScore = cursor.GetGetter<VBuffer<float>>(scoreColumn);
        var getLabel = labelColumn is { } lc ? cursor.GetGetter<float>(lc) : null;
        uint id = 0;
        float label = 0;
        VBuffer<float> soft = default, embedding = default, score = default;
        while (cursor.MoveNext())
        {
            cancellation.ThrowIfCancellationRequested();
            getId(ref id);
            getSoft(ref soft);
            getEmbedding(ref embedding);
            getScore(ref score);
            ids.Add((int)id);
            top.Add(soft.DenseValues().Max());
            embeddings.Add(embedding.DenseValues().ToArray());
            scores.Add(score.DenseValues().ToArray());
            if (getLabel is not null)
            {
                getLabel(ref label);
                labels.Add((int)label);
            }
            rowsRead?.Report(ids.Count);
        }

        return new ScoredRows
        {
            NumberOfClusters = k,
            ClusterIds = ids.ToArray(),
            TopProbabilities = top.ToArray(),
            Embeddings = embeddings.ToArray(),
            Scores = scores.ToArray(),
            Labels = withLabels ? labels.ToArray() : null,
        };
    }

    /// <summary>The Features of the given rows (0-based positions), read lazily: other rows' images are not decoded.</summary>
    public static Dictionary<int, float[]> ReadFeatures(IDataView data, IReadOnlySet<int> rows)
    {
        var result = new Dictionary<int, float[]>(rows.Count);
        if (rows.Count == 0)
            return result;
        var column = data.Schema[SampleColumns.Features];
        using var cursor = data.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        VBuffer<float> buffer = default;
        int last = rows.Max();
        while (cursor.MoveNext() && cursor.Position <= last)
        {
            if (!rows.Contains((int)cursor.Position))
                continue;
            getter(ref buffer);
            result[(int)cursor.Position] = buffer.DenseValues().ToArray();
        }
        return result;
    }
}
