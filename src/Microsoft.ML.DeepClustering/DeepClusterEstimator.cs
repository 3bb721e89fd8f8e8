using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Data;
using Microsoft.ML.DeepClustering.Scoring;
using Microsoft.ML.DeepClustering.Training;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.DeepClustering;

/// <summary>
/// Deep embedded clustering as an ML.NET estimator. <see cref="Fit(IDataView)"/> pretrains an autoencoder on the
/// feature column, seeds K centroids on its embedding (<see cref="DeepClusterOptions.Seeding"/>: k-means++, spectral
/// clustering or UMAP; K chosen from a range when <see cref="DeepClusterOptions.NumberOfClusters"/> is 0), and
/// refines encoder and centroids with DEC's self-training. The fitted <see cref="DeepClusterTransformer"/> adds PredictedClusterId, Score, SoftAssignment and
/// Embedding columns, and saves, loads and scores like any ML.NET model. Create it with
/// <c>mlContext.Transforms.DeepCluster(...)</c>.
/// </summary>
public sealed class DeepClusterEstimator : IEstimator<DeepClusterTransformer>
{
    private readonly TransformsCatalog _catalog;
    private readonly IHostEnvironment _env;
    private readonly DeepClusterOptions _options;

    internal DeepClusterEstimator(TransformsCatalog catalog, DeepClusterOptions options)
    {
        _catalog = catalog ?? throw new ArgumentNullException(nameof(catalog));
        InputChecks.Options(options);
        _env = CatalogEnvironment.From(catalog);
        _options = options.Clone();
    }

    /// <summary>The memory the process may use, against which Fit checks its estimate (tests give a small one).</summary>
    internal Func<MemoryBudget.Limit> MemoryLimit { get; set; } = MemoryBudget.ProcessLimit;

    /// <summary>A copy of the options this estimator trains with.</summary>
    public DeepClusterOptions Options => _options.Clone();

    /// <inheritdoc />
    public DeepClusterTransformer Fit(IDataView input) => Fit(input, CancellationToken.None);

    /// <summary>
    /// Trains a model. Reads <paramref name="input"/> once, with one cursor, into the row store that
    /// <see cref="DeepClusterOptions.RowStorage"/> and <see cref="DeepClusterOptions.RowPrecision"/> describe, and throws
    /// <see cref="InsufficientMemoryException"/>, with the figures, before reading (when the input knows its row count)
    /// or before training when the Fit would need more memory than the process may use. <paramref name="cancellation"/>
    /// stops training within one mini-batch with an <see cref="OperationCanceledException"/>; nothing is left behind.
    /// </summary>
    public DeepClusterTransformer Fit(IDataView input, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(input);
        var host = _env.Register("DeepCluster");
        using var channel = host.Start("Fit");
        var column = InputChecks.FeatureColumn(input.Schema, _options.FeatureColumnName);
        var featureType = (VectorDataViewType)column.Type;
        InputChecks.OptionsAgainstInput(_options, featureType.Size, featureType.Dimensions);

        // Fail before reading when the source knows its size, and again once the rows are counted.
        var limit = MemoryLimit();
        long spill = MemoryBudget.SpillBytes(_options.RowStorage, limit);
        long rowBytes = (long)featureType.Size * RowStore.BytesPerValue(_options.RowPrecision);
        if (input.GetRowCount() is long announced && announced > 0)
            MemoryBudget.Check(MemoryBudget.Of(announced, featureType.Size, _options, storeInMemory: announced * rowBytes <= spill), limit, _options);
        var settings = CatalogEnvironment.Settings(_env);
        // The one pass over the input: every later step reads the stored rows.
        using var data = FeatureMatrix.Read(input, _options.FeatureColumnName,
            new FeatureMatrix.StorageSettings(_options.RowPrecision, spill, settings.TempFilePath), cancellation);
        if (data.Store.IsMemoryMapped)
            channel.Info(MessageSensitivity.None, $"Keeping the {data.Rows} training rows ({MemoryBudget.Bytes(data.Store.StoredBytes)}) in a memory-mapped file in '{settings.TempFilePath}'.");
        MemoryBudget.Check(MemoryBudget.Of(data.Rows, data.Columns, _options, storeInMemory: !data.Store.IsMemoryMapped), limit, _options);
        // Every candidate K must fit the data: with K chosen, the largest one does.
        bool choosing = _options.NumberOfClusters == 0;
        int largestK = choosing ? _options.MaximumNumberOfClusters : _options.NumberOfClusters;
        string option = choosing ? nameof(DeepClusterOptions.MaximumNumberOfClusters) : nameof(DeepClusterOptions.NumberOfClusters);
        if (data.Rows < largestK)
            throw new ArgumentOutOfRangeException(option, largestK,
                $"{option} ({largestK}) must not exceed the number of training rows ({data.Rows}) in column '{_options.FeatureColumnName}'.");

        int distinct = data.CountDistinctRows(largestK);
        if (distinct < largestK)
            throw new ArgumentOutOfRangeException(option, largestK,
                $"{option} ({largestK}) exceeds the number of distinct rows ({distinct}) in column '{_options.FeatureColumnName}': identical rows always share a cluster.");

        // Without an explicit seed, draw one from the context: MLContext(seed) then fixes the whole run.
        int seed = _options.Seed ?? host.Rand.Next();
        var (trained, history) = DeepClusterTrainer.Train(data, _options, seed, settings, cancellation,
            message => channel.Info(MessageSensitivity.None, message));
        data.Dispose();
        cancellation.ThrowIfCancellationRequested();
        var chain = ScoringChain.Build(_catalog, settings, trained, _options, input.Schema);
        // ML.NET's k-means scorer numbers the clusters in its own order; everything the user reads after Fit follows it.
        history.Renumber(chain.ClusterOrder);
        var fitted = _options.Clone();
        fitted.NumberOfClusters = trained.NumberOfClusters;   // the chosen K, when Fit chose it
        return new DeepClusterTransformer(chain, fitted, history);
    }

    /// <summary>The schema a fitted model will output: the input columns plus Embedding, SoftAssignment, Score and PredictedClusterId.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        InputChecks.FeatureColumn(inputSchema, _options.FeatureColumnName);
        return ScoringChain.OutputShape(_catalog, CatalogEnvironment.Settings(_env), _options, inputSchema);
    }
}
