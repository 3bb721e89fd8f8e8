using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Optimizers;

/// <summary>
/// Runs an optimizer's element-wise update over the raw float32 memory of CPU tensors in one pass: every element of
/// the parameter, its gradient and the optimizer's state is read and written once, where a sequence of in-place
/// libtorch operations streams each tensor through memory several times. The update of a large model is
/// memory-bound, so the passes, not the arithmetic, set its time.
/// <para>
/// An optimizer gives its parameters, its state tensors and a kernel that updates a range of one parameter's
/// elements; each <see cref="Step"/> runs the kernel over the parameters it can read this way (<see cref="Applies"/>)
/// and hands the others to the optimizer's libtorch operations. The ranges are cut into chunks that the threads
/// share, so that a few large layers and many small biases spread evenly over the cores.
/// </para>
/// </summary>
internal sealed unsafe class SinglePassUpdate
{
    /// <summary>Elements per chunk: 128 KB per tensor, large enough that scheduling a chunk costs little next to its work.</summary>
    private const long ChunkElements = 1 << 15;

    /// <summary>Below this many elements in all, one thread does the whole update: starting the others would cost more.</summary>
    private const long ParallelThreshold = 1 << 16;

    /// <summary>
    /// Whether the CPU fuses a multiply and an add in one rounding, as libtorch's vectorised kernels do where they
    /// can; without it (where .NET would emulate the fused operation slowly) the kernels round twice.
    /// </summary>
    public static readonly bool HardwareFma = System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;

    /// <summary>a·b + c, in one rounding where the CPU fuses them (<see cref="HardwareFma"/>).</summary>
    public static Vector<float> MultiplyAdd(Vector<float> a, Vector<float> b, Vector<float> c) =>
        HardwareFma ? Vector.FusedMultiplyAdd(a, b, c) : a * b + c;

    /// <inheritdoc cref="MultiplyAdd(Vector{float}, Vector{float}, Vector{float})"/>
    public static float MultiplyAdd(float a, float b, float c) => HardwareFma ? MathF.FusedMultiplyAdd(a, b, c) : a * b + c;

    private readonly Parameter[] _parameters;
    private readonly Tensor[][] _state;
    private readonly Kernel _kernel;
    private readonly Tensor?[] _gradients;
    private readonly Tensor[] _tensors;
    private readonly nint[] _pointers;
    private readonly long[] _lengths;
    private readonly List<(int Parameter, long Start, long Length)> _chunks = new();
    private readonly Action<int> _runChunk;
    private int _count;

    /// <param name="parameters">The optimizer's parameters.</param>
    /// <param name="state">The optimizer's state: <paramref name="state"/>[k][i] is its k-th tensor for parameter i, of the parameter's shape.</param>
    /// <param name="kernel">The update of a range of elements; it gets the parameter, its gradient and the state tensors in that order.</param>
    public SinglePassUpdate(Parameter[] parameters, Tensor[][] state, Kernel kernel)
    {
        _parameters = parameters;
        _state = state;
        _kernel = kernel;
        _gradients = new Tensor?[parameters.Length];
        _tensors = new Tensor[2 + state.Length];
        _pointers = new nint[parameters.Length * _tensors.Length];
        _lengths = new long[parameters.Length];
        _runChunk = c => RunOne(_chunks[c].Parameter, _chunks[c].Start, _chunks[c].Length);
    }

    /// <summary>Parameters the last step updated in the single pass (the rest took the libtorch operations).</summary>
    public int SinglePassParameters => _count;

    /// <summary>
    /// One optimizer step: the single pass for every parameter it can read (all of them when
    /// <paramref name="singlePass"/>, none otherwise), <paramref name="libtorchStep"/> with the gradient for the
    /// others; parameters without a gradient are left alone.
    /// </summary>
    public void Step(bool singlePass, Action<int, Tensor> libtorchStep)
    {
        _count = 0;
        try
        {
            for (int i = 0; i < _parameters.Length; i++)
            {
                // Each read of .grad is a new native handle, disposed after the step.
                var grad = _gradients[i] = _parameters[i].grad;
                if (grad is null)
                    continue;
                _tensors[0] = _parameters[i];
                _tensors[1] = grad;
                for (int k = 0; k < _state.Length; k++)
                    _tensors[2 + k] = _state[k][i];
                if (singlePass && Applies(_tensors))
                    Add(_tensors);
                else
                    libtorchStep(i, grad);
            }
            Run(get_num_threads());
        }
        finally
        {
            for (int i = 0; i < _gradients.Length; i++)
            {
                _gradients[i]?.Dispose();
                _gradients[i] = null;
            }
        }
    }

    /// <summary>
    /// Whether the tensors can be updated element by element through their memory: float32 on the CPU, contiguous and
    /// of one size. Anything else (a GPU, another precision, a strided view) takes the optimizer's libtorch path.
    /// </summary>
    public static bool Applies(params ReadOnlySpan<Tensor> tensors)
    {
        long count = tensors[0].numel();
        foreach (var t in tensors)
            if (t.device_type != DeviceType.CPU || t.dtype != ScalarType.Float32 || !t.is_contiguous() || t.numel() != count)
                return false;
        return true;
    }

    private void Add(Tensor[] tensors)
    {
        for (int k = 0; k < tensors.Length; k++)
            _pointers[_count * tensors.Length + k] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(tensors[k].bytes));
        _lengths[_count] = tensors[0].numel();
        _count++;
    }

    /// <summary>
    /// The kernel: updates elements [start, start + length) of one parameter, whose tensors' float32 memory starts at
    /// <paramref name="tensors"/>[0], [1], … in the order they were added.
    /// </summary>
    public delegate void Kernel(ReadOnlySpan<nint> tensors, long start, long length);

    /// <summary>Runs the kernel over every element added, on up to <paramref name="threads"/> threads.</summary>
    private void Run(int threads)
    {
        long total = 0;
        _chunks.Clear();
        for (int i = 0; i < _count; i++)
        {
            total += _lengths[i];
            for (long start = 0; start < _lengths[i]; start += ChunkElements)
                _chunks.Add((i, start, Math.Min(ChunkElements, _lengths[i] - start)));
        }
        if (threads <= 1 || total < ParallelThreshold)
        {
            for (int i = 0; i < _count; i++)
                RunOne(i, 0, _lengths[i]);
            return;
        }
        Parallel.For(0, _chunks.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, _runChunk);
    }

    private void RunOne(int parameter, long start, long length) =>
        _kernel(_pointers.AsSpan(parameter * _tensors.Length, _tensors.Length), start, length);
}
