namespace Microsoft.ML.DeepClustering.Training;

/// <summary>A fully connected layer's parameters, copied out of libtorch: y = x Wᵀ + b, W row-major [Out, In].</summary>
internal sealed record DenseLayer(int In, int Out, float[] Weight, float[] Bias);

/// <summary>
/// What training produces, in managed memory and free of native handles: the ONNX exporter writes it,
/// the transformer keeps it (decoding centroids, inspecting weights).
/// </summary>
internal sealed record TrainedModel(
    IReadOnlyList<DenseLayer> Encoder,
    IReadOnlyList<DenseLayer> Decoder,
    float[][] Centroids,
    float Alpha,
    IReadOnlyList<int> FeatureDimensions)
{
    public int InputDimension => Encoder[0].In;
    public int EmbeddingDimension => Encoder[^1].Out;
    public int NumberOfClusters => Centroids.Length;

    /// <summary>The same model with its clusters renumbered: cluster i of the result is cluster order[i] of this one.</summary>
    public TrainedModel WithClusterOrder(IReadOnlyList<int> order) =>
        this with { Centroids = order.Select(i => Centroids[i]).ToArray() };
}
