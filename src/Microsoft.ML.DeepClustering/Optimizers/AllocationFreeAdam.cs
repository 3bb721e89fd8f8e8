using System.Numerics;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Optimizers;

/// <summary>
/// Adam (Kingma and Ba, 2015) with PyTorch's update rule and defaults (β = 0.9, 0.999; ε = 1e-8, added after the
/// bias-corrected square root), written so that a step allocates nothing: the moments and the denominator live in
/// tensors made once, and every operation is in place.
/// <para>
/// Float32 parameters on the CPU (all of them, in this library's CPU training) are updated in a single vectorised
/// pass (<see cref="SinglePassUpdate"/>) that reads and writes the parameter and both moments once: the same
/// arithmetic as PyTorch's, element by element in float32, so the results equal the libtorch operations' within float
/// rounding. Other parameters (a GPU, another precision, a strided view) take four in-place libtorch operations,
/// which stream the tensors through memory several times.
/// </para>
/// <para>
/// Why not <c>optim.Adam</c>: TorchSharp's Adam allocates two temporaries per parameter per step. For the DEC
/// autoencoder (3.3 M parameters) the native allocator then maps and unmaps megabytes every step, and the page
/// faults cost more than the arithmetic: several times the time of this optimizer's step, for the same results
/// (docs/benchmarks.md has the figures).
/// </para>
/// </summary>
internal sealed unsafe class AllocationFreeAdam : IParameterOptimizer
{
    private readonly Parameter[] _parameters;
    private readonly Tensor[] _firstMoment;
    private readonly Tensor[] _secondMoment;
    private readonly Tensor?[] _denominator;
    private readonly bool _singlePass;
    private readonly SinglePassUpdate _update;
    private readonly Action<int, Tensor> _libtorchStep;
    private double _correction1, _correction2Root;
    // libtorch rounds its double scalars to the tensor's float32 before use; so does the single pass.
    private readonly float _b1, _a1, _b2, _a2, _eps;
    private float _c2Root, _stepSize;
    private readonly double _beta1;
    private readonly double _beta2;
    private readonly double _epsilon;
    private long _step;

    /// <summary>Adam's moments, in parameter order: first moments, then second moments.</summary>
    public IReadOnlyList<Tensor> State => _firstMoment.Concat(_secondMoment).ToArray();

    /// <summary>Steps taken: the bias correction depends on it.</summary>
    public long Steps { get => _step; set => _step = value; }

    public double LearningRate { get; set; }

    // singlePass: false updates every parameter with libtorch operations (tests and benchmarks compare the two paths).
    public AllocationFreeAdam(IEnumerable<Parameter> parameters, double learningRate, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, bool singlePass = true)
    {
        _parameters = parameters.ToArray();
        LearningRate = learningRate;
        _beta1 = beta1;
        _beta2 = beta2;
        _epsilon = epsilon;
        (_b1, _a1, _b2, _a2, _eps) = ((float)beta1, (float)(1 - beta1), (float)beta2, (float)(1 - beta2), (float)epsilon);
        using var noGrad = no_grad();
        _firstMoment = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        _secondMoment = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        // Only the libtorch path needs a denominator buffer; it is made on first use.
        _denominator = new Tensor?[_parameters.Length];
        _singlePass = singlePass;
        _update = new SinglePassUpdate(_parameters, new[] { _firstMoment, _secondMoment }, Update);
        _libtorchStep = LibtorchStep;
    }

    /// <summary>Parameters the last step updated in the single pass (the rest took the libtorch operations).</summary>
    internal int SinglePassParameters => _update.SinglePassParameters;

    /// <summary>Zeroes the gradients in place, so that the next backward pass accumulates into the same buffers.</summary>
    public void ZeroGrad() => Gradients.Zero(_parameters);

    public void Step()
    {
        _step++;
        _correction1 = 1 - Math.Pow(_beta1, _step);
        _correction2Root = Math.Sqrt(1 - Math.Pow(_beta2, _step));
        (_c2Root, _stepSize) = ((float)_correction2Root, (float)(-LearningRate / _correction1));
        using var noGrad = no_grad();
        _update.Step(_singlePass, _libtorchStep);
    }

    private void LibtorchStep(int i, Tensor grad)
    {
        var denominator = _denominator[i] ??= zeros_like(_parameters[i]).DetachFromDisposeScope();
        _firstMoment[i].mul_(_beta1).add_(grad, alpha: 1 - _beta1);
        _secondMoment[i].mul_(_beta2).addcmul_(grad, grad, value: 1 - _beta2);
        denominator.copy_(_secondMoment[i]).sqrt_().div_(_correction2Root).add_(_epsilon);
        _parameters[i].addcdiv_(_firstMoment[i], denominator, value: -LearningRate / _correction1);
    }

    /// <summary>
    /// Adam on elements [start, start + length) of one parameter, in the libtorch path's order of operations:
    /// m ← fma(1−β1, g, β1·m); v ← fma((1−β2)·g, g, β2·v); θ ← θ + (−η/c1)·m / (√v / √c2 + ε). libtorch's vectorised
    /// kernels fuse the multiply-adds of the moments, so with a hardware FMA the moments match its bit for bit; its
    /// square root is not always correctly rounded, so the denominator, and through it θ, can differ in the last bit.
    /// </summary>
    private void Update(ReadOnlySpan<nint> tensors, long start, long length)
    {
        float* p = (float*)tensors[0] + start, g = (float*)tensors[1] + start, m = (float*)tensors[2] + start, v = (float*)tensors[3] + start;
        float b1 = _b1, a1 = _a1, b2 = _b2, a2 = _a2, c2Root = _c2Root, eps = _eps, stepSize = _stepSize;
        long i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var gi = Vector.Load(g + i);
                var mi = SinglePassUpdate.MultiplyAdd(new Vector<float>(a1), gi, Vector.Load(m + i) * b1);
                var vi = SinglePassUpdate.MultiplyAdd(a2 * gi, gi, Vector.Load(v + i) * b2);
                var denominator = Vector.SquareRoot(vi) / new Vector<float>(c2Root) + new Vector<float>(eps);
                (Vector.Load(p + i) + stepSize * mi / denominator).Store(p + i);
                mi.Store(m + i);
                vi.Store(v + i);
            }
        }
        for (; i < length; i++)
        {
            float gi = g[i];
            float mi = SinglePassUpdate.MultiplyAdd(a1, gi, m[i] * b1);
            float vi = SinglePassUpdate.MultiplyAdd(a2 * gi, gi, v[i] * b2);
            p[i] += stepSize * mi / (MathF.Sqrt(vi) / c2Root + eps);
            m[i] = mi;
            v[i] = vi;
        }
    }

    public void Dispose()
    {
        foreach (var tensor in _firstMoment.Concat(_secondMoment).Concat(_denominator))
            tensor?.Dispose();
    }
}
