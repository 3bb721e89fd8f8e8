using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.DeepClustering.Scoring;

/// <summary>
/// The scoring chain's ONNX graph (encoder + soft assignment) in an ONNX Runtime session of our own, run on many rows
/// per call. ML.NET's ApplyOnnxModel calls ONNX Runtime once per row, and the fixed cost of a call (binding inputs and
/// outputs, launching the kernels) is most of the time on a small network; one call per batch pays it once per batch.
/// The session is created on first use (a model that is only saved or used through a PredictionEngine never needs it),
/// shared by all cursors (ONNX Runtime's Run is safe to call concurrently) and disposed with the transformer.
/// </summary>
internal sealed class OnnxBatchSession : IDisposable
{
    private readonly byte[] _model;
    private readonly int? _gpuDeviceId;
    private readonly bool _fallbackToCpu;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly object _gate = new();
    private InferenceSession? _session;
    private RunOptions? _runOptions;
    private bool _disposed;

    // model: the bytes of the graph ApplyOnnxModel runs, so that both paths compute the same thing.
    // gpuDeviceId: the CUDA device ApplyOnnxModel was given, or null for the CPU; fallbackToCpu: what ApplyOnnxModel
    // does when the CUDA session cannot be created (use the CPU, or fail).
    public OnnxBatchSession(byte[] model, int? gpuDeviceId, bool fallbackToCpu,
        string featureName, IReadOnlyList<int> featureDimensions, string embeddingName, int embeddingSize, string softAssignmentName, int clusterCount)
    {
        _model = model;
        _gpuDeviceId = gpuDeviceId;
        _fallbackToCpu = fallbackToCpu;
        FeatureDimensions = featureDimensions.ToArray();
        FeatureSize = FeatureDimensions.Aggregate(1, (a, b) => a * b);
        EmbeddingSize = embeddingSize;
        ClusterCount = clusterCount;
        _inputNames = new[] { featureName };
        _outputNames = new[] { embeddingName, softAssignmentName };
    }

    /// <summary>Dimensions of one row's features as the graph reads them ([D], or [C, H, W] for images).</summary>
    public IReadOnlyList<int> FeatureDimensions { get; }
    public int FeatureSize { get; }
    public int EmbeddingSize { get; }
    public int ClusterCount { get; }

    /// <summary>Runs the graph on the first <paramref name="rows"/> rows of <paramref name="buffers"/>, writing their outputs in place.</summary>
    public void Run(OnnxBatchBuffers buffers, int rows)
    {
        var (inputs, outputs) = buffers.TensorsFor(rows);
        var session = Session;
        session.Run(_runOptions!, _inputNames, inputs, _outputNames, outputs);
    }

    private InferenceSession Session
    {
        get
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_session is null)
                {
                    _session = Create();
                    _runOptions = new RunOptions();
                }
                return _session;
            }
        }
    }

    /// <summary>The same device choice, and the same fallback, as ML.NET's ApplyOnnxModel makes for the chain.</summary>
    private InferenceSession Create()
    {
        if (_gpuDeviceId is int device)
        {
            try
            {
                using var cuda = SessionOptions.MakeSessionOptionWithCudaProvider(device);
                return new InferenceSession(_model, cuda);
            }
            catch (OnnxRuntimeException) when (_fallbackToCpu)
            {
            }
        }
        using var cpu = new SessionOptions();
        return new InferenceSession(_model, cpu);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            _session?.Dispose();
            _runOptions?.Dispose();
            _session = null;
            _runOptions = null;
        }
    }
}

/// <summary>
/// One cursor's batch: the features, embeddings and soft assignments of up to <see cref="Capacity"/> rows in managed
/// arrays allocated once, and the ONNX Runtime tensors that view those arrays (pinned), so that a run writes its
/// outputs straight into the arrays the getters read and no batch after the first allocates.
/// </summary>
internal sealed class OnnxBatchBuffers : IDisposable
{
    private readonly OnnxBatchSession _session;
    private (OrtValue[] Inputs, OrtValue[] Outputs)? _full;
    // A batch is short only at the end of the data (or before a row that failed to read): at most once per cursor.
    private (int Rows, OrtValue[] Inputs, OrtValue[] Outputs)? _short;

    public OnnxBatchBuffers(OnnxBatchSession session, int capacity)
    {
        _session = session;
        Capacity = capacity;
        Features = new float[capacity * session.FeatureSize];
        Embedding = new float[capacity * session.EmbeddingSize];
        SoftAssignment = new float[capacity * session.ClusterCount];
    }

    public int Capacity { get; }
    /// <summary>Row r's features at [r × FeatureSize, (r + 1) × FeatureSize).</summary>
    public float[] Features { get; }
    public float[] Embedding { get; }
    public float[] SoftAssignment { get; }

    public (OrtValue[] Inputs, OrtValue[] Outputs) TensorsFor(int rows)
    {
        if (rows == Capacity)
            return _full ??= Create(rows);
        if (_short is not { } cached || cached.Rows != rows)
        {
            if (_short is { } old)
                DisposeAll(old.Inputs, old.Outputs);
            var created = Create(rows);
            _short = (rows, created.Inputs, created.Outputs);
        }
        return (_short.Value.Inputs, _short.Value.Outputs);
    }

    private (OrtValue[] Inputs, OrtValue[] Outputs) Create(int rows)
    {
        long[] featureShape = new[] { (long)rows }.Concat(_session.FeatureDimensions.Select(d => (long)d)).ToArray();
        var inputs = new[] { View(Features, rows * _session.FeatureSize, featureShape) };
        var outputs = new[]
        {
            View(Embedding, rows * _session.EmbeddingSize, new long[] { rows, _session.EmbeddingSize }),
            View(SoftAssignment, rows * _session.ClusterCount, new long[] { rows, _session.ClusterCount }),
        };
        return (inputs, outputs);
    }

    private static OrtValue View(float[] array, int length, long[] shape) =>
        OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, new Memory<float>(array, 0, length), shape);

    private static void DisposeAll(params OrtValue[][] groups)
    {
        foreach (var group in groups)
            foreach (var value in group)
                value.Dispose();
    }

    public void Dispose()
    {
        if (_full is { } full)
            DisposeAll(full.Inputs, full.Outputs);
        if (_short is { } last)
            DisposeAll(last.Inputs, last.Outputs);
        _full = null;
        _short = null;
    }
}
