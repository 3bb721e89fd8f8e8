using Microsoft.ML.DeepClustering.Optimizers;
using System.Diagnostics;
using Microsoft.ML.DeepClustering.Networks;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>Stage 1: the autoencoder learns to reconstruct its input (MSE, Adam, shuffled mini-batches, optionally augmented).</summary>
internal static class Pretraining
{
    /// <summary>Where pretraining keeps its state (<see cref="DeepClusterOptions.CheckpointPath"/>), and what that state depends on.</summary>
    public sealed record Checkpointing(string Path, IReadOnlyList<KeyValuePair<string, string>> Settings);

    /// <summary>
    /// The epochs pretraining runs on <paramref name="rows"/> rows: ⌈<see cref="DeepClusterOptions.PretrainSamples"/> /
    /// rows⌉ (at least 1) when that budget is set; otherwise <see cref="DeepClusterOptions.PretrainEpochs"/>, at most
    /// ⌈<see cref="DeepClusterOptions.MaxPretrainSamples"/> / rows⌉ (at least 1) when that bound is set.
    /// </summary>
    public static int Epochs(DeepClusterOptions options, long rows)
    {
        if (options.PretrainSamples > 0)
            return EpochsCovering(options.PretrainSamples, rows);
        return options.MaxPretrainSamples > 0 ? Math.Min(options.PretrainEpochs, EpochsCovering(options.MaxPretrainSamples, rows)) : options.PretrainEpochs;
    }

    private static int EpochsCovering(long samples, long rows) => (int)Math.Max(1, Math.Min(int.MaxValue, (samples + rows - 1) / rows));

    /// <param name="autoencoder">Trained in place.</param>
    /// <param name="x">All training rows [N, D], handed out on the training device.</param>
    /// <param name="context">Options, generator, device, log and cancellation of this Fit.</param>
    /// <param name="epochs">Epochs to reach (<see cref="Epochs"/>), those of a resumed checkpoint included.</param>
    /// <param name="checkpointing">Null: nothing is saved or resumed.</param>
    /// <returns>Mean reconstruction loss of each epoch (those of a resumed run included), and the epoch resumed after (0 if none).</returns>
    public static (List<double> Losses, int ResumedAfterEpoch) Run(Autoencoder autoencoder, TrainingRows x, TrainingContext context, int epochs, Checkpointing? checkpointing)
    {
        var options = context.Options;
        var losses = new List<double>(epochs);
        long n = x.Count;
        using IParameterOptimizer optimizer = options.PretrainOptimizer == PretrainingOptimizer.Sgd
            ? new MomentumSgd(autoencoder.parameters(), options.PretrainLearningRate, options.PretrainMomentum)
            : new AllocationFreeAdam(autoencoder.parameters(), options.PretrainLearningRate);

        if (checkpointing is not null && PretrainingCheckpoint.ReadIfExists(checkpointing.Path) is { } saved)
        {
            saved.CheckResumable(checkpointing.Settings, epochs, checkpointing.Path);
            saved.Restore(autoencoder, optimizer, context.Generator);
            losses.AddRange(saved.Losses);
            context.Log($"Resuming pretraining from '{checkpointing.Path}' after epoch {saved.Epochs} of {epochs}.");
        }
        int resumedAfter = losses.Count;
        var sinceWrite = Stopwatch.StartNew();
        autoencoder.train();
        for (int epoch = resumedAfter + 1; epoch <= epochs; epoch++)
        {
            double sum = 0;
            using (var epochScope = NewDisposeScope())
            {
                // Summed on the device and read once per epoch: a .item() per batch would stall a GPU every step.
                var total = zeros(1, device: x.Device);
                var order = randperm(n, generator: context.Generator).to(x.Device);
                for (long start = 0; start < n; start += options.BatchSize)
                {
                    context.Cancellation.ThrowIfCancellationRequested();
                    using var batchScope = NewDisposeScope();
                    long size = Math.Min(options.BatchSize, n - start);
                    // DEC-DA pretrains on distorted images, reconstructing the distorted image itself.
                    var batch = context.Distort(x.Select(order.narrow(0, start, size)));
                    var loss = nn.functional.mse_loss(autoencoder.forward(batch), batch);
                    optimizer.ZeroGrad();
                    loss.backward();
                    optimizer.Step();
                    total.add_(loss.detach() * size);
                }
                sum = total.item<float>();
            }
            losses.Add(sum / n);
            // Written only between epochs, where the state is whole; at most every CheckpointInterval, and always
            // after the last epoch, so that a later fit with the same options skips pretraining altogether.
            if (checkpointing is not null && (epoch == epochs || sinceWrite.Elapsed >= options.CheckpointInterval))
            {
                PretrainingCheckpoint.Capture(checkpointing.Settings, losses, autoencoder, optimizer, context.Generator).Write(checkpointing.Path);
                sinceWrite.Restart();
            }
            context.Report(DeepClusterStage.Pretraining, epoch, epochs, sum / n, null);
        }
        return (losses, resumedAfter);
    }
}
