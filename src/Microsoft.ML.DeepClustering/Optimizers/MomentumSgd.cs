using System.Numerics;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Optimizers;

/// <summary>
/// SGD with (heavy-ball) momentum, PyTorch's update rule without dampening or weight decay:
/// b ← μ·b + g, θ ← θ − η·b. The buffers start at zero, which gives b = g at the first step exactly as PyTorch's
/// lazily created buffer does, so results equal <c>optim.SGD</c>'s.
/// <para>
/// Why not <c>optim.SGD</c>: its momentum buffers are private, and a pretraining checkpoint must save and restore them
/// to resume a run exactly. Like <see cref="AllocationFreeAdam"/>, a step allocates nothing, and float32 parameters
/// on the CPU are updated in one vectorised pass (<see cref="SinglePassUpdate"/>) with the same roundings as the
/// libtorch operations that update the others.
/// </para>
/// </summary>
internal sealed unsafe class MomentumSgd : IParameterOptimizer
{
    private readonly Parameter[] _parameters;
    private readonly Tensor[] _momentum;
    private readonly double _beta;
    private readonly bool _singlePass;
    private readonly SinglePassUpdate _update;
    private readonly Action<int, Tensor> _libtorchStep;
    private float _momentumFactor, _negativeRate;

    // singlePass: false updates every parameter with libtorch operations (tests compare the two paths).
    public MomentumSgd(IEnumerable<Parameter> parameters, double learningRate, double momentum, bool singlePass = true)
    {
        _parameters = parameters.ToArray();
        LearningRate = learningRate;
        _beta = momentum;
        using var noGrad = no_grad();
        _momentum = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        _singlePass = singlePass;
        _update = new SinglePassUpdate(_parameters, new[] { _momentum }, Update);
        _libtorchStep = LibtorchStep;
    }

    /// <summary>Parameters the last step updated in the single pass (the rest took the libtorch operations).</summary>
    internal int SinglePassParameters => _update.SinglePassParameters;

    public IReadOnlyList<Tensor> State => _momentum;

    public long Steps { get; set; }

    public double LearningRate { get; set; }

    public void ZeroGrad() => Gradients.Zero(_parameters);

    public void Step()
    {
        Steps++;
        (_momentumFactor, _negativeRate) = ((float)_beta, (float)-LearningRate);
        using var noGrad = no_grad();
        _update.Step(_singlePass, _libtorchStep);
    }

    private void LibtorchStep(int i, Tensor grad)
    {
        _momentum[i].mul_(_beta).add_(grad);
        _parameters[i].add_(_momentum[i], alpha: -LearningRate);
    }

    /// <summary>
    /// SGD on elements [start, start + length) of one parameter, rounded as libtorch's vectorised kernels round:
    /// b ← μ·b + g, θ ← fma(b, −η, θ).
    /// </summary>
    private void Update(ReadOnlySpan<nint> tensors, long start, long length)
    {
        float* p = (float*)tensors[0] + start, g = (float*)tensors[1] + start, b = (float*)tensors[2] + start;
        float momentum = _momentumFactor, negativeRate = _negativeRate;
        long i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var bi = Vector.Load(b + i) * momentum + Vector.Load(g + i);
                SinglePassUpdate.MultiplyAdd(bi, new Vector<float>(negativeRate), Vector.Load(p + i)).Store(p + i);
                bi.Store(b + i);
            }
        }
        for (; i < length; i++)
        {
            float bi = b[i] * momentum + g[i];
            p[i] = SinglePassUpdate.MultiplyAdd(bi, negativeRate, p[i]);
            b[i] = bi;
        }
    }

    public void Dispose()
    {
        foreach (var tensor in _momentum)
            tensor.Dispose();
    }
}
