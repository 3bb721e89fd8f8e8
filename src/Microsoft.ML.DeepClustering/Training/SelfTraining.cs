using Microsoft.ML.DeepClustering.Networks;
using Microsoft.ML.DeepClustering.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// Stage 3: DEC self-training (Xie, Girshick and Farhadi, "Unsupervised Deep Embedding for Clustering Analysis", 2016).
/// The encoder and the centroids μ are trained together to sharpen the soft assignment:
/// <list type="number">
/// <item>q_ij = (1 + ‖z_i − μ_j‖²/α)^(−(α+1)/2) / Σ_j' (…), the Student's t soft assignment (see <see cref="Dec"/>);</item>
/// <item>every T = <see cref="DeepClusterOptions.UpdateInterval"/> steps, q is computed over all rows and the target
///   p_ij = (q_ij²/f_j) / Σ_j' (q_ij'²/f_j'), f_j = Σ_i q_ij, is frozen until the next update;</item>
/// <item>at each of these updates, if fewer than tol = <see cref="DeepClusterOptions.Tolerance"/> of the rows changed
///   their argmax_j q_ij since the previous update, training stops;</item>
/// <item>each step takes a mini-batch and minimises KL(P‖Q) = Σ_i Σ_j p_ij log(p_ij/q_ij) / batch size, by SGD with momentum.</item>
/// </list>
/// The decoder takes no part (DEC drops it after pretraining), except in IDEC (Guo et al. 2017): with γ =
/// <see cref="DeepClusterOptions.IdecGamma"/> &gt; 0 each step minimises reconstruction MSE + γ·KL instead, decoder included.
/// With DEC-DA's augmentation, q of the step comes from distorted images while P stays computed on the clean data.
/// <para>
/// Guards: if a cluster loses all its rows, or the loss stops being finite, training stops and the parameters of the
/// last update at which every cluster had rows are restored (reported as Degenerate or Diverged): DEC has no way back
/// from a collapse, so the best point is the last healthy one.
/// </para>
/// </summary>
internal static class SelfTraining
{
    public sealed record Result(List<SelfTrainingUpdate> Updates, int Steps, SelfTrainingStopReason StopReason, int[] Labels);

