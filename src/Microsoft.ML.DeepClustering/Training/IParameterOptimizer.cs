using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

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
}
