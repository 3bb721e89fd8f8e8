using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Data;

/// <summary>
/// Every check of user input in one place, each failing with a message that names the column or option,
/// what was expected and what was found.
/// </summary>
internal static class InputChecks
{
    public static void Options(DeepClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        NonEmptyName(options.FeatureColumnName, nameof(options.FeatureColumnName));
        NonEmptyName(options.PredictedClusterIdColumnName, nameof(options.PredictedClusterIdColumnName));
        NonEmptyName(options.ScoreColumnName, nameof(options.ScoreColumnName));
        NonEmptyName(options.SoftAssignmentColumnName, nameof(options.SoftAssignmentColumnName));
        NonEmptyName(options.EmbeddingColumnName, nameof(options.EmbeddingColumnName));
        var outputs = new[] { options.PredictedClusterIdColumnName, options.ScoreColumnName, options.SoftAssignmentColumnName, options.EmbeddingColumnName };
        if (outputs.Distinct(StringComparer.Ordinal).Count() != outputs.Length)
            throw new ArgumentException($"The output column names must differ; found {string.Join(", ", outputs.Select(o => $"'{o}'"))}.", nameof(options));

        if (options.NumberOfClusters != 0)
            Positive(options.NumberOfClusters - 1, nameof(options.NumberOfClusters), options.NumberOfClusters, "at least 2 (or 0 to choose K)");
        else
        {
            Positive(options.MinimumNumberOfClusters - 1, nameof(options.MinimumNumberOfClusters), options.MinimumNumberOfClusters, "at least 2");
            if (options.MaximumNumberOfClusters < options.MinimumNumberOfClusters)
                throw new ArgumentOutOfRangeException(nameof(options.MaximumNumberOfClusters), options.MaximumNumberOfClusters,
                    $"MaximumNumberOfClusters ({options.MaximumNumberOfClusters}) must be at least MinimumNumberOfClusters ({options.MinimumNumberOfClusters}).");
            Defined(options.ClusterCountCriterion, nameof(options.ClusterCountCriterion));
        }
        // A cast integer that names no member would otherwise fall through to some default branch unnoticed.
        Defined(options.Architecture, nameof(options.Architecture));
        Defined(options.PretrainOptimizer, nameof(options.PretrainOptimizer));
        Defined(options.Seeding, nameof(options.Seeding));
        Defined(options.SelfTrainingOptimizer, nameof(options.SelfTrainingOptimizer));
        Defined(options.SelfTrainingLearningRateSchedule, nameof(options.SelfTrainingLearningRateSchedule));
        Defined(options.SelfTrainingSafeguard, nameof(options.SelfTrainingSafeguard));
        if (!(options.SelfTrainingSafeguardMargin >= -1 && options.SelfTrainingSafeguardMargin <= 1))
            throw new ArgumentOutOfRangeException(nameof(options.SelfTrainingSafeguardMargin), options.SelfTrainingSafeguardMargin,
                $"SelfTrainingSafeguardMargin is a difference of silhouettes, between -1 and 1; found {options.SelfTrainingSafeguardMargin}.");
        Defined(options.Precision, nameof(options.Precision));
        Defined(options.RowStorage, nameof(options.RowStorage));
        Defined(options.RowPrecision, nameof(options.RowPrecision));
        if (options.HiddenLayers is null)
            throw new ArgumentNullException(nameof(options.HiddenLayers), "HiddenLayers must be an array of layer widths (it may be empty).");
        for (int i = 0; i < options.HiddenLayers.Length; i++)
            if (options.HiddenLayers[i] <= 0)
                throw new ArgumentOutOfRangeException(nameof(options.HiddenLayers), options.HiddenLayers[i], $"HiddenLayers[{i}] must be a positive width; found {options.HiddenLayers[i]}.");
        Positive(options.EmbeddingDimension, nameof(options.EmbeddingDimension), options.EmbeddingDimension, "positive");
        Positive(options.PretrainEpochs + 1, nameof(options.PretrainEpochs), options.PretrainEpochs, "0 or more");
        if (options.PretrainSamples < 0)
            throw new ArgumentOutOfRangeException(nameof(options.PretrainSamples), options.PretrainSamples,
                $"PretrainSamples must be 0 (PretrainEpochs decides) or a positive number of rows to show the autoencoder; found {options.PretrainSamples}.");
        if (options.MaxPretrainSamples < 0)
            throw new ArgumentOutOfRangeException(nameof(options.MaxPretrainSamples), options.MaxPretrainSamples,
                $"MaxPretrainSamples must be 0 (no bound) or a positive number of rows; found {options.MaxPretrainSamples}.");
        Positive(options.BatchSize, nameof(options.BatchSize), options.BatchSize, "positive");
        PositiveFinite(options.PretrainLearningRate, nameof(options.PretrainLearningRate));
        Positive(options.KMeansInitializations, nameof(options.KMeansInitializations), options.KMeansInitializations, "positive");
        Positive(options.KMeansMaxIterations, nameof(options.KMeansMaxIterations), options.KMeansMaxIterations, "positive");
        Positive(options.SpectralNeighbors, nameof(options.SpectralNeighbors), options.SpectralNeighbors, "positive");
        Positive(options.SpectralIterations, nameof(options.SpectralIterations), options.SpectralIterations, "positive");
        Positive(options.SpectralEigenvectors + 1, nameof(options.SpectralEigenvectors), options.SpectralEigenvectors, "0 (K + K/5) or more");
        // One neighbour would ask each row's memberships to sum to log2(1) = 0.
        Positive(options.UmapNeighbors - 1, nameof(options.UmapNeighbors), options.UmapNeighbors, "2 or more");
        Positive(options.UmapDimensions, nameof(options.UmapDimensions), options.UmapDimensions, "positive");
        Positive(options.UmapEpochs + 1, nameof(options.UmapEpochs), options.UmapEpochs, "0 (umap-learn's choice) or more");
        Positive(options.UpdateInterval, nameof(options.UpdateInterval), options.UpdateInterval, "positive");
        Positive(options.SeedingPartitionSteps + 1, nameof(options.SeedingPartitionSteps), options.SeedingPartitionSteps, "0 or more");
        if (!(options.Tolerance >= 0 && options.Tolerance < 1))
            throw new ArgumentOutOfRangeException(nameof(options.Tolerance), options.Tolerance, $"Tolerance must be in [0, 1); found {options.Tolerance}.");
        Positive(options.MaxIterations + 1, nameof(options.MaxIterations), options.MaxIterations, "0 or more");
        PositiveFinite(options.SelfTrainingLearningRate, nameof(options.SelfTrainingLearningRate));
        if (!(options.PretrainMomentum >= 0 && options.PretrainMomentum < 1))
            throw new ArgumentOutOfRangeException(nameof(options.PretrainMomentum), options.PretrainMomentum, $"PretrainMomentum must be in [0, 1); found {options.PretrainMomentum}.");
        if (!(options.SelfTrainingMomentum >= 0 && options.SelfTrainingMomentum < 1))
            throw new ArgumentOutOfRangeException(nameof(options.SelfTrainingMomentum), options.SelfTrainingMomentum, $"SelfTrainingMomentum must be in [0, 1); found {options.SelfTrainingMomentum}.");
        PositiveFinite(options.Alpha, nameof(options.Alpha));
        if (!(options.IdecGamma >= 0) || !float.IsFinite(options.IdecGamma))
            throw new ArgumentOutOfRangeException(nameof(options.IdecGamma), options.IdecGamma, $"IdecGamma must be 0 (DEC) or positive (IDEC); found {options.IdecGamma}.");
        if (!(options.AugmentationRotationDegrees >= 0 && options.AugmentationRotationDegrees <= 180))
            throw new ArgumentOutOfRangeException(nameof(options.AugmentationRotationDegrees), options.AugmentationRotationDegrees, $"AugmentationRotationDegrees must be in [0, 180]; found {options.AugmentationRotationDegrees}.");
        if (!(options.AugmentationShift >= 0 && options.AugmentationShift < 1))
            throw new ArgumentOutOfRangeException(nameof(options.AugmentationShift), options.AugmentationShift, $"AugmentationShift must be in [0, 1); found {options.AugmentationShift}.");
        if (options.AugmentationHorizontalFlips && !options.Augment)
            throw new ArgumentException("AugmentationHorizontalFlips = true needs Augment = true (the mirrors are part of augmentation); found Augment = false.", nameof(options.AugmentationHorizontalFlips));
        foreach (var (value, name) in new[] { (options.ImageHeight, nameof(options.ImageHeight)), (options.ImageWidth, nameof(options.ImageWidth)), (options.ImageChannels, nameof(options.ImageChannels)) })
            if (value is int v)
                Positive(v, name, v, "positive (or null to infer it)");
        if (options.CheckpointPath is not null)
        {
            if (string.IsNullOrWhiteSpace(options.CheckpointPath))
                throw new ArgumentException("CheckpointPath must be a file path, or null to keep no checkpoint; found an empty string.", nameof(options.CheckpointPath));
            if (Directory.Exists(options.CheckpointPath))
                throw new ArgumentException($"CheckpointPath must be a file path; '{options.CheckpointPath}' is a folder.", nameof(options.CheckpointPath));
        }
        if (options.CheckpointInterval < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(options.CheckpointInterval), options.CheckpointInterval, $"CheckpointInterval must be zero or positive; found {options.CheckpointInterval}.");
        if ((options.ImageHeight is null) != (options.ImageWidth is null))
            throw new ArgumentException($"Set both ImageHeight and ImageWidth, or neither; found ImageHeight {options.ImageHeight?.ToString() ?? "null"}, ImageWidth {options.ImageWidth?.ToString() ?? "null"}.", nameof(options.ImageHeight));
        if (options.NumberOfThreads is int threads)
            Positive(threads, nameof(options.NumberOfThreads), threads, "positive (or null to choose for the machine)");
    }

