using System.IO.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Trainers;
using Microsoft.ML.Transforms.Onnx;

using Microsoft.ML.DeepClustering.Data;
using Microsoft.ML.DeepClustering.Scoring;

namespace Microsoft.ML.DeepClustering;

/// <summary>
/// The loaded counterpart of <see cref="DeepClusterTransformer"/>, beside it in the root because, like it, it guards
/// the features (Data) around the scoring chain (Scoring).
/// A saved deep clustering <c>.zip</c> as ML.NET loads it (the chain of built-in transforms, a featurizer in front when
/// the pipeline had one), with the batched scorer restored for bulk <see cref="Transform"/>: the chain's own steps
/// before ApplyOnnxModel, then <see cref="BatchedScoringDataView"/> over the same ONNX bytes (read back from the
/// <c>.zip</c>), then the chain's k-means scorer and renames. Schema, <see cref="GetRowToRowMapper"/> (PredictionEngine)
/// and Save are the loaded chain's, so the model saves back to the same kind of <c>.zip</c>. Enumerated, it gives the
/// loaded chain's steps, as a <see cref="TransformerChain{TLastTransformer}"/> does, so code that looks inside a loaded
/// model (the deepcluster tool finds its featurizer this way) sees the same steps either way.
/// </summary>
internal sealed class LoadedScoringModel : ITransformer, IEnumerable<ITransformer>, IDisposable
{
    private readonly ITransformer _loaded;
    private readonly IReadOnlyList<ITransformer> _before;
    private readonly ITransformer _onnxStep;
    private readonly IReadOnlyList<ITransformer> _afterOnnx;
    private readonly IReadOnlyList<ITransformer> _rest;
    private readonly OnnxBatchSession _session;
    private readonly string _featureColumn, _embeddingColumn, _softAssignmentColumn;
    private bool _disposed;

    private LoadedScoringModel(ITransformer loaded, IReadOnlyList<ITransformer> before, ITransformer onnxStep, IReadOnlyList<ITransformer> afterOnnx,
        IReadOnlyList<ITransformer> rest, OnnxBatchSession session, string featureColumn, string embeddingColumn, string softAssignmentColumn)
    {
        _loaded = loaded;
        _before = before;
        _onnxStep = onnxStep;
        _afterOnnx = afterOnnx;
        _rest = rest;
        _session = session;
        _featureColumn = featureColumn;
        _embeddingColumn = embeddingColumn;
        _softAssignmentColumn = softAssignmentColumn;
    }

    /// <summary>The producer name our ONNX exporter writes: how a graph in a <c>.zip</c> is recognised as ours.</summary>
    internal const string Producer = "Microsoft.ML.DeepClustering";

    /// <summary>
    /// Restores the batched scorer on <paramref name="loaded"/>, what ML.NET's Load read from <paramref name="path"/>.
    /// Throws <see cref="InvalidDataException"/> naming the file when it is not a deep clustering model.
    /// </summary>
    public static LoadedScoringModel Restore(ITransformer loaded, string path, int? gpuDeviceId, bool fallbackToCpu)
    {
        var steps = Flatten(loaded).ToList();
        // Loaded back, the scorer is a ClusteringPredictionTransformer of ML.NET's k-means model under another type argument.
        int kmeansIndex = steps.FindIndex(t => t is ISingleFeaturePredictionTransformer<object> { Model: KMeansModelParameters }
            && t.GetType().IsGenericType && t.GetType().GetGenericTypeDefinition() == typeof(ClusteringPredictionTransformer<>));
        if (kmeansIndex < 1 || steps[kmeansIndex - 1] is not OnnxTransformer)
            throw new InvalidDataException(
                $"'{path}' is an ML.NET model but not a deep clustering model: its transforms are {Describe(steps)}; " +
                "a model saved from DeepCluster holds ApplyOnnxModel followed by ML.NET's k-means scorer. Load it with mlContext.Model.Load instead.");
        var onnx = (OnnxTransformer)steps[kmeansIndex - 1];
        var kmeans = (ISingleFeaturePredictionTransformer<object>)steps[kmeansIndex];
        int onnxOrdinal = steps.Take(kmeansIndex - 1).Count(t => t is OnnxTransformer);

        var graph = FindGraph(path, onnxOrdinal, kmeans.FeatureColumnName);
        // The renames after the k-means scorer are row-to-row; anything the user appended after them that is not is applied as it is.
        int restStart = kmeansIndex + 1;
        while (restStart < steps.Count && steps[restStart].IsRowToRowMapper)
            restStart++;
        var session = new OnnxBatchSession(graph.Bytes, gpuDeviceId, fallbackToCpu, graph.Input, graph.InputDimensions,
            graph.Embedding, graph.EmbeddingSize, graph.SoftAssignment, graph.ClusterCount);
        return new LoadedScoringModel(loaded, steps.Take(kmeansIndex - 1).ToArray(), onnx, steps.Skip(kmeansIndex).Take(restStart - kmeansIndex).ToArray(),
            steps.Skip(restStart).ToArray(), session, graph.Input, graph.Embedding, graph.SoftAssignment);
    }

