using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// Adam (Kingma and Ba, 2015) with PyTorch's update rule and defaults (β = 0.9, 0.999; ε = 1e-8, added after the
/// bias-corrected square root), written so that a step allocates nothing: the moments and the denominator live in
/// tensors made once, and every operation is in place.
/// <para>
/// Why not <c>optim.Adam</c>: TorchSharp's Adam allocates two temporaries per parameter per step. For the DEC
/// autoencoder (3.3 M parameters) the native allocator then maps and unmaps megabytes every step, and the page
/// faults cost more than the arithmetic: several times the time of this optimizer's step, for the same results
/// (docs/benchmarks.md has the figures).
/// </para>
/// </summary>
internal sealed class AllocationFreeAdam : IParameterOptimizer
{
    private readonly Parameter[] _parameters;
    private readonly Tensor[] _firstMoment;
    private readonly Tensor[] _secondMoment;
    private readonly Tensor[] _denominator;
    private readonly double _beta1;
    private readonly double _beta2;
    private readonly double _epsilon;
    private long _step;

    /// <summary>Adam's moments, in parameter order: first moments, then second moments.</summary>
    public IReadOnlyList<Tensor> State => _firstMoment.Concat(_secondMoment).ToArray();

    /// <summary>Steps taken: the bias correction depends on it.</summary>
    public long Steps { get => _step; set => _step = value; }

    public double LearningRate { get; set; }

    public AllocationFreeAdam(IEnumerable<Parameter> parameters, double learningRate, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        _parameters = parameters.ToArray();
        LearningRate = learningRate;
        _beta1 = beta1;
        _beta2 = beta2;
        _epsilon = epsilon;
        using var noGrad = no_grad();
        _firstMoment = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        _secondMoment = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        _denominator = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
    }

    /// <summary>Zeroes the gradients in place, so that the next backward pass accumulates into the same buffers.</summary>
    public void ZeroGrad() => Gradients.Zero(_parameters);

    public void Step()
    {
        _step++;
        double correction1 = 1 - Math.Pow(_beta1, _step);
        double correction2Root = Math.Sqrt(1 - Math.Pow(_beta2, _step));
        using var noGrad = no_grad();
        for (int i = 0; i < _parameters.Length; i++)
        {
            using var grad = _parameters[i].grad;
            if (grad is null)
                continue;
            _firstMoment[i].mul_(_beta1).add_(grad, alpha: 1 - _beta1);
            _secondMoment[i].mul_(_beta2).addcmul_(grad, grad, value: 1 - _beta2);
            _denominator[i].copy_(_secondMoment[i]).sqrt_().div_(correction2Root).add_(_epsilon);
            _parameters[i].addcdiv_(_firstMoment[i], _denominator[i], value: -LearningRate / correction1);
        }
    }

    public void Dispose()
    {
        foreach (var tensor in _firstMoment.Concat(_secondMoment).Concat(_denominator))
            tensor.Dispose();
    }
}
