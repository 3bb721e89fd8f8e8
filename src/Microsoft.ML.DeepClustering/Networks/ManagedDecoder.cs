using Microsoft.ML.DeepClustering.Training;

namespace Microsoft.ML.DeepClustering.Networks;

/// <summary>
/// The dense decoder evaluated in managed code, for the few points users decode (centroids, a path between them):
/// no libtorch needed after training. Same layers as <see cref="DenseAutoencoder.Decode"/>: ReLU between layers,
/// linear output.
/// </summary>
internal static class ManagedDecoder
{
    public static float[] Decode(IReadOnlyList<DenseLayer> layers, float[] z)
    {
        var h = z;
        for (int l = 0; l < layers.Count; l++)
        {
            var layer = layers[l];
            var next = new float[layer.Out];
            for (int o = 0; o < layer.Out; o++)
            {
                double sum = layer.Bias[o];
                var row = layer.Weight.AsSpan(o * layer.In, layer.In);
                for (int i = 0; i < layer.In; i++)
                    sum += row[i] * h[i];
                next[o] = l + 1 < layers.Count ? MathF.Max(0, (float)sum) : (float)sum;
            }
            h = next;
        }
        return h;
    }
}
