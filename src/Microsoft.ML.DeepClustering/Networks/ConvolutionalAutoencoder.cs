using Microsoft.ML.DeepClustering.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Networks;

/// <summary>
/// DCEC's convolutional autoencoder (Guo et al. 2017, also ConvDEC-DA's, Guo et al. 2018):
/// <code>
/// encoder: [C, H, W] ─ conv 32 5×5 /2 ─ ReLU ─ conv 64 5×5 /2 ─ ReLU ─ conv 128 3×3 /2 ─ ReLU ─ flatten ─ dense → E
/// decoder: E ─ dense → 128·h·w ─ ReLU ─ deconv 64 3×3 /2 ─ ReLU ─ deconv 32 5×5 /2 ─ ReLU ─ deconv C 5×5 /2 → [C, H, W]
/// </code>
/// The embedding and the reconstruction are linear, as in the dense network. The first two convolutions pad "same"
/// (2 on each side: ⌈n/2⌉ outputs for any n); the third pads "same" (1) along an axis whose size is a multiple of 8
/// and not at all otherwise, DCEC's rule, which takes 28×28 to 14×14, 7×7, 3×3. Each transposed convolution mirrors
/// one convolution, with the output padding that lands exactly on that convolution's input size, so the decoder
/// reproduces any H×W. Rows come in and go out flat, [N, C·H·W], like the dense network's.
/// </summary>
internal sealed class ConvolutionalAutoencoder : Autoencoder
{
    /// <summary>Filters of the three convolutions (DCEC's).</summary>
    public static IReadOnlyList<int> Filters { get; } = new[] { 32, 64, 128 };

    /// <summary>Smallest height and width three stride-2 convolutions with DCEC's paddings can take (8 → 4 → 2 → 1).</summary>
    public const int MinimumSide = 8;

    private const int Stride = 2;
    private static readonly int[] Kernels = { 5, 5, 3 };

    private readonly ModuleList<Conv2d> _convolutions = new();
    private readonly Linear _toEmbedding;
    private readonly Linear _fromEmbedding;
    private readonly ModuleList<ConvTranspose2d> _transposedConvolutions = new();
    private readonly IReadOnlyList<Stage> _stages;
    private readonly int _embeddingDimension;

    /// <summary>One convolution of the encoder: its input, padding and output; the decoder runs it backwards.</summary>
    internal sealed record Stage(ImageShape Input, int OutChannels, int Kernel, int PadHeight, int PadWidth)
    {
        public ImageShape Output => ConvolutionLayer.OutputShape(Input, OutChannels, Kernel, Stride, PadHeight, PadWidth);

        /// <summary>
        /// What the mirrored transposed convolution adds at the bottom and right to come back to exactly Input's size:
        /// the convolution's output is ⌊(n + 2p − k)/s⌋ + 1, so (n + 2p − k) mod s rows were dropped.
        /// </summary>
        public int OutputPadHeight => (Input.Height + 2 * PadHeight - Kernel) % Stride;
        public int OutputPadWidth => (Input.Width + 2 * PadWidth - Kernel) % Stride;
    }

    /// <summary>The encoder's three convolutions for images of this shape (see the class comment for the paddings).</summary>
    public static IReadOnlyList<Stage> Stages(ImageShape image)
    {
        if (image.Height < MinimumSide || image.Width < MinimumSide)
            throw new ArgumentOutOfRangeException(nameof(image), image,
                $"The convolutional autoencoder needs images of at least {MinimumSide}×{MinimumSide} pixels; found {image.Height}×{image.Width}.");
        var stages = new List<Stage>();
        var input = image;
        for (int i = 0; i < Filters.Count; i++)
        {
            int k = Kernels[i];
            bool same = i < Filters.Count - 1;
            int padHeight = same || image.Height % 8 == 0 ? k / 2 : 0;
            int padWidth = same || image.Width % 8 == 0 ? k / 2 : 0;
            var stage = new Stage(input, Filters[i], k, padHeight, padWidth);
            stages.Add(stage);
            input = stage.Output;
        }
        return stages;
    }