    public bool IsRowToRowMapper => _loaded.IsRowToRowMapper;

    public IEnumerator<ITransformer> GetEnumerator() => (_loaded is IEnumerable<ITransformer> chain ? chain : new[] { _loaded }).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _loaded.GetOutputSchema(inputSchema);

    /// <summary>The loaded chain's row-to-row mapper, as PredictionEngine uses it: one ONNX Runtime call per row.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        var mapper = _loaded.GetRowToRowMapper(inputSchema);
        return _before.Count == 0 && inputSchema.GetColumnOrNull(_featureColumn) is not null ? FiniteFeatureGuard.Wrap(mapper, _featureColumn) : mapper;
    }

    /// <summary>The chain's columns and values, with the ONNX graph run on batches of rows.</summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var features = _before.Aggregate(input, (data, step) => step.Transform(data));
        var column = InputChecks.FeatureColumn(features.Schema, _featureColumn);
        if (((VectorDataViewType)column.Type).Size != _session.FeatureSize)
            throw new ArgumentOutOfRangeException(nameof(input), _featureColumn,
                $"Feature column '{_featureColumn}' must be a vector of {_session.FeatureSize} Single values, as in training; found {((VectorDataViewType)column.Type).Size}.");
        IDataView scored = new BatchedScoringDataView(FiniteFeatureGuard.Wrap(features, _featureColumn), _onnxStep, _afterOnnx, _session,
            _featureColumn, _embeddingColumn, _softAssignmentColumn);
        return _rest.Aggregate(scored, (data, step) => step.Transform(data));
    }

    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_loaded).Save(ctx);

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _session.Dispose();
        (_loaded as IDisposable)?.Dispose();
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer transformer) =>
        transformer is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : new[] { transformer };

    private static string Describe(IReadOnlyList<ITransformer> steps) =>
        steps.Count == 0 ? "none" : string.Join(" → ", steps.Select(s => s.GetType().Name.Split('`')[0]));

    private sealed record Graph(byte[] Bytes, string Input, int[] InputDimensions, string Embedding, int EmbeddingSize, string SoftAssignment, int ClusterCount);

    /// <summary>
    /// The ONNX bytes of the chain's ApplyOnnxModel step. ApplyOnnxModel keeps its graph in a <c>.zip</c> entry named
    /// OnnxModel (an Int32 length, then the bytes) and exposes it no other way; the entries come in the chain's order,
    /// so the <paramref name="ordinal"/>-th one is the step's. Checked rather than assumed: the graph must be ours (its
    /// producer) and output <paramref name="embeddingColumn"/>, which the k-means scorer reads.
    /// </summary>
    private static Graph FindGraph(string path, int ordinal, string embeddingColumn)
    {
        using var zip = ZipFile.OpenRead(path);
        var entries = zip.Entries.Where(e => e.FullName.Replace('\\', '/').Split('/')[^1] == "OnnxModel").ToList();
        var order = Enumerable.Range(0, entries.Count).OrderBy(i => i == ordinal ? 0 : 1);
        foreach (int i in order)
        {
            byte[] bytes = ReadByteArray(entries[i], path);
            if (TryDescribe(bytes, embeddingColumn) is { } graph)
                return graph;
        }
        throw new InvalidDataException(
            $"'{path}' holds ApplyOnnxModel and a k-means scorer, but none of its {entries.Count} ONNX graph(s) was written by {Producer} with an output '{embeddingColumn}': " +
            "it is not a model saved from DeepCluster. Load it with mlContext.Model.Load instead.");
    }

    private static byte[] ReadByteArray(ZipArchiveEntry entry, string path)
    {
        using var stream = entry.Open();
        using var reader = new BinaryReader(stream);
        int length = reader.ReadInt32();
        byte[] bytes = reader.ReadBytes(length);
        if (length < 0 || bytes.Length != length)
            throw new InvalidDataException($"'{path}': the ONNX graph in '{entry.FullName}' is cut short ({bytes.Length} of {length} bytes).");
        return bytes;
    }

    private static Graph? TryDescribe(byte[] bytes, string embeddingColumn)
    {
        using var session = new InferenceSession(bytes);
        if (session.ModelMetadata.ProducerName != Producer || session.InputMetadata.Count != 1 || session.OutputMetadata.Count != 2
            || !session.OutputMetadata.ContainsKey(embeddingColumn))
            return null;
        var (input, inputInfo) = session.InputMetadata.Single();
        var softAssignment = session.OutputMetadata.Keys.Single(k => k != embeddingColumn);
        return new Graph(bytes, input, inputInfo.Dimensions.Skip(1).ToArray(), embeddingColumn, session.OutputMetadata[embeddingColumn].Dimensions[^1],
            softAssignment, session.OutputMetadata[softAssignment].Dimensions[^1]);
    }
}
