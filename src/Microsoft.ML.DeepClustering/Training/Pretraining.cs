using Microsoft.ML.DeepClustering.Networks;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>Stage 1: the autoencoder learns to reconstruct its input (MSE, Adam, shuffled mini-batches, optionally augmented).</summary>
internal static class Pretraining
{
    /// <returns>Mean reconstruction loss of each epoch.</returns>
    public static List<double> Run(Autoencoder autoencoder, Tensor x, TrainingContext context)
    {
        var options = context.Options;
        var losses = new List<double>(options.PretrainEpochs);
        if (options.PretrainEpochs == 0)
            return losses;

        long n = x.shape[0];
        using IParameterOptimizer optimizer = options.PretrainOptimizer == PretrainingOptimizer.Sgd
            ? new TorchSharpOptimizer(optim.SGD(autoencoder.parameters(), options.PretrainLearningRate, momentum: options.PretrainMomentum))
            : new AllocationFreeAdam(autoencoder.parameters(), options.PretrainLearningRate);
        autoencoder.train();
        for (int epoch = 1; epoch <= options.PretrainEpochs; epoch++)
        {
            double sum = 0;
            using (var epochScope = NewDisposeScope())
            {
                // Summed on the device and read once per epoch: a .item() per batch would stall a GPU every step.
                var total = zeros(1, device: x.device);
                var order = randperm(n, generator: context.Generator).to(x.device);
                for (long start = 0; start < n; start += options.BatchSize)
                {
                    context.Cancellation.ThrowIfCancellationRequested();
                    using var batchScope = NewDisposeScope();
                    long size = Math.Min(options.BatchSize, n - start);
                    // DEC-DA pretrains on distorted images, reconstructing the distorted image itself.
                    var batch = context.Distort(x.index_select(0, order.narrow(0, start, size)));
                    var loss = nn.functional.mse_loss(autoencoder.forward(batch), batch);
                    optimizer.ZeroGrad();
                    loss.backward();
                    optimizer.Step();
                    total.add_(loss.detach() * size);
                }
                sum = total.item<float>();
            }
            losses.Add(sum / n);
            context.Report(DeepClusterStage.Pretraining, epoch, options.PretrainEpochs, sum / n, null);
        }
        return losses;
    }
}
