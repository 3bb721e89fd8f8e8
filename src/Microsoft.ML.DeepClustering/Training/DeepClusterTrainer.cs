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
    /// <summary>Where and how training runs, as resolved from the options and the <see cref="MLContext"/>.</summary>
    private sealed record RuntimeChoice(Device Device, int Threads, TrainingPrecision Precision, string PrecisionReason);

    private sealed record PretrainingOutcome(List<double> Losses, int ResumedAfterEpoch, TimeSpan Time);

    private sealed record SeedingOutcome(List<double> Inertias, int BestRestart, int[] Assignments, int[]? Partition, TimeSpan Time);

    /// <summary>The chosen K's seeding, and every candidate's score (when Fit chose K).</summary>
    private sealed record ClusterCountChoice(Tensor Centroids, SeedingOutcome Seeding, List<ClusterCountCandidate> Candidates);

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
        // After the thread count is set: the precision probe measures products at the thread count training uses.
        var (precision, precisionReason) = PrecisionChoice.Resolve(options.Precision, options.Architecture, device.type, PrecisionProbe.Measure);
        var runtime = new RuntimeChoice(device, threads, precision, precisionReason);
        string k = options.NumberOfClusters > 0 ? $"K = {options.NumberOfClusters}" : $"K to choose from {options.MinimumNumberOfClusters}–{options.MaximumNumberOfClusters} by {options.ClusterCountCriterion}";
        log($"Training on {runtime.Device} with {runtime.Threads} CPU thread(s), seed {seed}: {data.Rows} rows of {data.Columns} features, {k}. Products in {precisionReason}.");

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
        var x = tensor(data.Values, new long[] { data.Rows, data.Columns }).to(runtime.Device);

        var checkpointing = options.CheckpointPath is null ? null
            : new Pretraining.Checkpointing(options.CheckpointPath, PretrainingCheckpoint.SettingsOf(data, options, seed, runtime.Precision, imageShape));
        var pretraining = Pretrain(autoencoder, x, context, checkpointing);
        var choice = options.NumberOfClusters == 0 ? ChooseNumberOfClusters(autoencoder, x, context) : null;
        var (seeded, seeding) = choice is null ? Seed(autoencoder, x, context) : (choice.Centroids, choice.Seeding);
        using var centroids = new Parameter(seeded.detach().clone());
        // What the safeguard needs to judge self-training afterwards, and to hand out the seeding's model instead.
        var before = options.MaxIterations > 0 ? SeedingState.Capture(autoencoder, seeded, x, options.SelfTrainingSafeguard == SelfTrainingSafeguard.KeepBetter) : null;
        seeded.Dispose();
        var selfTraining = SelfTrain(autoencoder, centroids, x, context, seeding.Partition);
        SelfTrainingVerdict? verdict = null;
        if (before is not null)
            (verdict, selfTraining) = Judge(before, seeding, selfTraining, x, context);

        // Never hand out a model that cannot score: the guards above restore a healthy state, so this means a bug or
        // non-finite pretraining (the features were checked finite on the way in).
        var centroidRows = ToRows(centroids);
        if (centroidRows.Any(row => row.Any(v => !float.IsFinite(v))))
            throw new InvalidOperationException(
                "Training produced non-finite centroids. Lower PretrainLearningRate or SelfTrainingLearningRate, or check that the features are on a sensible scale (for pixels, [0, 1]).");

        var model = verdict?.KeptSeeding == true
            ? new TrainedModel(before!.Encoder!, before.Decoder!, before.Centroids!, options.Alpha, data.Dimensions)
            : new TrainedModel(autoencoder.CopyEncoder(), autoencoder.CopyDecoder(), centroidRows, options.Alpha, data.Dimensions);
        before?.Dispose();
        var history = History(data.Rows, seed, context.Options.NumberOfClusters, runtime, pretraining, seeding, selfTraining);
        history.SelfTrainingVerdict = verdict;
        if (choice is not null)
        {
            history.ClusterCountCandidates = choice.Candidates;
            history.ClusterCountCriterion = options.ClusterCountCriterion;
        }
        return (model, history);
    }

    /// <summary>Stage 1, <see cref="Pretraining"/>.</summary>
    private static PretrainingOutcome Pretrain(Autoencoder autoencoder, Tensor x, TrainingContext context, Pretraining.Checkpointing? checkpointing)
    {
        var clock = Stopwatch.StartNew();
        var (losses, resumedAfterEpoch) = Pretraining.Run(autoencoder, x, context, checkpointing);
        return new PretrainingOutcome(losses, resumedAfterEpoch, clock.Elapsed);
    }

    /// <summary>Stage 2, <see cref="KMeansSeeding"/>, <see cref="SpectralSeeding"/> or <see cref="UmapSeeding"/> on the pretrained embedding.</summary>
    /// <returns>The seeded centroids [K, E] (the caller disposes them), and what the history keeps of the stage.</returns>
    private static (Tensor Centroids, SeedingOutcome Outcome) Seed(Autoencoder autoencoder, Tensor x, TrainingContext context)
    {
        var clock = Stopwatch.StartNew();
        using var noGrad = no_grad();
        using var z = SelfTraining.Embed(autoencoder, x);
        return SeedOn(z, context, clock);
    }

    /// <summary>Stage 2 on an embedding already computed: the chosen seeding, then every row's nearest centroid.</summary>
    /// <param name="z">The pretrained embedding [N, E].</param>
    /// <param name="context">The options (K, seeding method) and generator of this Fit.</param>
    /// <param name="clock">Started when the stage began; its time goes into the outcome.</param>
    /// <param name="umapLayout">UMAP seeding's layout when already computed (choosing K), or null.</param>
    /// <param name="eigenvectors">Spectral seeding's eigenvectors when already computed (choosing K), or null.</param>
    private static (Tensor Centroids, SeedingOutcome Outcome) SeedOn(Tensor z, TrainingContext context, Stopwatch clock,
        UmapSeeding.UmapLayout? umapLayout = null, SpectralSeeding.Eigenvectors? eigenvectors = null)
    {
        var seeding = context.Options.Seeding switch
        {
            SeedingMethod.Spectral => eigenvectors is null ? SpectralSeeding.Run(z, context) : SpectralSeeding.Cluster(z, eigenvectors, context),
            SeedingMethod.Umap => UmapSeeding.Cluster(z, umapLayout ?? UmapSeeding.LayoutOf(z, context), context),
            _ => KMeansSeeding.Run(z, context),
        };
        var assignments = KMeansSeeding.Assign(z, seeding.Centroids);
        var outcome = new SeedingOutcome(seeding.Inertias, seeding.BestRestart, assignments, seeding.Partition, clock.Elapsed);
        context.Log($"{context.Options.Seeding} seeding, K = {context.Options.NumberOfClusters}: best k-means inertia {seeding.Inertia:G6} (restart {seeding.BestRestart + 1} of {seeding.Inertias.Count}).");
        return (seeding.Centroids, outcome);
    }

    /// <summary>
    /// Stage 2 when K is to be chosen: every candidate K is seeded on the same embedding, each from the generator state
    /// pretraining left (so a candidate's seeding is the fixed-K fit's, whatever the order of candidates), and scored
    /// with <see cref="DeepClusterOptions.ClusterCountCriterion"/>; the chosen one's seeding, and the generator state
    /// after it, carry on into self-training. UMAP's layout does not depend on K: it is computed once, and each
    /// candidate starts from the generator state after it, as a fixed-K fit's k-means would. Spectral seeding's
    /// eigenvectors are computed once too, for the largest candidate: each candidate's leading columns span the
    /// subspace its fixed-K fit computes, but their random start differs, so a candidate's seeding can differ from
    /// that fit's by k-means' draws (19 neighbour searches and eigendecompositions took about 90 s on 10,000 rows,
    /// and grow with the square of the rows).
    /// </summary>
    private static ClusterCountChoice ChooseNumberOfClusters(Autoencoder autoencoder, Tensor x, TrainingContext context)
    {
        var clock = Stopwatch.StartNew();
        var options = context.Options;
        using var noGrad = no_grad();
        using var z = SelfTraining.Embed(autoencoder, x);
        var rows = ToRows(z);
        int[] sample = ClusterCountCriteria.SilhouetteSample(rows.Length, context.Seed);
        bool modularity = options.ClusterCountCriterion == ClusterCountCriterion.Modularity, umap = options.Seeding == SeedingMethod.Umap;
        // Modularity and UMAP's layout read the same fuzzy neighbour graph: its neighbour search is built once.
        var graph = modularity || umap ? UmapSeeding.FuzzyGraphOf(z, options.UmapNeighbors, context.Cancellation) : null;
        var layout = umap ? UmapSeeding.LayoutOf(z, context, graph) : null;
        // Spectral seeding's graph does not depend on K either: its eigenvectors are computed once, as many as the
        // largest candidate takes (the count never falls as K grows), and each candidate clusters its own leading ones.
        using var eigenvectors = options.Seeding == SeedingMethod.Spectral
            ? SpectralSeeding.EigenvectorsOf(z, context, SpectralSeeding.EigenvectorCount(options, options.MaximumNumberOfClusters))
            : null;
        using var beforeClustering = context.Generator.get_state();
        var candidates = new List<(int K, double Score, double Inertia, int[] Sizes, Tensor Centroids, SeedingOutcome Outcome, Tensor State)>();
        for (int k = options.MinimumNumberOfClusters; k <= options.MaximumNumberOfClusters; k++)
        {
            context.Generator.set_state(beforeClustering);
            context.UseNumberOfClusters(k);
            var (centroids, outcome) = SeedOn(z, context, clock, layout, eigenvectors);
            var centroidRows = ToRows(centroids);
            double score = modularity
                ? ClusterCountCriteria.NormalisedModularity(graph!, outcome.Partition ?? outcome.Assignments, k)
                : ClusterCountCriteria.Score(options.ClusterCountCriterion, rows, outcome.Assignments, centroidRows, sample);
            // In the embedding, whatever the seeding: spectral seeding's own inertia is measured in its spectral space.
            double inertia = ClusterCountCriteria.Inertia(rows, outcome.Assignments, centroidRows);
            var sizes = ClusterCountCriteria.Counts(outcome.Assignments, k).OrderDescending().ToArray();
            candidates.Add((k, score, inertia, sizes, centroids, outcome, context.Generator.get_state()));
            context.Log($"K = {k}: {options.ClusterCountCriterion} {score:F4}, inertia {inertia:G6}, clusters of {string.Join(", ", sizes)}.");
        }
        var chosen = Choose(options.ClusterCountCriterion, candidates.Select(c => c.Score).ToList());
        var best = candidates[chosen];
        foreach (var candidate in candidates.Where((_, index) => index != chosen))
        {
            candidate.Centroids.Dispose();
            candidate.State.Dispose();
        }
        context.Generator.set_state(best.State);
        best.State.Dispose();
        context.UseNumberOfClusters(best.K);
        context.Log($"Chose K = {best.K} of {options.MinimumNumberOfClusters}–{options.MaximumNumberOfClusters} by {options.ClusterCountCriterion} ({best.Score:F4}): a suggestion from the embedding, not a fact about the data.");
        return new ClusterCountChoice(best.Centroids, best.Outcome with { Time = clock.Elapsed },
            candidates.Select(c => new ClusterCountCandidate(c.K, c.Score, c.Inertia, c.Sizes, c.K == best.K)).ToList());
    }

    /// <summary>
    /// The index of the chosen candidate (candidates in ascending K): the best score, ties going to the smaller K;
    /// for modularity to the larger one, since a finer partition that is as clean says more (well-separated blobs
    /// grouped in twos score as well as the blobs themselves).
    /// </summary>
    internal static int Choose(ClusterCountCriterion criterion, IReadOnlyList<double> scores)
    {
        int best = 0;
        for (int i = 1; i < scores.Count; i++)
            if (criterion == ClusterCountCriterion.Modularity
                    ? scores[i] >= scores[best] - 1e-9
                    : ClusterCountCriteria.IsBetter(criterion, scores[i], scores[best]))
                best = i;
        return best;
    }

    /// <summary>Stage 3, <see cref="SelfTraining"/> (skipped when MaxIterations is 0), then every row's label under the final model.</summary>
    private static SelfTrainingOutcome SelfTrain(Autoencoder autoencoder, Parameter centroids, Tensor x, TrainingContext context, int[]? seedingPartition)
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
            using var q = SelfTraining.SoftAssignment(autoencoder, centroids, x, context.Options);
            using var argmax = q.argmax(dim: 1);
            labels = IndexTensors.ToInt32Array(argmax);
        }
        return new SelfTrainingOutcome(result, labels, clock.Elapsed);
    }

    /// <summary>
    /// The pretrained embedding in float32 (as the saved model scores), and, for <see cref="SelfTrainingSafeguard.KeepBetter"/>,
    /// the seeding's model in managed memory: self-training changes the encoder in place.
    /// </summary>
    private sealed class SeedingState : IDisposable
    {
        public required Tensor Embedding { get; init; }
        public IReadOnlyList<NetworkLayer>? Encoder { get; init; }
        public IReadOnlyList<NetworkLayer>? Decoder { get; init; }
        public float[][]? Centroids { get; init; }
        /// <summary>Every row's cluster under that model, as the saved model, scoring in float32, assigns it.</summary>
        public int[]? Labels { get; init; }

        public static SeedingState Capture(Autoencoder autoencoder, Tensor centroids, Tensor x, bool keepModel)
        {
            bool bfloat16 = autoencoder.BFloat16Products;
            autoencoder.BFloat16Products = false;
            var embedding = SelfTraining.Embed(autoencoder, x);
            autoencoder.BFloat16Products = bfloat16;
            embedding.MoveToOuterDisposeScope();
            return new SeedingState
            {
                Embedding = embedding,
                Encoder = keepModel ? autoencoder.CopyEncoder() : null,
                Decoder = keepModel ? autoencoder.CopyDecoder() : null,
                Centroids = keepModel ? ToRows(centroids) : null,
                Labels = keepModel ? KMeansSeeding.Assign(embedding, centroids) : null,
            };
        }

        public void Dispose() => Embedding.Dispose();
    }

    /// <summary>
    /// The safeguard (<see cref="DeepClusterOptions.SelfTrainingSafeguard"/>): silhouettes of the seeding's and the final
    /// partition where self-training cannot flatter itself (<see cref="SelfTrainingCheck"/>).
    /// </summary>
    private static (SelfTrainingVerdict Verdict, SelfTrainingOutcome Outcome) Judge(SeedingState before, SeedingOutcome seeding, SelfTrainingOutcome selfTraining, Tensor x, TrainingContext context)
    {
        int k = context.Options.NumberOfClusters;
        var sample = ClusterCountCriteria.SilhouetteSample((int)x.shape[0], context.Seed);
        // Judged against where self-training set out from: the seeding's own partition when that was its first target
        // (a manifold seeding's clusters are not its centroids' cells, and steps towards them would otherwise count as
        // a loss), else the seeded centroids' partition, where q starts.
        bool fromPartition = SelfTraining.AimsAtPartition(seeding.Partition, step: 0, context.Options);
        var start = fromPartition ? seeding.Partition! : seeding.Assignments;
        var scores = SelfTrainingCheck.Measure(before.Embedding, x, start, selfTraining.Labels, k, sample);
        bool worse = SelfTrainingCheck.IsClearlyWorse(scores, context.Options.SelfTrainingSafeguardMargin);
        bool keep = worse && before.Encoder is not null;
        context.Log($"Self-training judged on {sample.Length} rows: silhouette in the pretrained embedding {scores.SeedingInEmbedding:F4} ({(fromPartition ? "the seeding's partition" : "seeding")}) → {scores.FinalInEmbedding:F4} (final), " +
            $"in the input {scores.SeedingInInput:F4} → {scores.FinalInInput:F4}." +
            (worse ? keep ? " Clearly worse: Fit keeps the seeding's model (SelfTrainingSafeguard = KeepBetter)." : " Clearly worse than the seeding; SelfTrainingSafeguard = KeepBetter would keep the seeding's model." : ""));
        var verdict = new SelfTrainingVerdict(scores.SeedingInEmbedding, scores.FinalInEmbedding, scores.SeedingInInput, scores.FinalInInput, worse, keep);
        return (verdict, keep ? selfTraining with { Labels = before.Labels! } : selfTraining);
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
            KMeansInertias = seeding.Inertias,
            BestKMeansRestart = seeding.BestRestart,
            SeedingAssignments = seeding.Assignments,
            SeedingTime = seeding.Time,
            SelfTrainingUpdates = selfTraining.Result?.Updates ?? (IReadOnlyList<SelfTrainingUpdate>)Array.Empty<SelfTrainingUpdate>(),
            SelfTrainingSteps = selfTraining.Result?.Steps ?? 0,
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

    private static float[][] ToRows(Tensor matrix)
    {
        var flat = Autoencoder.Values(matrix);
        int rows = (int)matrix.shape[0], cols = (int)matrix.shape[1];
        return Enumerable.Range(0, rows).Select(r => flat.AsSpan(r * cols, cols).ToArray()).ToArray();
    }
}
