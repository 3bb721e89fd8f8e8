using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Scoring;

/// <summary>
/// What <see cref="DeepClusterTransformer.Transform(IDataView)"/> returns: the scoring chain's output, with its first step
/// (ApplyOnnxModel, one ONNX Runtime call per row) replaced by <see cref="BatchedOnnxCursor"/> (one call per batch).
/// The steps after it (ML.NET's k-means scorer, the renames) are the chain's own transformers, applied row by row
/// through their row-to-row mapper. So the schema is the chain's (names, types, the K-valued key, annotations, hidden
/// columns), Score and PredictedClusterId come from ML.NET's own k-means code (same distances, same tie-breaking), and
/// the only thing computed differently from the saved <c>.zip</c> is that the same graph sees 256 rows at a time.
/// The mapper is used instead of the steps' <c>Transform</c>: their data views would split our one cursor across
/// threads and merge the rows back (ML.NET's consolidating cursors), thread hand-offs per row that buy nothing for the
/// few multiply-adds of K distances.
/// </summary>
internal sealed class BatchedScoringDataView : IDataView
{
    /// <summary>Rows per ONNX Runtime call: past a few hundred rows a run of the DEC network gains little per row.</summary>
    public const int BatchSize = 256;

    private readonly IDataView _input;
    private readonly OnnxBatchSession _onnx;
    private readonly DataViewSchema _onnxOutputSchema;
    private readonly IRowToRowMapper _afterOnnx;
    private readonly DataViewSchema.Column _featureColumn;
    private readonly int _embeddingIndex;
    private readonly int _softAssignmentIndex;
    private readonly int _batchSize;

    // input: the data to score, already wrapped in the FiniteFeatureGuard; onnxStep: the chain's ApplyOnnxModel
    // transformer, of which only the output schema is used; afterOnnx: the chain's later transformers, in order.
    public BatchedScoringDataView(IDataView input, ITransformer onnxStep, IReadOnlyList<ITransformer> afterOnnx, OnnxBatchSession onnx,
        string featureColumnName, string embeddingColumnName, string softAssignmentColumnName, int batchSize = BatchSize)
    {
        _input = input;
        _onnx = onnx;
        _batchSize = batchSize;
        _featureColumn = input.Schema[featureColumnName];
        _onnxOutputSchema = onnxStep.GetOutputSchema(input.Schema);

        // BatchedOnnxCursor serves input column i at index i and the two graph outputs after them, as ApplyOnnxModel
        // lays its schema out; check rather than assume, since a new ML.NET could lay it out otherwise.
        int inputCount = input.Schema.Count;
        var embedding = _onnxOutputSchema.GetColumnOrNull(embeddingColumnName);
        var softAssignment = _onnxOutputSchema.GetColumnOrNull(softAssignmentColumnName);
        bool sameLayout = _onnxOutputSchema.Count == inputCount + 2
            && embedding is { } e && e.Index >= inputCount && e.Type is VectorDataViewType { Size: var embeddingSize } && embeddingSize == onnx.EmbeddingSize
            && softAssignment is { } q && q.Index >= inputCount && q.Type is VectorDataViewType { Size: var clusters } && clusters == onnx.ClusterCount
            && Enumerable.Range(0, inputCount).All(i => _onnxOutputSchema[i].Name == input.Schema[i].Name && _onnxOutputSchema[i].Type.Equals(input.Schema[i].Type));
        if (!sameLayout)
            throw new InvalidOperationException(
                $"Internal error: ApplyOnnxModel's output schema ({string.Join(", ", _onnxOutputSchema.Select(c => $"{c.Name}:{c.Type}"))}) is not the input's columns followed by " +
                $"'{embeddingColumnName}' and '{softAssignmentColumnName}'; this version of ML.NET needs an update of Microsoft.ML.DeepClustering.");
        _embeddingIndex = embedding!.Value.Index;
        _softAssignmentIndex = softAssignment!.Value.Index;

        var rest = new TransformerChain<ITransformer>(afterOnnx.ToArray());
        _afterOnnx = ((ITransformer)rest).GetRowToRowMapper(_onnxOutputSchema);
    }

    public bool CanShuffle => _input.CanShuffle;

    /// <summary>The chain's output schema, built by the chain's own transformers.</summary>
    public DataViewSchema Schema => _afterOnnx.OutputSchema;

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        ArgumentNullException.ThrowIfNull(columnsNeeded);
        var needed = columnsNeeded.ToArray();
        foreach (var column in needed)
            if (column.Index < 0 || column.Index >= Schema.Count)
                throw new ArgumentOutOfRangeException(nameof(columnsNeeded), column.Name, $"Column '{column.Name}' is not a column of this data view's schema.");

        // Which of ApplyOnnxModel's output columns the later steps need, then which input columns that takes.
        var active = new bool[_onnxOutputSchema.Count];
        foreach (var column in _afterOnnx.GetDependencies(needed))
            active[column.Index] = true;
        bool scoring = active[_embeddingIndex] || active[_softAssignmentIndex];
        var inputColumns = _input.Schema.Where(c => active[c.Index] || (scoring && c.Index == _featureColumn.Index));

        var input = _input.GetRowCursor(inputColumns, rand);
        BatchedOnnxCursor? batched = null;
        try
        {
            long? rows = _input.GetRowCount();
            // No need for 256 rows of buffers to score a handful.
            int capacity = rows is long n and > 0 and < int.MaxValue ? (int)Math.Min(_batchSize, n) : _batchSize;
            batched = new BatchedOnnxCursor(_onnxOutputSchema, active, input, _onnx, _featureColumn, _embeddingIndex, _softAssignmentIndex, capacity);
            var requested = new bool[Schema.Count];
            foreach (var column in needed)
                requested[column.Index] = true;
            return new Cursor(batched, _afterOnnx.GetRow(batched, needed), requested);
        }
        catch
        {
            if (batched is not null)
                batched.Dispose();
            else
                input.Dispose();
            throw;
        }
    }

    /// <summary>One cursor: the batches are the parallelism, and ONNX Runtime spreads each run over the cores itself.</summary>
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        new[] { GetRowCursor(columnsNeeded, rand) };

    /// <summary>
    /// Moves with the batched cursor; reads through the later steps' row, which reads from the batched cursor. The
    /// active columns are the ones asked for: the row of ML.NET's DropColumns calls every column active.
    /// </summary>
    private sealed class Cursor(BatchedOnnxCursor batched, DataViewRow mapped, bool[] requested) : DataViewRowCursor
    {
        public override DataViewSchema Schema => mapped.Schema;
        public override long Position => batched.Position;
        public override long Batch => batched.Batch;
        public override bool MoveNext() => batched.MoveNext();
        public override ValueGetter<DataViewRowId> GetIdGetter() => batched.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => column.Index >= 0 && column.Index < requested.Length && requested[column.Index];
        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => mapped.GetGetter<TValue>(column);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                mapped.Dispose();
                batched.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
