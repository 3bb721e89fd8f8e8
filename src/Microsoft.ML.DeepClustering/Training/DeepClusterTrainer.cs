using System.Diagnostics;
using Microsoft.ML.DeepClustering.Data;
using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.DeepClustering.Networks;
using Microsoft.ML.DeepClustering.Runtime;
using Microsoft.ML.DeepClustering.Seeding;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// The stages in order: pretrain the autoencoder (<see cref="Pretraining"/>), seed K centroids in its embedding
/// (<see cref="ISeeding"/>: k-means, spectral or UMAP; <see cref="ClusterCountChoice"/> when K is to be chosen),
/// refine with DEC's self-training (<see cref="SelfTraining"/>), then let the <see cref="Safeguard"/> judge it.
/// </summary>
internal static class DeepClusterTrainer
{
    /// <summary>Where and how training runs, as resolved from the options and the <see cref="MLContext"/>.</summary>
    private sealed record RuntimeChoice(Device Device, int Threads, TrainingPrecision Precision, string PrecisionReason);

    private sealed record PretrainingOutcome(List<double> Losses, int ResumedAfterEpoch, TimeSpan Time);

    /// <param name="Result">The seeding, its centroids disposed once self-training has its own copy.</param>
    /// <param name="Candidates">Every candidate's score when Fit chose K, else null.</param>
    /// <param name="Time">Wall time of the stage.</param>
    private sealed record SeedingOutcome(SeedingResult Result, List<ClusterCountCandidate>? Candidates, TimeSpan Time)
    {
        /// <summary>K: fixed by the options or chosen by Fit; the number of seeded centroids.</summary>
        public int NumberOfClusters { get; } = (int)Result.Centroids.shape[0];
    }

    /// <param name="Result">Null when self-training was skipped (MaxIterations = 0).</param>
    /// <param name="Labels">Every row's cluster under the model handed out (argmax q, float32).</param>
    /// <param name="Time">Wall time of the stage, the final labelling pass included.</param>
    private sealed record SelfTrainingOutcome(SelfTraining.Result? Result, int[] Labels, TimeSpan Time);

