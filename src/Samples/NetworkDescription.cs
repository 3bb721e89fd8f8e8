namespace Microsoft.ML.DeepClustering.Samples;

/// <summary>The autoencoder in a few words, for the console and the report.</summary>
internal static class NetworkDescription
{
    /// <summary>Layer widths from input to embedding, e.g. "784-500-500-2000-10" or "784-conv32-conv64-conv128-10".</summary>
    public static string Layers(DeepClusterOptions options, int inputSize) => options.Architecture == AutoencoderArchitecture.Convolutional
        ? $"{inputSize}-conv32-conv64-conv128-{options.EmbeddingDimension}"
        : $"{inputSize}-{string.Join("-", options.HiddenLayers)}-{options.EmbeddingDimension}";

    public static string Kind(DeepClusterOptions options) => options.Architecture == AutoencoderArchitecture.Convolutional
        ? "convolutional autoencoder (DCEC), decoder mirrored"
        : "dense autoencoder, decoder mirrored";
}
