using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Optimizers;

/// <summary>
/// What the training loops need of an optimizer: clear the gradients, take a step; and what a pretraining checkpoint
/// needs to resume it exactly: its state tensors (restored in place) and its step count.
/// </summary>
internal interface IParameterOptimizer : IDisposable
{
    void ZeroGrad();
    void Step();

    /// <summary>The tensors that carry the optimizer's memory between steps, in a fixed order.</summary>
    IReadOnlyList<Tensor> State { get; }

    /// <summary>Steps taken so far.</summary>
    long Steps { get; set; }

    /// <summary>Step size of the next steps; a schedule changes it between steps (<see cref="LearningRateSchedules"/>).</summary>
    double LearningRate { get; set; }
}

internal static class Gradients
{
    /// <summary>Zeroes the gradients in place, so that the next backward pass accumulates into the same buffers.</summary>
    public static void Zero(IEnumerable<Parameter> parameters)
    {
        foreach (var parameter in parameters)
        {
            // Each read of .grad is a new native handle: dispose it, or the live-tensor count grows every step.
            using var grad = parameter.grad;
            grad?.zero_();
        }
    }
}