    /// <param name="x">All training rows [N, D] on the training device.</param>
    /// <param name="centroids">μ [K, E] from k-means, updated in place.</param>
    public static Result Run(Autoencoder autoencoder, Parameter centroids, Tensor x, TrainingContext context)
    {
        var options = context.Options;
        long n = x.shape[0];
        var updates = new List<SelfTrainingUpdate>();
        bool idec = options.IdecGamma > 0;
        var layers = idec ? autoencoder.EncoderLayers.Concat(autoencoder.DecoderLayers) : autoencoder.EncoderLayers;
        var trainable = layers.SelectMany(layer => layer.parameters()).Append(centroids).ToList();
        using IParameterOptimizer optimizer = options.ClusteringOptimizer == ClusteringOptimizer.Adam
            ? new AllocationFreeAdam(trainable, options.ClusteringLearningRate)
            : new MomentumSgd(trainable, options.ClusteringLearningRate, options.ClusteringMomentum);

        Tensor? target = null;          // P over all rows, frozen between updates
        Tensor? previousLabels = null;  // argmax q at the previous update
        Tensor? order = null;           // shuffled row order of the current pass
        long cursor = n;                // position in that order
        double lossSum = 0;
        int lossCount = 0;
        int step = 0;
        var stopReason = SelfTrainingStopReason.MaxIterations;
        List<Tensor>? healthy = null;   // parameters at the last update where every cluster had rows
        int k = options.NumberOfClusters;
        try
        {
            while (true)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                // Every T steps, and once more at the cap so that the model handed out has passed the collapse
                // check and its labels are current even when MaxIterations is not a multiple of T.
                bool regularUpdate = step % options.UpdateInterval == 0;
                if (regularUpdate || step >= options.MaxIterations)
                {
                    // (2) recompute q over all rows, then the target P; (3) test for convergence.
                    double changed;
                    int[] sizes;
                    int[]? assignments = null;
                    using (var updateScope = NewDisposeScope())
                    {
                        var q = SoftAssignment(autoencoder, centroids, x, options);
                        var labels = q.argmax(dim: 1);
                        sizes = IndexTensors.ToInt32Array(bincount(labels, minlength: k));
                        // Only a listener gets every row's cluster (70,000 ints per update for MNIST-full).
                        if (options.Progress is not null)
                            assignments = IndexTensors.ToInt32Array(labels);
                        changed = previousLabels is null ? 1.0
                            : labels.not_equal(previousLabels).sum().item<long>() / (double)n;
                        previousLabels?.Dispose();
                        previousLabels = labels.MoveToOuterDisposeScope();
                        target?.Dispose();
                        target = Dec.TargetDistribution(q).MoveToOuterDisposeScope();
                    }

                    double meanLoss = lossCount > 0 ? lossSum / lossCount : double.NaN;
                    int empty = sizes.Count(size => size == 0);
                    updates.Add(new SelfTrainingUpdate(step, meanLoss, changed, sizes.Min(), empty));
                    context.Report(DeepClusterStage.SelfTraining, step, options.MaxIterations, meanLoss, changed, assignments);
                    lossSum = 0;
                    lossCount = 0;
                    bool diverged = step > 0 && !double.IsFinite(meanLoss);
                    if (diverged || (empty > 0 && healthy is not null))
                    {
                        stopReason = diverged ? SelfTrainingStopReason.Diverged : SelfTrainingStopReason.Degenerate;
                        context.Log(diverged
                            ? $"Warning: the self-training loss became {meanLoss} by step {step}; restoring the model of the last healthy update. Lower ClusteringLearningRate."
                            : $"Warning: {empty} cluster(s) lost all their rows by step {step} (DEC's collapse); restoring the model of the last update where every cluster had rows.");
                        if (healthy is not null)
                            Restore(trainable, healthy);
                        // Labels of the restored model, for the history.
                        using var restoredScope = NewDisposeScope();
                        var restored = SoftAssignment(autoencoder, centroids, x, options).argmax(dim: 1);
                        previousLabels.Dispose();
                        previousLabels = restored.MoveToOuterDisposeScope();
                        break;
                    }
                    if (empty == 0)
                    {
                        DisposeAll(healthy);
                        healthy = trainable.Select(p => p.detach().clone()).ToList();
                    }
                    if (regularUpdate && step > 0 && changed < options.Tolerance)
                    {
                        stopReason = SelfTrainingStopReason.Converged;
                        break;
                    }
                }
                if (step >= options.MaxIterations)
                    break;

                // (4) one SGD step on KL(P‖Q) over a mini-batch.
                if (cursor >= n)
                {
                    order?.Dispose();
                    using var cpuOrder = randperm(n, generator: context.Generator);
                    order = cpuOrder.to(x.device);
                    cursor = 0;
                }
                using (var batchScope = NewDisposeScope())
                {
                    long size = Math.Min(options.BatchSize, n - cursor);
                    var index = order!.narrow(0, cursor, size);
                    cursor += size;
                    var batch = context.Distort(x.index_select(0, index));
                    var z = autoencoder.Encode(batch);
                    var qBatch = Dec.SoftAssignment(Dec.SquaredDistances(z, centroids), options.Alpha);
                    var pBatch = target!.index_select(0, index);
                    var loss = Dec.KLDivergence(qBatch, pBatch);
                    if (idec)
                        loss = nn.functional.mse_loss(autoencoder.Decode(z), batch) + options.IdecGamma * loss;
                    optimizer.ZeroGrad();
                    loss.backward();
                    optimizer.LearningRate = LearningRateSchedules.Rate(options.ClusteringLearningRateSchedule, options.ClusteringLearningRate, step, options.MaxIterations);
                    optimizer.Step();
                    lossSum += loss.item<float>();
                    lossCount++;
                }
                step++;
            }

            var finalLabels = IndexTensors.ToInt32Array(previousLabels!);
            return new Result(updates, step, stopReason, finalLabels);
        }
        finally
        {
            DisposeAll(healthy);
            target?.Dispose();
            previousLabels?.Dispose();
            order?.Dispose();
        }
    }

    private static void Restore(IReadOnlyList<Parameter> parameters, IReadOnlyList<Tensor> values)
    {
        using var noGrad = no_grad();
        for (int i = 0; i < parameters.Count; i++)
            parameters[i].copy_(values[i]);
    }

    private static void DisposeAll(List<Tensor>? tensors)
    {
        if (tensors is null)
            return;
        foreach (var tensor in tensors)
            tensor.Dispose();
    }

    /// <summary>q over all rows, in large batches under no_grad: the full-data passes need no graph.</summary>
    public static Tensor SoftAssignment(Autoencoder autoencoder, Tensor centroids, Tensor x, DeepClusterOptions options)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var z = Embed(autoencoder, x);
        return Dec.SoftAssignment(Dec.SquaredDistances(z, centroids), options.Alpha).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Rows per chunk of a full-data pass: few enough that the encoder's largest tensor stays within half of glibc's
    /// mmap threshold (see <see cref="TorchRuntime.TuneNativeAllocator"/>), so that it comes from the heap. With 4,096
    /// rows of 28×28 digits the convolutional network's first feature map was 100 MB, mapped and page-faulted afresh
    /// for every chunk, and one pass over 70,000 digits took about 20 s instead of about 3.
    /// </summary>
    internal static long ChunkRows(Autoencoder autoencoder)
    {
        return Math.Min(TorchRuntime.HeapChunkRows(sizeof(float) * (long)autoencoder.WidestEncoderActivation), 4096);
    }

    /// <summary>The embedding of every row, computed in chunks under no_grad.</summary>
    public static Tensor Embed(Autoencoder autoencoder, Tensor x)
    {
        long chunk = ChunkRows(autoencoder);
        using var noGrad = no_grad();
        long n = x.shape[0];
        var parts = new List<Tensor>();
        try
        {
            for (long start = 0; start < n; start += chunk)
            {
                using var scope = NewDisposeScope();
                parts.Add(autoencoder.Encode(x.narrow(0, start, Math.Min(chunk, n - start))).MoveToOuterDisposeScope());
            }
            return cat(parts, 0);
        }
        finally
        {
            foreach (var part in parts)
                part.Dispose();
        }
    }
}
