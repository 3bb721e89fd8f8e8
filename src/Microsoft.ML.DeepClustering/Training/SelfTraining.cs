using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.DeepClustering.Networks;
using Microsoft.ML.DeepClustering.Optimizers;
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
/// <item>each step takes a mini-batch and minimises KL(P‖Q) = Σ_i Σ_j p_ij log(p_ij/q_ij) / batch size, by SGD with
///   momentum (DEC) or Adam (<see cref="DeepClusterOptions.SelfTrainingOptimizer"/>).</item>
/// </list>
/// The decoder takes no part (DEC drops it after pretraining), except in IDEC (Guo et al. 2017): with γ =
/// <see cref="DeepClusterOptions.IdecGamma"/> &gt; 0 each step minimises reconstruction MSE + γ·KL instead, decoder included.
/// With DEC-DA's augmentation, q of the step comes from distorted images while P stays computed on the clean data.
/// <para>
/// Above <see cref="DeepClusterOptions.FullPassRows"/> rows the target updates are sampled, since a pass over every
/// row every T steps would cost more than the steps themselves: each update draws the order of the next T batches
/// and computes q, f and P on exactly those rows (a uniform sample of T × batch rows), and the label changes and the
/// cluster sizes of the guards are counted on <see cref="MonitorRows"/> rows drawn once. Below it, every row.
/// </para>
/// <para>
/// Guards: if a cluster loses all its rows, two centroids merge (<see cref="CentroidSeparation"/>), or the loss stops
/// being finite, training stops and the parameters of the last update at which every cluster had rows and its own
/// centroid are restored (reported as Degenerate or Diverged): DEC has no way back
/// from a collapse, so the best point is the last healthy one.
/// </para>
/// </summary>
internal sealed class SelfTraining : IDisposable
{
    /// <param name="Updates">One record per target update.</param>
    /// <param name="Steps">Optimizer steps taken.</param>
    /// <param name="StopReason">Why the loop ended.</param>
    /// <param name="Labels">Every row's cluster at the end; null when the updates were sampled (the caller labels every row once).</param>
    /// <param name="SampledRows">Rows each sampled target update computed P on; 0 when every update passed over every row.</param>
    public sealed record Result(List<SelfTrainingUpdate> Updates, int Steps, SelfTrainingStopReason StopReason, int[]? Labels, int SampledRows);

    /// <summary>Rows on which sampled updates count label changes and cluster sizes.</summary>
    public const int MonitorRows = 20_000;

    private readonly Autoencoder _autoencoder;
    private readonly Parameter _centroids;
    private readonly TrainingRows _x;
    private readonly long _n;
    private readonly int _k;          // K, the number of centroids
    private readonly TrainingContext _context;
    private readonly DeepClusterOptions _options;
    private readonly bool _idec;
    private readonly List<Parameter> _trainable;
    private readonly IParameterOptimizer _optimizer;

    private Tensor? _target;          // P over all rows, frozen between updates
    private Tensor? _labels;          // argmax q at the latest update
    private Tensor? _order;           // shuffled row order of the current pass
    private long _cursor;             // position in that order
    private double _lossSum;          // losses of the steps since the latest update
    private int _lossCount;
    private List<Tensor>? _healthy;   // parameters at the last update where every cluster had rows
    private int[]? _seedingPartition; // the target at updates before step SeedingPartitionSteps, or null
    private Tensor? _partition;       // that partition as a tensor on the training device, made at the first update that aims at it
    private bool _aimsAtPartition;    // whether the current target is that partition rather than P
    private readonly bool _sampled;   // target updates on the rows the next T steps visit (see the class summary)
    private Tensor? _monitor;         // sampled updates: the rows whose labels are compared between updates

