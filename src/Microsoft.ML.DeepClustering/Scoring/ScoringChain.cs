using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.DeepClustering.Onnx;
using Microsoft.ML.Trainers;
using Microsoft.ML.Transforms.Onnx;

namespace Microsoft.ML.DeepClustering.Scoring;

/// <summary>
/// The fitted model as a chain of ML.NET's own, saveable transforms, so that a saved <c>.zip</c> loads in any process
/// with nothing registered:
/// <list type="number">
/// <item>ApplyOnnxModel: the ONNX graph our exporter writes: Features → Embedding, SoftAssignment;</item>
/// <item>ML.NET's k-means scorer on Embedding, holding our centroids: Score (squared distances, ML.NET's clustering
///   convention) and PredictedLabel, a scalar key with exactly K values. ONNX outputs always reach ML.NET as vectors
///   and no other built-in transform turns a vector[1] into a scalar key; ML.NET's k-means model does argmin-over-
///   squared-distances itself, which is exactly DEC's hard assignment;</item>
/// <item>CopyColumns / DropColumns to give the outputs the names the options ask for.</item>
/// </list>
/// </summary>
internal sealed class ScoringChain : IDisposable
{
    // Names ML.NET's clustering scorer gives its outputs.
    internal const string ScorerScoreColumn = "Score";
    internal const string ScorerPredictedLabelColumn = "PredictedLabel";

    private readonly string _onnxFile;
    private OnnxTransformer? _onnx;

    public TransformerChain<ITransformer> Chain { get; }
    /// <summary>The model with its clusters numbered as the chain numbers them.</summary>
    public TrainedModel Model { get; }
    /// <summary>Cluster i of the chain is cluster ClusterOrder[i] of training.</summary>
    public IReadOnlyList<int> ClusterOrder { get; }
    public byte[] OnnxBytes { get; }
    /// <summary>The same graph as the chain's first step, run a batch of rows at a time: what Transform scores with.</summary>
    public OnnxBatchSession BatchSession { get; }

    private ScoringChain(TransformerChain<ITransformer> chain, OnnxTransformer onnx, string onnxFile, TrainedModel model, IReadOnlyList<int> order, byte[] onnxBytes,
        OnnxBatchSession batchSession)
    {
        ClusterOrder = order;
        Chain = chain;
        _onnx = onnx;
        _onnxFile = onnxFile;
        Model = model;
        OnnxBytes = onnxBytes;
        BatchSession = batchSession;
    }

    /// <summary>The chain's first step, ApplyOnnxModel.</summary>
    public ITransformer OnnxStep => Chain.First();

    /// <summary>The steps after ApplyOnnxModel: ML.NET's k-means scorer and the renames.</summary>
    public IReadOnlyList<ITransformer> AfterOnnx => Chain.Skip(1).ToArray();

