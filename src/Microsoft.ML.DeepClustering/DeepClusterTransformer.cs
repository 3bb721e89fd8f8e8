using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Data;
using Microsoft.ML.DeepClustering.Networks;
using Microsoft.ML.DeepClustering.Onnx;
using Microsoft.ML.DeepClustering.Scoring;

namespace Microsoft.ML.DeepClustering;

/// <summary>
/// A fitted deep clustering model. Schema, saving and PredictionEngine go through a chain of ML.NET's built-in
/// transforms (ApplyOnnxModel → k-means scorer → renames), so that <c>mlContext.Model.Save</c> writes an ordinary
/// <c>.zip</c> that <c>mlContext.Model.Load</c> reads back in any process with no registration; the loaded model is that
/// chain and gives the same columns. <see cref="Transform(IDataView)"/> gives the chain's columns too, but runs the chain's ONNX
/// graph on batches of rows rather than one row at a time, several times faster. This class adds what only the fitted
/// object knows: centroids, training history, ONNX export. Dispose it to free its ONNX Runtime sessions and its model
/// file in <see cref="MLContext.TempFilePath"/>.
/// </summary>
public sealed class DeepClusterTransformer : ITransformer, IDisposable
{
    private readonly ScoringChain _scoring;
    private readonly DeepClusterOptions _options;
    private bool _disposed;

    internal DeepClusterTransformer(ScoringChain scoring, DeepClusterOptions options, DeepClusterTrainingHistory history)
    {
        _scoring = scoring;
        _options = options;
        History = history;
    }

    /// <summary>K, the number of clusters; PredictedClusterId takes the values 1..K.</summary>
    public int NumberOfClusters => _scoring.Model.NumberOfClusters;

    /// <summary>Size of the embedding.</summary>
    public int EmbeddingDimension => _scoring.Model.EmbeddingDimension;

    /// <summary>Size of the feature vector the model reads.</summary>
    public int InputDimension => _scoring.Model.InputDimension;

    /// <summary>The centroids in the embedding space; row i belongs to cluster id i + 1.</summary>
    public float[][] Centroids => _scoring.Model.Centroids.Select(c => (float[])c.Clone()).ToArray();

    /// <summary>Losses per epoch, k-means inertias, label changes per target update, timings, device and seed.</summary>
    public DeepClusterTrainingHistory History { get; }

    /// <summary>The options the model was trained with.</summary>
    public DeepClusterOptions Options => _options.Clone();

    /// <summary>
    /// The decoder's image of each centroid, in the feature space (for pixels scaled to [0,1], an image of
    /// InputDimension values; ExtractPixels' [C, H, W] order). Row i is cluster id i + 1.
    /// </summary>
    public float[][] DecodeCentroids() => Decode(_scoring.Model.Centroids);

    /// <summary>Maps points of the embedding space back to the feature space through the trained decoder.</summary>
    public float[][] Decode(float[][] embeddings)
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        ThrowIfDisposed();
        return embeddings.Select((z, i) => z.Length == EmbeddingDimension
            ? ManagedDecoder.Decode(_scoring.Model.Decoder, z)
            : throw new ArgumentException($"Embedding {i} has {z.Length} values; the model's embedding has {EmbeddingDimension}.", nameof(embeddings))).ToArray();
    }

    /// <summary>
    /// Writes the model as a standalone ONNX graph (opset 17) runnable by ONNX Runtime anywhere. Input: the feature
    /// column's name, float [batch, InputDimension]. Outputs, named as the columns: Embedding float [batch, E],
    /// SoftAssignment float [batch, K], Score float [batch, K] (squared distances), PredictedClusterId uint32 [batch] (1-based).
    /// </summary>
    public void ExportOnnx(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ThrowIfDisposed();
        var bytes = DeepClusterOnnxExporter.Export(_scoring.Model, ScoringChain.ColumnNames(_options), includeScoreAndClusterId: true);
        destination.Write(bytes);
    }

    /// <inheritdoc />
    public bool IsRowToRowMapper => ((ITransformer)Chain).IsRowToRowMapper;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        return Chain.GetOutputSchema(inputSchema);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        return FiniteFeatureGuard.Wrap(((ITransformer)Chain).GetRowToRowMapper(inputSchema), _options.FeatureColumnName);
    }

    /// <summary>
    /// Scores <paramref name="input"/>: the chain's output schema and values, with the ONNX graph run on batches of
    /// rows rather than row by row (see <see cref="BatchedScoringDataView"/>). Lazy, as ML.NET's transforms are:
    /// nothing is computed until a cursor reads the output columns.
    /// </summary>
    public IDataView Transform(IDataView input) => Transform(input, BatchedScoringDataView.BatchSize);

    /// <summary><see cref="Transform(IDataView)"/> with another number of rows per ONNX Runtime call (tests use small ones).</summary>
    internal IDataView Transform(IDataView input, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        CheckInput(input.Schema);
        ThrowIfDisposed();
        var guarded = FiniteFeatureGuard.Wrap(input, _options.FeatureColumnName);
        return new BatchedScoringDataView(guarded, _scoring.OnnxStep, _scoring.AfterOnnx, _scoring.BatchSession,
            _options.FeatureColumnName, _options.EmbeddingColumnName, _options.SoftAssignmentColumnName, batchSize);
    }

    /// <summary>The unbatched path: the chain of built-in transforms as saved, for tests that compare the two.</summary>
    internal IDataView TransformThroughChain(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInput(input.Schema);
        return Chain.Transform(FiniteFeatureGuard.Wrap(input, _options.FeatureColumnName));
    }

    /// <summary>Saves as the chain of built-in transforms: the <c>.zip</c> loads with no reference to this library's types.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ThrowIfDisposed();
        ((ICanSaveModel)_scoring.Chain).Save(ctx);
    }

    /// <summary>Frees the ONNX Runtime session and deletes the model's temporary file.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _scoring.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Deletes the temporary model file if the transformer was never disposed (the ONNX session has its own finalizer).</summary>
    ~DeepClusterTransformer() => _scoring.DeleteModelFile();

    private TransformerChain<ITransformer> Chain
    {
        get
        {
            ThrowIfDisposed();
            return _scoring.Chain;
        }
    }

    private void CheckInput(DataViewSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var column = Data.InputChecks.FeatureColumn(schema, _options.FeatureColumnName);
        int size = ((VectorDataViewType)column.Type).Size;
        if (size != InputDimension)
            throw new ArgumentOutOfRangeException(nameof(schema), _options.FeatureColumnName,
                $"Feature column '{_options.FeatureColumnName}' must be a vector of {InputDimension} Single values, as in training; found {size}.");
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
