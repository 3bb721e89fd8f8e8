using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// SGD with (heavy-ball) momentum, PyTorch's update rule without dampening or weight decay:
/// b ← μ·b + g, θ ← θ − η·b. The buffers start at zero, which gives b = g at the first step exactly as PyTorch's
/// lazily created buffer does, so results equal <c>optim.SGD</c>'s.
/// <para>
/// Why not <c>optim.SGD</c>: its momentum buffers are private, and a pretraining checkpoint must save and restore them
/// to resume a run exactly. Like <see cref="AllocationFreeAdam"/>, a step allocates nothing.
/// </para>
/// </summary>
internal sealed class MomentumSgd : IParameterOptimizer
{
    private readonly Parameter[] _parameters;
    private readonly Tensor[] _momentum;
    private readonly double _beta;

    public MomentumSgd(IEnumerable<Parameter> parameters, double learningRate, double momentum)
    {
        _parameters = parameters.ToArray();
        LearningRate = learningRate;
        _beta = momentum;
        using var noGrad = no_grad();
        _momentum = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
    }

    public IReadOnlyList<Tensor> State => _momentum;

    public long Steps { get; set; }

    public double LearningRate { get; set; }

    public void ZeroGrad() => Gradients.Zero(_parameters);

    public void Step()
    {
        Steps++;
        using var noGrad = no_grad();
        for (int i = 0; i < _parameters.Length; i++)
        {
            using var grad = _parameters[i].grad;
            if (grad is null)
                continue;
            _momentum[i].mul_(_beta).add_(grad);
            _parameters[i].add_(_momentum[i], alpha: -LearningRate);
        }
    }

    public void Dispose()
    {
        foreach (var tensor in _momentum)
            tensor.Dispose();
    }
}
