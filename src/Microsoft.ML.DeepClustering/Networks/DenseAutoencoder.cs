using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.DeepClustering.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Networks;

/// <summary>
/// DEC's fully connected autoencoder: D → h1 → … → hn → E → hn → … → h1 → D, ReLU between layers.
/// The embedding layer and the output layer are linear, as in Xie et al. (2016) and DEC-Keras:
/// a ReLU on the embedding would clip half of the space k-means works in.
/// </summary>
internal sealed class DenseAutoencoder : Autoencoder
{
    private readonly ModuleList<Linear> _encoder = new();
    private readonly ModuleList<Linear> _decoder = new();

    public override int InputDimension { get; }
    public override int EmbeddingDimension { get; }
    public override int WidestEncoderActivation { get; }

    public DenseAutoencoder(int inputDimension, IReadOnlyList<int> hiddenLayers, int embeddingDimension)
        : base(nameof(DenseAutoencoder))
    {
        InputDimension = inputDimension;
        EmbeddingDimension = embeddingDimension;
        var widths = new List<int> { inputDimension };
        widths.AddRange(hiddenLayers);
        widths.Add(embeddingDimension);
        WidestEncoderActivation = widths.Max();
        for (int i = 0; i + 1 < widths.Count; i++)
            _encoder.Add(nn.Linear(widths[i], widths[i + 1]));
        for (int i = widths.Count - 1; i > 0; i--)
            _decoder.Add(nn.Linear(widths[i], widths[i - 1]));
        RegisterComponents();
    }

    /// <summary>The encoder's layers, input first: what the ONNX exporter writes as Gemm nodes.</summary>
    public override IReadOnlyList<Linear> EncoderLayers => _encoder.ToList();

    /// <summary>The decoder's layers, embedding first.</summary>
    public override IReadOnlyList<Linear> DecoderLayers => _decoder.ToList();

    public override Tensor Encode(Tensor x) => RunStack(_encoder, x, embeddingLayer: _encoder.Count - 1);

    public override Tensor Decode(Tensor z) => RunStack(_decoder, z, embeddingLayer: 0);

    public override IReadOnlyList<NetworkLayer> CopyEncoder() => _encoder.Select(Copy).ToArray();

    public override IReadOnlyList<NetworkLayer> CopyDecoder() => _decoder.Select(Copy).ToArray();

    public override Tensor forward(Tensor x)
    {
        using var z = Encode(x);
        return Decode(z);
    }

    // ReLU after every layer but the last of the stack (embedding for the encoder, reconstruction for the decoder).
    private Tensor RunStack(ModuleList<Linear> layers, Tensor x, int embeddingLayer)
    {
        var h = x;
        for (int i = 0; i < layers.Count; i++)
        {
            var next = BFloat16Products && i != embeddingLayer ? BFloat16Linear(layers[i], h) : layers[i].forward(h);
            if (i + 1 < layers.Count)
                next = nn.functional.relu(next);
            h = next;
        }
        return h;
    }

    // The product in bfloat16 (TorchRuntime.BFloat16Product), then + b in float32. The add's alpha is a Scalar we
    // hold until libtorch has read it: the one TorchSharp's + operator creates is unreachable during the native call,
    // so a collection on another thread may free it there (a c10::Scalar::toFloat failure, seen once in a parallel
    // test run; dotnet/TorchSharp#1434).
    private static Tensor BFloat16Linear(Linear layer, Tensor x)
    {
        using var product = TorchRuntime.BFloat16Product(x, layer.weight!);
        using var one = 1f.ToScalar();
        return product.add(layer.bias!, one);
    }
}