    /// <param name="autoencoder">Its encoder (and with IDEC its decoder) is trained in place.</param>
    /// <param name="x">All training rows [N, D], handed out on the training device.</param>
    /// <param name="context">Options, generator, device, log and cancellation of this Fit.</param>
    /// <param name="centroids">μ [K, E] from seeding, updated in place; K is their number.</param>
    /// <param name="seedingPartition">The seeding's partition, the target instead of P for the first
    /// <see cref="DeepClusterOptions.SeedingPartitionSteps"/> steps; or null.</param>
    public static Result Run(Autoencoder autoencoder, Parameter centroids, TrainingRows x, TrainingContext context, int[]? seedingPartition = null)
    {
        using var selfTraining = new SelfTraining(autoencoder, centroids, x, context) { _seedingPartition = seedingPartition };
        return selfTraining.Run();
    }

    private SelfTraining(Autoencoder autoencoder, Parameter centroids, TrainingRows x, TrainingContext context)
    {
        _autoencoder = autoencoder;
        _centroids = centroids;
        _x = x;
        _n = x.Count;
        _k = (int)centroids.shape[0];
        _sampled = _n > context.Options.FullPassRows && _n > (long)context.Options.UpdateInterval * context.Options.BatchSize;
        _cursor = _n;
        _context = context;
        _options = context.Options;
        _idec = _options.IdecGamma > 0;
        var layers = _idec ? autoencoder.EncoderLayers.Concat(autoencoder.DecoderLayers) : autoencoder.EncoderLayers;
        _trainable = layers.SelectMany(layer => layer.parameters()).Append(centroids).ToList();
        _optimizer = _options.SelfTrainingOptimizer == SelfTrainingOptimizer.Adam
            ? new AllocationFreeAdam(_trainable, _options.SelfTrainingLearningRate)
            : new MomentumSgd(_trainable, _options.SelfTrainingLearningRate, _options.SelfTrainingMomentum);
    }

    /// <summary>The loop: a target update every T steps (and at the cap), the health guard and the convergence test after each, a step in between.</summary>
    private Result Run()
    {
        var updates = new List<SelfTrainingUpdate>();
        if (_sampled)
        {
            using var order = randperm(_n, generator: _context.Generator);
            _monitor = order.narrow(0, 0, Math.Min(MonitorRows, _n)).sort().Values.to(_x.Device);
            _context.Log($"Self-training on {_n:N0} rows (more than {_options.FullPassRows:N0}): each target update computes P on the " +
                $"{SampleRows:N0} rows its next {_options.UpdateInterval} steps visit, and label changes and cluster sizes are counted on {_monitor.shape[0]:N0} rows drawn once.");
        }
        int step = 0;
        var stopReason = SelfTrainingStopReason.MaxIterations;
        while (true)
        {
            _context.Cancellation.ThrowIfCancellationRequested();
            // Every T steps, and once more at the cap so that the model handed out has passed the collapse
            // check and its labels are current even when MaxIterations is not a multiple of T.
            bool regularUpdate = step % _options.UpdateInterval == 0;
            if (regularUpdate || step >= _options.MaxIterations)
            {
                bool aimedAtPartition = _aimsAtPartition;
                var (update, assignments) = UpdateTarget(step);
                updates.Add(update);
                _context.Report(DeepClusterStage.SelfTraining, step, _options.MaxIterations, update.Loss, update.LabelChangeFraction, assignments);
                if (GuardHealth(update) is SelfTrainingStopReason unhealthy)
                {
                    stopReason = unhealthy;
                    break;
                }
                // Converging towards a fixed partition is not DEC's fixed point: the test waits for steps that aimed at P.
                if (regularUpdate && step > 0 && !aimedAtPartition && update.LabelChangeFraction < _options.Tolerance)
                {
                    stopReason = SelfTrainingStopReason.Converged;
                    break;
                }
            }
            if (step >= _options.MaxIterations)
                break;
            TrainStep(step);
            step++;
        }
        return new Result(updates, step, stopReason, _sampled ? null : TensorCopies.ToInt32Array(_labels!), _sampled ? (int)SampleRows : 0);
    }

    /// <summary>Rows a sampled target update covers: the T batches until the next update.</summary>
    private long SampleRows => (long)_options.UpdateInterval * _options.BatchSize;

