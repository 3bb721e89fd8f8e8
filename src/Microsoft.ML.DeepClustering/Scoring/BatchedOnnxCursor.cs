using System.Runtime.ExceptionServices;
using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Scoring;

/// <summary>
/// The rows ApplyOnnxModel would output (the input's columns, then Embedding and SoftAssignment) with the graph run
/// once per batch instead of once per row: <see cref="MoveNext"/> reads up to a batch of rows from the input, runs
/// ONNX Runtime on all of them at once, then serves them one by one from the batch's buffers. Input columns that are
/// asked for are copied per row (<see cref="BufferedInputColumn"/>), because the input cursor is already further on.
/// </summary>
internal sealed class BatchedOnnxCursor : DataViewRowCursor
{
    private readonly DataViewRowCursor _input;
    private readonly OnnxBatchSession _onnx;
    private readonly int _embeddingIndex;
    private readonly int _softAssignmentIndex;
    /// <summary>Whether Embedding and SoftAssignment are active; when neither is, the graph never runs and features are not read.</summary>
    private readonly bool _scoring;
    private readonly ValueGetter<VBuffer<float>>? _features;
    /// <summary>By input column index: the buffer of each active input column, null for the others.</summary>
    private readonly BufferedInputColumn?[] _inputColumns;
    /// <summary>The non-null entries of <see cref="_inputColumns"/>, which every row read fills.</summary>
    private readonly BufferedInputColumn[] _buffered;
    private readonly ValueGetter<DataViewRowId> _inputIds;
    private readonly int _capacity;
    private readonly DataViewRowId[] _ids;
    private readonly long[] _batches;
    private readonly Func<int> _currentSlot;
    private OnnxBatchBuffers? _buffers;
    private VBuffer<float> _featureRow;
    private int _rowsInBatch;
    private int _slot = -1;
    private long _position = -1;
    private bool _inputEnded;
    /// <summary>Reading a row from the input failed: the rows before it are served first, then this is thrown.</summary>
    private ExceptionDispatchInfo? _failure;

    // schema: ApplyOnnxModel's output schema for the input's schema (input columns at their own indices, then the two
    // outputs); active: which of its columns are read; input: a cursor over the input with those of its columns
    // active, and the feature column too when Embedding or SoftAssignment is; capacity: rows per batch.
    public BatchedOnnxCursor(DataViewSchema schema, bool[] active, DataViewRowCursor input, OnnxBatchSession onnx,
        DataViewSchema.Column featureColumn, int embeddingIndex, int softAssignmentIndex, int capacity)
    {
        Schema = schema;
        _input = input;
        _onnx = onnx;
        _embeddingIndex = embeddingIndex;
        _softAssignmentIndex = softAssignmentIndex;
        _scoring = active[embeddingIndex] || active[softAssignmentIndex];
        _capacity = capacity;
        _currentSlot = () =>
        {
            CheckOnRow();
            return _slot;
        };
        _inputIds = input.GetIdGetter();
        _ids = new DataViewRowId[capacity];
        _batches = new long[capacity];
        if (_scoring)
            _features = input.GetGetter<VBuffer<float>>(featureColumn);
        _inputColumns = new BufferedInputColumn?[input.Schema.Count];
        for (int i = 0; i < input.Schema.Count; i++)
            if (active[i])
                _inputColumns[i] = BufferedInputColumn.Create(input, input.Schema[i], capacity);
        _buffered = _inputColumns.OfType<BufferedInputColumn>().ToArray();
    }

    public override DataViewSchema Schema { get; }
    public override long Position => _position;
    public override long Batch => _slot >= 0 && _slot < _rowsInBatch ? _batches[_slot] : 0;

    public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) =>
    {
        CheckOnRow();
        id = _ids[_slot];
    };

    public override bool IsColumnActive(DataViewSchema.Column column)
    {
        if (column.Index == _embeddingIndex || column.Index == _softAssignmentIndex)
            return _scoring;
        return column.Index < _inputColumns.Length && _inputColumns[column.Index] is not null;
    }

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (!IsColumnActive(column))
            throw new InvalidOperationException($"Column '{column.Name}' is not active in this cursor: ask for it when creating the cursor.");
        if (column.Index < _inputColumns.Length)
            return _inputColumns[column.Index]!.GetGetter<TValue>(_currentSlot);
        if (typeof(TValue) != typeof(VBuffer<float>))
            throw new InvalidOperationException($"Invalid TValue in GetGetter: '{typeof(TValue)}', expected type: '{typeof(VBuffer<float>)}'.");
        bool embedding = column.Index == _embeddingIndex;
        int width = embedding ? _onnx.EmbeddingSize : _onnx.ClusterCount;
        ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
        {
            CheckOnRow();
            var source = embedding ? _buffers!.Embedding : _buffers!.SoftAssignment;
            VBuffer<float>.Copy(source, _slot * width, ref value, width);
        };
        return (ValueGetter<TValue>)(Delegate)getter;
    }

    public override bool MoveNext()
    {
        if (_slot + 1 < _rowsInBatch)
        {
            _slot++;
            _position++;
            return true;
        }
        _failure?.Throw();
        if (_inputEnded)
            _rowsInBatch = 0;
        else
            ReadBatch();
        if (_rowsInBatch == 0)
        {
            _slot = -1;
            _position = -1;
            return false;
        }
        _slot = 0;
        _position++;
        return true;
    }

    /// <summary>Reads up to a batch of rows from the input, then runs the graph on them once.</summary>
    private void ReadBatch()
    {
        _rowsInBatch = 0;
        int rows = 0;
        try
        {
            for (; rows < _capacity; rows++)
            {
                if (!_input.MoveNext())
                {
                    _inputEnded = true;
                    break;
                }
                // Allocated with the first row, so that an empty input allocates nothing; reused by every batch after.
                if (_scoring)
                    _buffers ??= new OnnxBatchBuffers(_onnx, _capacity);
                _inputIds(ref _ids[rows]);
                _batches[rows] = _input.Batch;
                foreach (var column in _buffered)
                    column.Read(rows);
                if (_features is not null)
                {
                    // Through the caller's FiniteFeatureGuard: a NaN or infinity throws here, naming its row and slot.
                    _features(ref _featureRow);
                    _featureRow.CopyTo(_buffers!.Features.AsSpan(rows * _onnx.FeatureSize, _onnx.FeatureSize));
                }
            }
        }
        catch (Exception e) when (rows > 0)
        {
            // As the per-row chain would: the rows before the failing one are scored and served, and the error
            // comes when the consumer moves onto that row.
            _failure = ExceptionDispatchInfo.Capture(e);
            _inputEnded = true;
        }
        if (_scoring && rows > 0)
            _onnx.Run(_buffers!, rows);
        _rowsInBatch = rows;
    }

    private void CheckOnRow()
    {
        if (_slot < 0)
            throw new InvalidOperationException("The cursor is not on a row: call MoveNext first, and read values only while it returns true.");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _buffers?.Dispose();
            _buffers = null;
            _input.Dispose();
        }
        base.Dispose(disposing);
    }
}
