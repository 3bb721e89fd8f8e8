using Microsoft.ML.DeepClustering.Model;

namespace Microsoft.ML.DeepClustering.Networks;

/// <summary>
/// The decoder evaluated in managed code, for the few points users decode (centroids, a path between them):
/// no libtorch needed after training. Same layers as <see cref="Autoencoder.Decode"/> of either network: ReLU between
/// layers, linear output. Sums run in double; the networks' float sums differ from them by rounding only.
/// </summary>
internal static class ManagedDecoder
{
    public static float[] Decode(IReadOnlyList<NetworkLayer> layers, float[] z)
    {
        var h = z;
        for (int l = 0; l < layers.Count; l++)
        {
            var next = layers[l] switch
            {
                DenseLayer dense => Dense(dense, h),
                TransposedConvolutionLayer transposed => TransposedConvolution(transposed, h),
                var other => throw new NotSupportedException($"A decoder has no {other.GetType().Name}."),
            };
            if (l + 1 < layers.Count)
                for (int i = 0; i < next.Length; i++)
                    next[i] = MathF.Max(0, next[i]);
            h = next;
        }
        return h;
    }

    private static float[] Dense(DenseLayer layer, float[] x)
    {
        var y = new float[layer.Out];
        for (int o = 0; o < layer.Out; o++)
        {
            double sum = layer.Bias[o];
            var row = layer.Weight.AsSpan(o * layer.In, layer.In);
            for (int i = 0; i < layer.In; i++)
                sum += row[i] * x[i];
            y[o] = (float)sum;
        }
        return y;
    }

    /// <summary>
    /// Scatter form of <see cref="TransposedConvolutionLayer"/>: each input pixel adds its value times the kernel
    /// W[c, o, ·, ·] to the output window at (i·s − p_h, j·s − p_w); what falls outside the output is cropped.
    /// </summary>
    private static float[] TransposedConvolution(TransposedConvolutionLayer layer, float[] x)
    {
        var (inChannels, inHeight, inWidth) = (layer.Input.Channels, layer.Input.Height, layer.Input.Width);
        var output = layer.Output;
        int k = layer.Kernel, outHeight = output.Height, outWidth = output.Width, plane = outHeight * outWidth;
        var sums = new double[output.Size];
        for (int o = 0; o < layer.OutChannels; o++)
            sums.AsSpan(o * plane, plane).Fill(layer.Bias[o]);
        for (int c = 0; c < inChannels; c++)
            for (int i = 0; i < inHeight; i++)
                for (int j = 0; j < inWidth; j++)
                {
                    double value = x[(c * inHeight + i) * inWidth + j];
                    if (value == 0)
                        continue; // most inputs after a ReLU
                    for (int o = 0; o < layer.OutChannels; o++)
                    {
                        var kernel = layer.Weight.AsSpan(((c * layer.OutChannels) + o) * k * k, k * k);
                        for (int u = 0; u < k; u++)
                        {
                            int y = i * layer.Stride - layer.PadHeight + u;
                            if (y < 0 || y >= outHeight)
                                continue;
                            for (int v = 0; v < k; v++)
                            {
                                int xo = j * layer.Stride - layer.PadWidth + v;
                                if (xo >= 0 && xo < outWidth)
                                    sums[o * plane + y * outWidth + xo] += value * kernel[u * k + v];
                            }
                        }
                    }
                }
        return sums.Select(s => (float)s).ToArray();
    }
}
