namespace Microsoft.ML.DeepClustering.Model;

/// <summary>
/// What training produces, in managed memory and free of native handles: the ONNX exporter writes it,
/// the transformer keeps it (decoding centroids, inspecting weights). Encoder and decoder are the layers of either
/// network (<see cref="DeepClusterOptions.Architecture"/>), input first and embedding first respectively.
/// </summary>
internal sealed record TrainedModel(
    IReadOnlyList<NetworkLayer> Encoder,
    IReadOnlyList<NetworkLayer> Decoder,
    float[][] Centroids,
    float Alpha,
    IReadOnlyList<int> FeatureDimensions)
{
    public int InputDimension => Encoder[0].InputSize;
    public int EmbeddingDimension => Encoder[^1].OutputSize;
    public int NumberOfClusters => Centroids.Length;

    /// <summary>The same model with its clusters renumbered: cluster i of the result is cluster order[i] of this one.</summary>
    public TrainedModel WithClusterOrder(IReadOnlyList<int> order) =>
        this with { Centroids = order.Select(i => Centroids[i]).ToArray() };
}