    public ConvolutionalAutoencoder(ImageShape image, int embeddingDimension) : base(nameof(ConvolutionalAutoencoder))
    {
        Image = image;
        _embeddingDimension = embeddingDimension;
        _stages = Stages(image);
        foreach (var stage in _stages)
            _convolutions.Add(nn.Conv2d(stage.Input.Channels, stage.OutChannels, (stage.Kernel, stage.Kernel),
                stride: (Stride, Stride), padding: (stage.PadHeight, stage.PadWidth)));
        int flat = _stages[^1].Output.Size;
        _toEmbedding = nn.Linear(flat, embeddingDimension);
        _fromEmbedding = nn.Linear(embeddingDimension, flat);
        foreach (var stage in _stages.Reverse())
            _transposedConvolutions.Add(nn.ConvTranspose2d(stage.OutChannels, stage.Input.Channels, (stage.Kernel, stage.Kernel),
                stride: (Stride, Stride), padding: (stage.PadHeight, stage.PadWidth), output_padding: (stage.OutputPadHeight, stage.OutputPadWidth)));
        RegisterComponents();
    }

    /// <summary>The images the rows hold.</summary>
    public ImageShape Image { get; }

    /// <summary>The feature map before the embedding layer (128 × h × w).</summary>
    public ImageShape Bottleneck => _stages[^1].Output;

    public override int InputDimension => Image.Size;
    public override int EmbeddingDimension => _embeddingDimension;
    public override int WidestEncoderActivation => _stages.Select(stage => stage.Output.Size).Append(Image.Size).Max();

    public override IReadOnlyList<nn.Module> EncoderLayers => _convolutions.Cast<nn.Module>().Append(_toEmbedding).ToList();
    public override IReadOnlyList<nn.Module> DecoderLayers => new nn.Module[] { _fromEmbedding }.Concat(_transposedConvolutions).ToList();

    public override Tensor Encode(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x.reshape(-1, Image.Channels, Image.Height, Image.Width);
        foreach (var convolution in _convolutions)
            h = nn.functional.relu(convolution.forward(h));
        return _toEmbedding.forward(h.flatten(1)).MoveToOuterDisposeScope();
    }

    public override Tensor Decode(Tensor z)
    {
        using var scope = NewDisposeScope();
        var bottleneck = Bottleneck;
        var h = nn.functional.relu(_fromEmbedding.forward(z)).view(-1, bottleneck.Channels, bottleneck.Height, bottleneck.Width);
        for (int i = 0; i < _transposedConvolutions.Count; i++)
        {
            // The target size, not only the module's output_padding: TorchSharp 0.107's ConvTranspose2d.forward(x)
            // hands libtorch output_padding[0] alone, which it applies to both axes, so 12×10 would come back 12×12.
            var target = _stages[_stages.Count - 1 - i].Input;
            h = _transposedConvolutions[i].forward(h, new long[] { target.Height, target.Width });
            if (i + 1 < _transposedConvolutions.Count)
                h = nn.functional.relu(h);
        }
        return h.flatten(1).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor x)
    {
        using var z = Encode(x);
        return Decode(z);
    }

    public override IReadOnlyList<NetworkLayer> CopyEncoder()
    {
        var layers = new List<NetworkLayer>();
        for (int i = 0; i < _stages.Count; i++)
        {
            var stage = _stages[i];
            var convolution = _convolutions[i];
            layers.Add(new ConvolutionLayer(stage.Input, stage.OutChannels, stage.Kernel, Stride, stage.PadHeight, stage.PadWidth,
                Values(convolution.weight!), Values(convolution.bias!)));
        }
        layers.Add(Copy(_toEmbedding));
        return layers;
    }

    public override IReadOnlyList<NetworkLayer> CopyDecoder()
    {
        var layers = new List<NetworkLayer> { Copy(_fromEmbedding) };
        for (int i = 0; i < _stages.Count; i++)
        {
            var stage = _stages[_stages.Count - 1 - i];
            var transposed = _transposedConvolutions[i];
            layers.Add(new TransposedConvolutionLayer(stage.Output, stage.Input.Channels, stage.Kernel, Stride, stage.PadHeight, stage.PadWidth,
                stage.OutputPadHeight, stage.OutputPadWidth, Values(transposed.weight!), Values(transposed.bias!)));
        }
        return layers;
    }
}