    /// <summary>Checks the options against the size of the feature vector, known once the schema is.</summary>
    public static void OptionsAgainstInput(DeepClusterOptions options, int featureSize, IReadOnlyList<int> dimensions)
    {
        bool convolutional = options.Architecture == AutoencoderArchitecture.Convolutional;
        if (options.Augment || convolutional)
        {
            // Both need the images behind the vectors; the network's need is the stricter, so it speaks first.
            string needer = convolutional ? "Architecture = Convolutional" : "Augment";
            string option = convolutional ? nameof(options.Architecture) : nameof(options.Augment);
            var shape = Model.ImageShape.Infer(dimensions, featureSize, options.ImageHeight, options.ImageWidth, options.ImageChannels);
            if (shape is null)
            {
                string given = options.ImageHeight is int h && options.ImageWidth is int w
                    ? $" ImageChannels × ImageHeight × ImageWidth = {options.ImageChannels ?? 1} × {h} × {w} = {(long)(options.ImageChannels ?? 1) * h * w} values, not {featureSize}."
                    : "";
                throw new ArgumentException(
                    $"{needer} needs the image shape behind column '{options.FeatureColumnName}' ({featureSize} values, dimensions [{string.Join(", ", dimensions)}]): " +
                    "set ImageHeight and ImageWidth (and ImageChannels), or give the column [C, H, W] dimensions as ExtractPixels does." + given, option);
            }
            int minimum = Networks.ConvolutionalAutoencoder.MinimumSide;
            if (convolutional && (shape.Height < minimum || shape.Width < minimum))
                throw new ArgumentOutOfRangeException(option, options.Architecture,
                    $"Architecture = Convolutional needs images of at least {minimum}×{minimum} pixels for its three stride-2 convolutions; " +
                    $"column '{options.FeatureColumnName}' holds {shape.Channels}×{shape.Height}×{shape.Width} images (channels × height × width). " +
                    "Resize the images larger (ResizeImages), or use the Dense architecture.");
        }
        if (options.EmbeddingDimension > featureSize)
            throw new ArgumentOutOfRangeException(nameof(options.EmbeddingDimension), options.EmbeddingDimension,
                $"EmbeddingDimension ({options.EmbeddingDimension}) must not exceed the size of column '{options.FeatureColumnName}' ({featureSize}): an embedding larger than the input compresses nothing.");
    }