    /// <summary>
    /// The rows the labels and the target are computed on at an update: every row; or, sampled, the monitor rows for
    /// the labels and the next T batches of a fresh shuffled order for the target.
    /// </summary>
    private (Tensor Q, Tensor? TargetRows) Assignments()
    {
        if (!_sampled)
            return (Dec.SoftAssignment(_autoencoder, _centroids, _x, _options.Alpha), null);
        _order?.Dispose();
        // Called inside the update's dispose scope: the order must outlive it, until the next update.
        using (var cpuOrder = randperm(_n, generator: _context.Generator))
            _order = cpuOrder.to(_x.Device).DetachFromDisposeScope();
        _cursor = 0;
        var rows = _order.narrow(0, 0, SampleRows);
        return (Dec.SoftAssignment(_autoencoder, _centroids, _x.Select(_monitor!), _options.Alpha), rows);
    }

    /// <summary>Whether the target set at an update at <paramref name="step"/> is the seeding's partition rather than P.</summary>
    public static bool AimsAtPartition(int[]? seedingPartition, int step, DeepClusterOptions options) =>
        seedingPartition is not null && step < options.SeedingPartitionSteps;

    /// <summary>
    /// (2) q over all rows, the labels and the target P frozen until the next update; (3) the fraction of labels that
    /// changed since the previous update. Also closes the loss average of the steps since then.
    /// </summary>
    /// <returns>The update for the history, and every row's cluster when a progress listener wants them.</returns>
    private (SelfTrainingUpdate Update, int[]? Assignments) UpdateTarget(int step)
    {
        double changed;
        int[] sizes;
        int[]? assignments = null;
        using (var updateScope = NewDisposeScope())
        {
            var (q, targetRows) = Assignments();
            var labels = q.argmax(dim: 1);
            sizes = TensorCopies.ToInt32Array(bincount(labels, minlength: _k));
            // Only a listener gets every row's cluster (70,000 ints per update for MNIST-full).
            if (_options.Progress is not null && !_sampled)
                assignments = TensorCopies.ToInt32Array(labels);
            changed = _labels is null ? 1.0
                : labels.not_equal(_labels).sum().item<long>() / (double)labels.shape[0];
            _labels?.Dispose();
            _labels = labels.MoveToOuterDisposeScope();
            bool aimsAtPartition = AimsAtPartition(_seedingPartition, step, _options);
            // The partition does not change: its one-hot target is built once and kept for as long as the steps aim at it.
            // Sampled, the target covers this update's rows only, so it is rebuilt at every update.
            if (!(aimsAtPartition && _aimsAtPartition) || targetRows is not null)
            {
                _target?.Dispose();
                if (aimsAtPartition)
                {
                    // Made once: sampled updates come every T steps, and a fresh N-long managed copy at each one piled
                    // up on the large-object heap, which is collected rarely, so resident memory grew with the steps.
                    _partition ??= PartitionTensor(q.device);
                    var partition = targetRows is null ? _partition : _partition.index_select(0, targetRows);
                    _target = nn.functional.one_hot(partition, _k).to_type(q.dtype).MoveToOuterDisposeScope();
                }
                else
                {
                    var targetQ = targetRows is null ? q : Dec.SoftAssignment(_autoencoder, _centroids, _x.Select(targetRows), _options.Alpha);
                    _target = Dec.TargetDistribution(targetQ).MoveToOuterDisposeScope();
                }
            }
            _aimsAtPartition = aimsAtPartition;
        }

        double meanLoss = _lossCount > 0 ? _lossSum / _lossCount : double.NaN;
        _lossSum = 0;
        _lossCount = 0;
        return (new SelfTrainingUpdate(step, meanLoss, changed, sizes.Min(), sizes.Count(size => size == 0)), assignments);
    }

    /// <summary>The seeding's partition as int64 on <paramref name="device"/>, outside any dispose scope (disposed with the loop).</summary>
    private Tensor PartitionTensor(Device device)
    {
        using var scope = NewDisposeScope();
        var partition = tensor(_seedingPartition!).to_type(ScalarType.Int64).to(device);
        return partition.DetachFromDisposeScope();
    }

