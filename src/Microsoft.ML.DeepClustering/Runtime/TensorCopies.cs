using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Runtime;

/// <summary>Tensors copied into managed arrays, on any device; the CPU copies are disposed here.</summary>
internal static class TensorCopies
{
    /// <summary>
    /// An int64 tensor of cluster indices or counts as a managed array: labels for the history and the progress
    /// reports, cluster sizes for the collapse checks.
    /// </summary>
    public static int[] ToInt32Array(Tensor indices)
    {
        using var cpu = indices.to(CPU);
        return cpu.data<long>().Select(v => (int)v).ToArray();
    }

    /// <summary>A float32 matrix [N, E] as N managed rows.</summary>
    public static float[][] ToRows(Tensor matrix)
    {
        using var cpu = matrix.detach().to(CPU).contiguous();
        var flat = cpu.data<float>().ToArray();
        int rows = (int)matrix.shape[0], cols = (int)matrix.shape[1];
        return Enumerable.Range(0, rows).Select(r => flat.AsSpan(r * cols, cols).ToArray()).ToArray();
    }
}