    /// <summary>The feature column must exist and be a known-size vector of Single.</summary>
    public static DataViewSchema.Column FeatureColumn(DataViewSchema schema, string columnName)
    {
        var column = schema.GetColumnOrNull(columnName) ?? throw new ArgumentOutOfRangeException(nameof(columnName), columnName,
            $"Feature column '{columnName}' was not found. Available columns: {string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"'{c.Name}' ({c.Type})"))}.");
        Describe(column.Type, columnName, out _);
        return column;
    }

    /// <summary>Same check against an estimator's <see cref="SchemaShape"/>.</summary>
    public static void FeatureColumn(SchemaShape schema, string columnName)
    {
        var column = schema.FirstOrDefault(c => c.Name == columnName);
        if (column.Name is null)
            throw new ArgumentOutOfRangeException(nameof(columnName), columnName,
                $"Feature column '{columnName}' was not found. Available columns: {string.Join(", ", schema.Select(c => $"'{c.Name}'"))}.");
        if (column.Kind != SchemaShape.Column.VectorKind.Vector || column.ItemType != NumberDataViewType.Single || column.IsKey)
            throw new ArgumentOutOfRangeException(nameof(columnName), columnName,
                $"Feature column '{columnName}' must be a known-size vector of Single; found {column.Kind} of {column.ItemType}{(column.IsKey ? " (key)" : "")}. " + Hint);
    }

