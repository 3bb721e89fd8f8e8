using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

internal static class IndexTensors
{
    /// <summary>
    /// An int64 tensor of cluster indices or counts, on any device, as a managed array: labels for the history and
    /// the progress reports, cluster sizes for the collapse checks. The CPU copy is disposed here.
    /// </summary>
    public static int[] ToInt32Array(Tensor indices)
    {
        using var cpu = indices.to(CPU);
        return cpu.data<long>().Select(v => (int)v).ToArray();
    }
}