    public static (TrainedModel Model, DeepClusterTrainingHistory History) Train(
        FeatureMatrix data, DeepClusterOptions options, int seed, MLContextSettings settings, CancellationToken cancellation, Action<string> log)
    {
        if (NativeEnvironment.DescribeOnce(TorchRuntime.TuneNativeAllocator()) is string tuning)
            log(tuning);
        var device = TorchRuntime.ResolveDevice(settings.GpuDeviceId, settings.FallbackToCpu);
        int threads = options.NumberOfThreads ?? TorchRuntime.DefaultThreads(Environment.ProcessorCount);
        using var threadScope = TorchRuntime.UseThreads(threads);
        // From what identifies the CPU, not from a timing: the same seed gives the same model on a busy machine.
        var (precision, precisionReason) = PrecisionChoice.Resolve(options.Precision, options.Architecture, device.type, CpuInfo.Current);
        var runtime = new RuntimeChoice(device, threads, precision, precisionReason);
        string clusters = options.NumberOfClusters > 0 ? $"K = {options.NumberOfClusters}" : $"K to choose from {options.MinimumNumberOfClusters}–{options.MaximumNumberOfClusters} by {options.ClusterCountCriterion}";
        log($"Training on {runtime.Device} with {runtime.Threads} CPU thread(s), seed {seed}: {data.Rows} rows of {data.Columns} features, {clusters}. Products in {precisionReason}.");

        bool convolutional = options.Architecture == AutoencoderArchitecture.Convolutional;
        // InputChecks made sure that whoever needs the image shape finds it.
        var imageShape = options.Augment || convolutional ? ImageShape.Infer(data.Dimensions, data.Columns, options.ImageHeight, options.ImageWidth, options.ImageChannels) : null;
        using var context = new TrainingContext(options, runtime.Device, seed, cancellation, log)
        {
            Augmentation = options.Augment && imageShape is not null
                ? new Augmentation(imageShape, options.AugmentationRotationDegrees, options.AugmentationShift, options.AugmentationHorizontalFlips) : null,
        };
        if (context.Augmentation is not null)
            log($"Augmenting {imageShape} images: rotations up to ±{options.AugmentationRotationDegrees}°, shifts up to ±{options.AugmentationShift:P0}{(options.AugmentationHorizontalFlips ? ", half of them mirrored" : "")}.");
        using var scope = NewDisposeScope();
        // Weights are initialised from the global generator: seed it, and build the network on the CPU for the same
        // initial weights whatever the device.
        random.manual_seed(seed);
        using var autoencoder = CreateNetwork(options, data.Columns, imageShape);
        if (autoencoder is ConvolutionalAutoencoder convolution)
            log($"Convolutional autoencoder on {convolution.Image} images: {string.Join(", ", ConvolutionalAutoencoder.Stages(convolution.Image).Select(s => $"{s.OutChannels}×{s.Output.Height}×{s.Output.Width}"))} → {options.EmbeddingDimension}-d embedding.");
        autoencoder.to(runtime.Device);
        autoencoder.BFloat16Products = runtime.Precision == TrainingPrecision.BFloat16;
        using var x = TrainingRows.Of(data, runtime.Device);

        var checkpointing = options.CheckpointPath is null ? null
            : new Pretraining.Checkpointing(options.CheckpointPath, PretrainingCheckpoint.SettingsOf(data, options, seed, runtime.Precision, imageShape));
        int epochs = Pretraining.Epochs(options, data.Rows);
        if (options.PretrainSamples > 0)
            log($"Pretraining budget: PretrainSamples = {options.PretrainSamples:N0} on {data.Rows:N0} rows, {epochs} epoch(s) (PretrainEpochs = {options.PretrainEpochs} is not used).");
        else if (epochs < options.PretrainEpochs)
            log($"Pretraining budget: {epochs} epoch(s) instead of PretrainEpochs = {options.PretrainEpochs}, since MaxPretrainSamples = {options.MaxPretrainSamples:N0} bounds the rows seen on {data.Rows:N0} rows.");
        var pretraining = Pretrain(autoencoder, x, context, epochs, checkpointing);
        var seeding = Seed(autoencoder, x, context);
        int k = seeding.NumberOfClusters;
        using var centroids = new Parameter(seeding.Result.Centroids.detach().clone());
        // What the safeguard needs to judge self-training afterwards, and to hand out the seeding's model instead.
        using var before = options.MaxIterations > 0 ? Safeguard.Capture(autoencoder, seeding.Result.Centroids, x, options.SelfTrainingSafeguard == SelfTrainingSafeguard.KeepBetter) : null;
        seeding.Result.Centroids.Dispose();
        var selfTraining = SelfTrain(autoencoder, centroids, x, context, seeding.Result.Partition);
        SelfTrainingVerdict? verdict = null;
        if (before is not null)
        {
            // Judged against where self-training set out from (Safeguard.Judge).
            bool fromPartition = SelfTraining.AimsAtPartition(seeding.Result.Partition, step: 0, options);
            verdict = Safeguard.Judge(before, x, fromPartition ? seeding.Result.Partition! : seeding.Result.Assignments,
                fromPartition ? "the seeding's partition" : "seeding", selfTraining.Labels, k, context.Seed, options.SelfTrainingSafeguardMargin, context.Log);
            if (verdict.KeptSeeding)
                selfTraining = selfTraining with { Labels = before.Labels! };
        }

        // Never hand out a model that cannot score: the guards above restore a healthy state, so this means a bug or
        // non-finite pretraining (the features were checked finite on the way in).
        var centroidRows = TensorCopies.ToRows(centroids);
        if (centroidRows.Any(row => row.Any(v => !float.IsFinite(v))))
            throw new InvalidOperationException(
                "Training produced non-finite centroids. Lower PretrainLearningRate or SelfTrainingLearningRate, or check that the features are on a sensible scale (for pixels, [0, 1]).");

        var model = verdict?.KeptSeeding == true
            ? new TrainedModel(before!.Encoder!, before.Decoder!, before.Centroids!, options.Alpha, data.Dimensions)
            : new TrainedModel(autoencoder.CopyEncoder(), autoencoder.CopyDecoder(), centroidRows, options.Alpha, data.Dimensions);
        var history = History(data.Rows, seed, k, runtime, pretraining, seeding, selfTraining);
        history.SelfTrainingVerdict = verdict;
        if (seeding.Candidates is not null)
        {
            history.ClusterCountCandidates = seeding.Candidates;
            history.ClusterCountCriterion = options.ClusterCountCriterion;
        }
        return (model, history);
    }

    /// <summary>Stage 1, <see cref="Pretraining"/>.</summary>
    private static PretrainingOutcome Pretrain(Autoencoder autoencoder, TrainingRows x, TrainingContext context, int epochs, Pretraining.Checkpointing? checkpointing)
    {
        var clock = Stopwatch.StartNew();
        var (losses, resumedAfterEpoch) = Pretraining.Run(autoencoder, x, context, epochs, checkpointing);
        return new PretrainingOutcome(losses, resumedAfterEpoch, clock.Elapsed);
    }