    /// <summary>
    /// After an update: a loss that stopped being finite, a cluster that lost all its rows or two centroids that merged
    /// once the clusters were healthy, stops training with the parameters of the last healthy update restored; an update
    /// with every cluster populated and every centroid apart becomes the new healthy point.
    /// </summary>
    /// <returns>Why training must stop, or null when it may go on.</returns>
    private SelfTrainingStopReason? GuardHealth(SelfTrainingUpdate update)
    {
        bool diverged = update.Step > 0 && !double.IsFinite(update.Loss);
        var merged = diverged ? null : CentroidSeparation.IndistinctPair(TensorCopies.ToRows(_centroids.detach()));
        if (diverged || ((update.EmptyClusters > 0 || merged is not null) && _healthy is not null))
        {
            _context.Log(diverged
                ? $"Warning: the self-training loss became {update.Loss} by step {update.Step}; restoring the model of the last healthy update. Lower SelfTrainingLearningRate."
                : update.EmptyClusters > 0
                ? $"Warning: {update.EmptyClusters} cluster(s) lost all their rows by step {update.Step} (DEC's collapse); restoring the model of the last update where every cluster had rows."
                : $"Warning: clusters {merged!.Value.First + 1} and {merged.Value.Second + 1} merged onto one centroid by step {update.Step} (DEC's collapse: squared distance " +
                  $"{merged.Value.SquaredDistance:G3} against squared norms {merged.Value.SquaredNorms:G3}); restoring the model of the last update where every cluster had rows and its own centroid.");
            if (_healthy is not null)
                Restore(_trainable, _healthy);
            // Labels of the restored model, for the history.
            using var restoredScope = NewDisposeScope();
            var restored = (_sampled ? Dec.SoftAssignment(_autoencoder, _centroids, _x.Select(_monitor!), _options.Alpha) : Dec.SoftAssignment(_autoencoder, _centroids, _x, _options.Alpha)).argmax(dim: 1);
            _labels!.Dispose();
            _labels = restored.MoveToOuterDisposeScope();
            return diverged ? SelfTrainingStopReason.Diverged : SelfTrainingStopReason.Degenerate;
        }
        if (update.EmptyClusters == 0 && merged is null)
        {
            DisposeAll(_healthy);
            _healthy = _trainable.Select(p => p.detach().clone()).ToList();
        }
        return null;
    }

    /// <summary>(4) One optimizer step on KL(P‖Q) over the next mini-batch of a shuffled pass (IDEC: MSE + γ·KL).</summary>
    private void TrainStep(int step)
    {
        // Sampled updates draw the order themselves, and the next T batches always fit in it.
        if (_cursor >= _n && !_sampled)
        {
            _order?.Dispose();
            using var cpuOrder = randperm(_n, generator: _context.Generator);
            _order = cpuOrder.to(_x.Device);
            _cursor = 0;
        }
        using var batchScope = NewDisposeScope();
        long size = Math.Min(_options.BatchSize, _n - _cursor);
        var index = _order!.narrow(0, _cursor, size);
        _cursor += size;
        var batch = _context.Distort(_x.Select(index));
        var z = _autoencoder.Encode(batch);
        var qBatch = Dec.SoftAssignment(Dec.SquaredDistances(z, _centroids), _options.Alpha);
        // Sampled, the target holds exactly the rows of this pass's first T batches, in order.
        var pBatch = _sampled ? _target!.narrow(0, _cursor - size, size) : _target!.index_select(0, index);
        var loss = Dec.KLDivergence(qBatch, pBatch);
        if (_idec)
            loss = nn.functional.mse_loss(_autoencoder.Decode(z), batch) + _options.IdecGamma * loss;
        _optimizer.ZeroGrad();
        loss.backward();
        _optimizer.LearningRate = LearningRateSchedules.Rate(_options.SelfTrainingLearningRateSchedule, _options.SelfTrainingLearningRate, step, _options.MaxIterations);
        _optimizer.Step();
        _lossSum += loss.item<float>();
        _lossCount++;
    }

    public void Dispose()
    {
        DisposeAll(_healthy);
        _target?.Dispose();
        _partition?.Dispose();
        _labels?.Dispose();
        _order?.Dispose();
        _monitor?.Dispose();
        _optimizer.Dispose();
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
}