    public static ScoringChain Build(TransformsCatalog catalog, MLContextSettings settings, TrainedModel trained, DeepClusterOptions options, DataViewSchema inputSchema)
    {
        // 1. ML.NET's k-means model, holding exactly our centroids (renumbered in its order).
        var (kmeans, order) = KMeansHead.Build(trained.Centroids, options.EmbeddingColumnName);
        var model = trained.WithClusterOrder(order);

        // 2. The ONNX graph of the encoder and the soft assignment. ApplyOnnxModel(Stream) would leave a copy in the
        //    temp folder for ever; we write the file ourselves and delete it when the transformer is disposed.
        var names = ColumnNames(options);
        var onnxBytes = DeepClusterOnnxExporter.Export(model, names, includeScoreAndClusterId: false);
        Directory.CreateDirectory(settings.TempFilePath);
        string onnxFile = Path.Combine(settings.TempFilePath, $"DeepClustering-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(onnxFile, onnxBytes);
        OnnxTransformer? onnx = null;
        try
        {
            // A fresh estimator per model: every Fit of one OnnxScoringEstimator returns the same transformer.
            onnx = OnnxCatalog(catalog, settings).ApplyOnnxModel(new OnnxOptions
            {
                ModelFile = onnxFile,
                InputColumns = new[] { options.FeatureColumnName },
                OutputColumns = new[] { options.EmbeddingColumnName, options.SoftAssignmentColumnName },
            }).Fit(new EmptyDataView(inputSchema));

            var afterOnnx = onnx.GetOutputSchema(inputSchema);
            var afterKMeans = kmeans.GetOutputSchema(afterOnnx);
            var transformers = new List<ITransformer> { onnx, kmeans };
            transformers.AddRange(Renames(catalog, options, afterKMeans));
            // The batched path runs the same bytes on the device ApplyOnnxModel was given (OnnxCatalog: the context's
            // GPU when ONNX Runtime has CUDA, else the CPU), with ApplyOnnxModel's fallback when CUDA fails to start.
            var batchSession = new OnnxBatchSession(onnxBytes, settings.GpuDeviceId is int gpu && OnnxRuntimeHasCuda() ? gpu : null, settings.FallbackToCpu,
                names.Features, model.FeatureDimensions, names.Embedding, model.EmbeddingDimension, names.SoftAssignment, model.NumberOfClusters);
            return new ScoringChain(new TransformerChain<ITransformer>(transformers.ToArray()), onnx, onnxFile, model, order, onnxBytes, batchSession);
        }
        catch
        {
            onnx?.Dispose();
            File.Delete(onnxFile);
            throw;
        }
    }

    /// <summary>
    /// The output schema a model with these options will have, without training one: the same built-in estimators'
    /// own GetOutputSchema, the ONNX step answered by a stand-in graph of the right output sizes (SchemaShape columns
    /// have no public constructor, so the shape must come from the estimators themselves).
    /// </summary>
    public static SchemaShape OutputShape(TransformsCatalog catalog, MLContextSettings settings, DeepClusterOptions options, SchemaShape input)
    {
        var standIn = new TrainedModel(
            new[] { new DenseLayer(1, options.EmbeddingDimension, new float[options.EmbeddingDimension], new float[options.EmbeddingDimension]) },
            Array.Empty<DenseLayer>(),
            Enumerable.Range(0, options.NumberOfClustersForSchema).Select(i => Enumerable.Repeat((float)i, options.EmbeddingDimension).ToArray()).ToArray(),
            options.Alpha,
            new[] { 1 });
        var names = ColumnNames(options);
        string file = Path.Combine(settings.TempFilePath, $"DeepClustering-schema-{Guid.NewGuid():N}.onnx");
        Directory.CreateDirectory(settings.TempFilePath);
        File.WriteAllBytes(file, DeepClusterOnnxExporter.Export(standIn, names, includeScoreAndClusterId: false));
        try
        {
            var onnxEstimator = OnnxCatalog(catalog, settings).ApplyOnnxModel(new OnnxOptions
            {
                ModelFile = file,
                InputColumns = new[] { options.FeatureColumnName },
                OutputColumns = new[] { options.EmbeddingColumnName, options.SoftAssignmentColumnName },
            });
            var shape = onnxEstimator.GetOutputSchema(input);
            // The estimator opened a session at construction; fit it on a schema-only view to reach and dispose it.
            var builder = new DataViewSchema.Builder();
            builder.AddColumn(options.FeatureColumnName, new VectorDataViewType(NumberDataViewType.Single, 1));
            onnxEstimator.Fit(new EmptyDataView(builder.ToSchema())).Dispose();

            shape = KMeansHead.Estimator(options.NumberOfClustersForSchema, options.EmbeddingColumnName).GetOutputSchema(shape);
            foreach (var estimator in RenameEstimators(catalog, options))
                shape = estimator.GetOutputSchema(shape);
            return shape;
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// The catalog whose ApplyOnnxModel scores the model. ApplyOnnxModel follows the MLContext's GpuDeviceId, but with
    /// ONNX Runtime's CPU package it then fails with EntryPointNotFoundException whatever FallbackToCpu says; so when
    /// the CUDA execution provider is missing we honour FallbackToCpu ourselves by scoring through a CPU context.
    /// </summary>
    private static TransformsCatalog OnnxCatalog(TransformsCatalog catalog, MLContextSettings settings)
    {
        if (settings.GpuDeviceId is null || OnnxRuntimeHasCuda())
            return catalog;
        if (settings.FallbackToCpu)
            return new MLContext().Transforms;
        throw new InvalidOperationException(
            $"MLContext.GpuDeviceId is {settings.GpuDeviceId} but the ONNX Runtime in use has no CUDA execution provider, so the model cannot be scored on a GPU. " +
            "Reference Microsoft.ML.OnnxRuntime.Gpu instead of Microsoft.ML.OnnxRuntime, or set MLContext.FallbackToCpu = true.");
    }

    internal static bool OnnxRuntimeHasCuda()
    {
        try { return Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider"); }
        catch (Exception) { return false; }
    }

    /// <summary>The ONNX graph's input and outputs, named as the options name the columns (Onnx reads no option).</summary>
    public static OnnxColumnNames ColumnNames(DeepClusterOptions options) => new(options.FeatureColumnName, options.EmbeddingColumnName,
        options.SoftAssignmentColumnName, options.ScoreColumnName, options.PredictedClusterIdColumnName);

    private static IEnumerable<ITransformer> Renames(TransformsCatalog catalog, DeepClusterOptions options, DataViewSchema schema)
    {
        var empty = new EmptyDataView(schema);
        foreach (var estimator in RenameEstimators(catalog, options))
        {
            var transformer = estimator.Fit(empty);
            empty = new EmptyDataView(transformer.GetOutputSchema(empty.Schema));
            yield return transformer;
        }
    }

    private static IEnumerable<IEstimator<ITransformer>> RenameEstimators(TransformsCatalog catalog, DeepClusterOptions options)
    {
        var copies = new List<InputOutputColumnPair>();
        var drops = new List<string>();
        if (options.ScoreColumnName != ScorerScoreColumn)
        {
            copies.Add(new InputOutputColumnPair(options.ScoreColumnName, ScorerScoreColumn));
            drops.Add(ScorerScoreColumn);
        }
        if (options.PredictedClusterIdColumnName != ScorerPredictedLabelColumn)
        {
            copies.Add(new InputOutputColumnPair(options.PredictedClusterIdColumnName, ScorerPredictedLabelColumn));
            drops.Add(ScorerPredictedLabelColumn);
        }
        foreach (var copy in copies)
            yield return catalog.CopyColumns(copy.OutputColumnName, copy.InputColumnName);
        if (drops.Count > 0)
            yield return catalog.DropColumns(drops.ToArray());
    }

    public void Dispose()
    {
        BatchSession.Dispose();
        _onnx?.Dispose();
        _onnx = null;
        DeleteModelFile();
    }

    /// <summary>Best effort: a file still open elsewhere, or a folder already gone, is not an error when cleaning up.</summary>
    public void DeleteModelFile()
    {
        try { File.Delete(_onnxFile); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