    public static string NonFiniteMessage(string columnName, long row, int slot, float value) =>
        $"Column '{columnName}': row {row} holds {value} at slot {slot}; deep clustering needs finite values. " +
        "Remove or impute such rows first (for example with mlContext.Transforms.ReplaceMissingValues).";

    /// <summary>
    /// The error for a failure while reading <paramref name="column"/> (a loader or transform upstream that throws on
    /// some row), naming the row and the original cause, which ML.NET wraps when it reads on several threads. Those
    /// threads read ahead, so <paramref name="rowsRead"/> (the rows received before the failure) is not the failing
    /// row: it is found by reading the data again on one cursor up to the failure. Nothing has been trained or
    /// written when this happens: the data are read before training starts.
    /// </summary>
    public static Exception ReadFailure(IDataView data, DataViewSchema.Column column, long rowsRead, Exception failure)
    {
        var cause = failure;
        while (cause.InnerException is not null)
            cause = cause.InnerException;
        string where = FailingRow(data, column) is long row
            ? $"at row {row} (counting from 0)"
            : $"after {rowsRead} rows (rows are read ahead, so the failing row is at or after row {rowsRead}, counting from 0)";
        return new InvalidOperationException(
            $"Reading column '{column.Name}' failed {where}: {cause.GetType().Name}: {cause.Message} " +
            "The failure comes from the data or a transform before DeepCluster; nothing was trained or written.", failure);
    }

    /// <summary>The first row whose reading fails on a single sequential cursor, or null when it cannot be told.</summary>
    private static long? FailingRow(IDataView data, DataViewSchema.Column column)
    {
        DataViewRowCursor[] cursors;
        try { cursors = data.GetRowCursorSet(new[] { column }, 1); }
        catch (Exception) { return null; }
        try
        {
            if (cursors.Length != 1)
                return null;
            var getter = cursors[0].GetGetter<VBuffer<float>>(column);
            var buffer = default(VBuffer<float>);
            long row = 0;
            try
            {
                for (; cursors[0].MoveNext(); row++)
                    getter(ref buffer);
            }
            catch (Exception)
            {
                return row;
            }
            return null; // read through this time: the failure does not repeat
        }
        finally
        {
            foreach (var cursor in cursors)
                cursor.Dispose();
        }
    }

    private const string Hint = "Images: LoadImages → ResizeImages → ExtractPixels gives one; other columns: Concatenate or ConvertType to Single.";

    private static void Describe(DataViewType type, string columnName, out int size)
    {
        if (type is not VectorDataViewType vector || vector.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(columnName), columnName,
                $"Feature column '{columnName}' must be a known-size vector of Single; found {type}. " + Hint);
        if (!vector.IsKnownSize)
            throw new ArgumentOutOfRangeException(nameof(columnName), columnName,
                $"Feature column '{columnName}' must be a known-size vector of Single; found a vector of unknown size ({type}). " +
                "Give it a size: for images, ResizeImages before ExtractPixels; for loaded text, declare the vector's size in the loader.");
        size = vector.Size;
    }

    private static void NonEmptyName(string? name, string option)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw new ArgumentException($"{option} must name a column; found {(name is null ? "null" : $"'{name}'")}.", option);
    }

    private static void Defined<TEnum>(TEnum value, string option) where TEnum : struct, Enum
    {
        if (!Enum.IsDefined(value))
            throw new ArgumentOutOfRangeException(option, value,
                $"{option} must be one of {string.Join(", ", Enum.GetNames<TEnum>())}; found {Convert.ToInt64(value)}.");
    }

    private static void Positive(int value, string option, int shown, string expected)
    {
        if (value <= 0)
            throw new ArgumentOutOfRangeException(option, shown, $"{option} must be {expected}; found {shown}.");
    }

    private static void PositiveFinite(float value, string option)
    {
        if (!(value > 0) || !float.IsFinite(value))
            throw new ArgumentOutOfRangeException(option, value, $"{option} must be a positive finite number; found {value}.");
    }
}
