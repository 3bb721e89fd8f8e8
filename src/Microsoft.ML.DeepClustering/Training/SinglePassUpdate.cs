using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// Runs an optimizer's element-wise update over the raw float32 memory of CPU tensors in one pass: every element of
/// the parameter, its gradient and the optimizer's state is read and written once, where a sequence of in-place
/// libtorch operations streams each tensor through memory several times. The update of a large model is
/// memory-bound, so the passes, not the arithmetic, set its time.
/// <para>
/// An optimizer adds the tensors of each parameter it can update this way (<see cref="Applies"/>), then calls
/// <see cref="Run"/> with a kernel that updates a range of one parameter's elements. The ranges are cut into chunks
/// that the threads share, so that a few large layers and many small biases spread evenly over the cores.
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

    /// <summary>Disposes the gradient handles a step read (each read of <c>.grad</c> is a new native handle) and clears the slots.</summary>
    public static void DisposeGradients(Tensor?[] gradients)
    {
        for (int i = 0; i < gradients.Length; i++)
        {
            gradients[i]?.Dispose();
            gradients[i] = null;
        }
    }

    private readonly int _tensorsPerParameter;
    private readonly nint[] _pointers;
    private readonly long[] _lengths;
    private readonly List<(int Tensor, long Start, long Length)> _chunks = new();
    private int _count;

    /// <param name="capacity">Parameters at most per step.</param>
    /// <param name="tensorsPerParameter">Tensors the kernel reads per parameter: the parameter, its gradient and the optimizer's state.</param>
    public SinglePassUpdate(int capacity, int tensorsPerParameter)
    {
        _tensorsPerParameter = tensorsPerParameter;
        _pointers = new nint[capacity * tensorsPerParameter];
        _lengths = new long[capacity];
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

    /// <summary>Forgets the tensors of the previous step.</summary>
    public void Clear() => _count = 0;

    /// <summary>Adds one parameter's tensors, in the order the kernel expects them; they must stay alive until <see cref="Run"/> returns.</summary>
    public void Add(params ReadOnlySpan<Tensor> tensors)
    {
        for (int k = 0; k < tensors.Length; k++)
            _pointers[_count * _tensorsPerParameter + k] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(tensors[k].bytes));
        _lengths[_count] = tensors[0].numel();
        _count++;
    }

    /// <summary>
    /// The kernel: updates elements [start, start + length) of one parameter, whose tensors' float32 memory starts at
    /// <paramref name="tensors"/>[0], [1], … in the order they were added.
    /// </summary>
    public delegate void Kernel(ReadOnlySpan<nint> tensors, long start, long length);

    /// <summary>Runs <paramref name="kernel"/> over every element added, on up to <paramref name="threads"/> threads.</summary>
    public void Run(Kernel kernel, int threads)
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
                RunOne(kernel, i, 0, _lengths[i]);
            return;
        }
        Parallel.For(0, _chunks.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
        {
            var (tensor, start, length) = _chunks[c];
            RunOne(kernel, tensor, start, length);
        });
    }

    private void RunOne(Kernel kernel, int parameter, long start, long length) =>
        kernel(_pointers.AsSpan(parameter * _tensorsPerParameter, _tensorsPerParameter), start, length);
}
