using System.Diagnostics;
using Microsoft.ML.DeepClustering.Data;
using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.DeepClustering.Networks;
using Microsoft.ML.DeepClustering.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>The three stages in order: pretrain the autoencoder, seed centroids with k-means, refine with DEC.</summary>
internal static class DeepClusterTrainer
{
    public static (TrainedModel Model, DeepClusterTrainingHistory History) Train(
        FeatureMatrix data, DeepClusterOptions options, int seed, MLContextSettings settings, CancellationToken cancellation, Action<string> log)
    {
        var history = new DeepClusterTrainingHistory { NumberOfRows = data.Rows, Seed = seed };
        var device = TorchRuntime.ResolveDevice(settings);
        int threads = options.NumberOfThreads ?? TorchRuntime.DefaultThreads(Environment.ProcessorCount);
        var precision = TorchRuntime.ResolvePrecision(options.Precision, options.Architecture, device.type, TorchRuntime.CpuHasBFloat16);
        history.Device = device.ToString();
        history.NumberOfThreads = threads;
        history.Precision = precision;
        TorchRuntime.TuneNativeAllocator();
        log($"Training on {device} with {threads} CPU thread(s), {precision} products, seed {seed}: {data.Rows} rows of {data.Columns} features, K = {options.NumberOfClusters}.");

        using var threadScope = TorchRuntime.UseThreads(threads);
        bool convolutional = options.Architecture == AutoencoderArchitecture.Convolutional;
        // InputChecks made sure that whoever needs the image shape finds it.
        var imageShape = options.Augment || convolutional ? ImageShape.Infer(data.Dimensions, data.Columns, options.ImageHeight, options.ImageWidth, options.ImageChannels) : null;
        using var context = new TrainingContext(options, device, seed, cancellation, log)
        {
            Augmentation = options.Augment && imageShape is not null
                ? new Augmentation(imageShape, options.AugmentationRotationDegrees, options.AugmentationShift) : null,
        };
        if (context.Augmentation is not null)
            log($"Augmenting {imageShape} images: rotations up to ±{options.AugmentationRotationDegrees}°, shifts up to ±{options.AugmentationShift:P0}.");
        using var scope = NewDisposeScope();
        // Weights are initialised from the global generator: seed it, and build the network on the CPU for the same
        // initial weights whatever the device.
        random.manual_seed(seed);
        using var autoencoder = CreateNetwork(options, data.Columns, imageShape);
        if (autoencoder is ConvolutionalAutoencoder convolution)
            log($"Convolutional autoencoder on {convolution.Image} images: {string.Join(", ", ConvolutionalAutoencoder.Stages(convolution.Image).Select(s => $"{s.OutChannels}×{s.Output.Height}×{s.Output.Width}"))} → {options.EmbeddingDimension}-d embedding.");
        autoencoder.to(device);
        autoencoder.BFloat16Products = precision == TrainingPrecision.BFloat16;
        var x = tensor(data.Values, new long[] { data.Rows, data.Columns }).to(device);

        var clock = Stopwatch.StartNew();
        var checkpointing = options.CheckpointPath is null ? null
            : new Pretraining.Checkpointing(options.CheckpointPath, PretrainingCheckpoint.SettingsOf(data, options, seed, precision, imageShape));
        (history.PretrainLosses, history.PretrainingResumedAfterEpoch) = Pretraining.Run(autoencoder, x, context, checkpointing);
        history.PretrainingTime = clock.Elapsed;

        clock.Restart();
        KMeansSeeding.Result seeding;
        using (var noGrad = no_grad())
        using (var z = SelfTraining.Embed(autoencoder, x))
        {
            seeding = options.Seeding == SeedingMethod.Spectral ? SpectralSeeding.Run(z, context) : KMeansSeeding.Run(z, context);
            history.SeedingAssignments = KMeansSeeding.Assign(z, seeding.Centroids);
        }
        history.KMeansInertias = seeding.Inertias;
        history.BestKMeansRestart = seeding.BestRestart;
        history.SeedingTime = clock.Elapsed;
        log($"{options.Seeding} seeding: best k-means inertia {seeding.Inertia:G6} (restart {seeding.BestRestart + 1} of {seeding.Inertias.Count}).");

        clock.Restart();
        using var centroids = new Parameter(seeding.Centroids.detach().clone());
        seeding.Centroids.Dispose();
        int[]? labels = null;
        if (options.MaxIterations > 0)
        {
            var result = SelfTraining.Run(autoencoder, centroids, x, context);
            history.SelfTrainingUpdates = result.Updates;
            history.SelfTrainingSteps = result.Steps;
            history.StopReason = result.StopReason;
            labels = result.Labels;
            log($"Self-training stopped after {result.Steps} steps: {result.StopReason}.");
        }
        else
        {
            history.StopReason = SelfTrainingStopReason.Skipped;
        }
        // Without self-training there are no labels yet; after bfloat16 training, count them the way the saved
        // model, which scores in float32, will assign them. One float32 pass serves both.
        if (labels is null || autoencoder.BFloat16Products)
        {
            autoencoder.BFloat16Products = false;
            using var q = SelfTraining.SoftAssignment(autoencoder, centroids, x, options);
            using var argmax = q.argmax(dim: 1);
            labels = IndexTensors.ToInt32Array(argmax);
        }
        history.SelfTrainingTime = clock.Elapsed;

        var sizes = new int[options.NumberOfClusters];
        foreach (int label in labels)
            sizes[label]++;
        history.ClusterSizes = sizes;

        // Never hand out a model that cannot score: the guards above restore a healthy state, so this means a bug or
        // non-finite pretraining (the features were checked finite on the way in).
        var centroidRows = ToRows(centroids);
        if (centroidRows.Any(row => row.Any(v => !float.IsFinite(v))))
            throw new InvalidOperationException(
                "Training produced non-finite centroids. Lower PretrainLearningRate or ClusteringLearningRate, or check that the features are on a sensible scale (for pixels, [0, 1]).");

        var model = new TrainedModel(
            autoencoder.CopyEncoder(),
            autoencoder.CopyDecoder(),
            centroidRows,
            options.Alpha,
            data.Dimensions);
        return (model, history);
    }

    /// <summary>The network <see cref="DeepClusterOptions.Architecture"/> asks for, with freshly initialised weights.</summary>
    /// <param name="imageShape">The images behind the rows; required by the convolutional network.</param>
    private static Autoencoder CreateNetwork(DeepClusterOptions options, int inputDimension, ImageShape? imageShape) => options.Architecture switch
    {
        AutoencoderArchitecture.Dense => new DenseAutoencoder(inputDimension, options.HiddenLayers, options.EmbeddingDimension),
        AutoencoderArchitecture.Convolutional => new ConvolutionalAutoencoder(
            imageShape ?? throw new ArgumentNullException(nameof(imageShape), "The convolutional autoencoder needs the image shape."),
            options.EmbeddingDimension),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Architecture, $"Unknown Architecture {options.Architecture}."),
    };

    private static float[][] ToRows(Tensor matrix)
    {
        var flat = Autoencoder.Values(matrix);
        int rows = (int)matrix.shape[0], cols = (int)matrix.shape[1];
        return Enumerable.Range(0, rows).Select(r => flat.AsSpan(r * cols, cols).ToArray()).ToArray();
    }
}