    /// <summary>
    /// Stage 2 on the pretrained embedding: the seeding for K = <see cref="DeepClusterOptions.NumberOfClusters"/>, or,
    /// when that is 0, the candidate <see cref="ClusterCountChoice"/> picks. Either way the seeding is prepared once
    /// (<see cref="ISeeding.Prepare"/>) and clustered for an explicit K.
    /// </summary>
    private static SeedingOutcome Seed(Autoencoder autoencoder, TrainingRows x, TrainingContext context)
    {
        var clock = Stopwatch.StartNew();
        var options = context.Options;
        using var noGrad = no_grad();
        using var z = x.Embed(autoencoder);
        if (options.NumberOfClusters == 0)
        {
            var choice = ClusterCountChoice.Run(z, options, context.ForSeeding, context.Seed);
            return new SeedingOutcome(choice.Seeding, choice.Candidates, clock.Elapsed);
        }
        int k = options.NumberOfClusters;
        using var prepared = Seedings.Create(options, context.ForSeeding).Prepare(z, k);
        var seeding = prepared.Cluster(k);
        context.Log($"{options.Seeding} seeding, K = {k}: best k-means inertia {seeding.Inertia:G6} (restart {seeding.BestRestart + 1} of {seeding.Inertias.Count}).");
        return new SeedingOutcome(seeding, null, clock.Elapsed);
    }

    /// <summary>Stage 3, <see cref="SelfTraining"/> (skipped when MaxIterations is 0), then every row's label under the final model.</summary>
    private static SelfTrainingOutcome SelfTrain(Autoencoder autoencoder, Parameter centroids, TrainingRows x, TrainingContext context, int[]? seedingPartition)
    {
        var clock = Stopwatch.StartNew();
        SelfTraining.Result? result = null;
        if (context.Options.MaxIterations > 0)
        {
            result = SelfTraining.Run(autoencoder, centroids, x, context, seedingPartition);
            context.Log($"Self-training stopped after {result.Steps} steps: {result.StopReason}.");
        }
        var labels = result?.Labels;
        // Without self-training there are no labels yet; after bfloat16 training, count them the way the saved
        // model, which scores in float32, will assign them. One float32 pass serves both.
        if (labels is null || autoencoder.BFloat16Products)
        {
            autoencoder.BFloat16Products = false;
            using var q = Dec.SoftAssignment(autoencoder, centroids, x, context.Options.Alpha);
            using var argmax = q.argmax(dim: 1);
            labels = TensorCopies.ToInt32Array(argmax);
        }
        return new SelfTrainingOutcome(result, labels, clock.Elapsed);
    }

    /// <summary>What the stages did, in the form users read it (numbered in training order; the estimator renumbers).</summary>
    private static DeepClusterTrainingHistory History(int rows, int seed, int numberOfClusters, RuntimeChoice runtime,
        PretrainingOutcome pretraining, SeedingOutcome seeding, SelfTrainingOutcome selfTraining)
    {
        var sizes = new int[numberOfClusters];
        foreach (int label in selfTraining.Labels)
            sizes[label]++;
        return new DeepClusterTrainingHistory
        {
            NumberOfRows = rows,
            Seed = seed,
            Device = runtime.Device.ToString(),
            NumberOfThreads = runtime.Threads,
            Precision = runtime.Precision,
            PrecisionReason = runtime.PrecisionReason,
            PretrainLosses = pretraining.Losses,
            PretrainingResumedAfterEpoch = pretraining.ResumedAfterEpoch,
            PretrainingTime = pretraining.Time,
            KMeansInertias = seeding.Result.Inertias,
            BestKMeansRestart = seeding.Result.BestRestart,
            SeedingAssignments = seeding.Result.Assignments,
            SeedingTime = seeding.Time,
            SelfTrainingUpdates = selfTraining.Result?.Updates ?? (IReadOnlyList<SelfTrainingUpdate>)Array.Empty<SelfTrainingUpdate>(),
            SelfTrainingSteps = selfTraining.Result?.Steps ?? 0,
            TargetSampleRows = selfTraining.Result?.SampledRows ?? 0,
            StopReason = selfTraining.Result?.StopReason ?? SelfTrainingStopReason.Skipped,
            FinalAssignments = selfTraining.Labels,
            ClusterSizes = sizes,
            SelfTrainingTime = selfTraining.Time,
        };
    }

    /// <summary>The network <see cref="DeepClusterOptions.Architecture"/> asks for, with freshly initialised weights.</summary>
    /// <param name="options">Architecture, hidden layers and embedding size.</param>
    /// <param name="inputDimension">D, the size of a row.</param>
    /// <param name="imageShape">The images behind the rows; required by the convolutional network.</param>
    private static Autoencoder CreateNetwork(DeepClusterOptions options, int inputDimension, ImageShape? imageShape) => options.Architecture switch
    {
        AutoencoderArchitecture.Dense => new DenseAutoencoder(inputDimension, options.HiddenLayers, options.EmbeddingDimension),
        AutoencoderArchitecture.Convolutional => new ConvolutionalAutoencoder(
            imageShape ?? throw new ArgumentNullException(nameof(imageShape), "The convolutional autoencoder needs the image shape."),
            options.EmbeddingDimension),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Architecture, $"Unknown Architecture {options.Architecture}."),
    };
}
