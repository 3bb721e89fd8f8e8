namespace Microsoft.ML.DeepClustering.Model;

/// <summary>
/// One layer of a trained network, copied out of libtorch into managed memory. A network is a list of these, run in
/// order with a ReLU between consecutive layers and none after the last; a layer reads its input in whatever shape it
/// needs (a dense layer flattens a feature map, a convolution views a flat vector as [C, H, W]), so no reshape
/// steps need listing.
/// </summary>
internal abstract record NetworkLayer
{
    /// <summary>Values the layer reads per row.</summary>
    public abstract int InputSize { get; }

    /// <summary>Values the layer writes per row.</summary>
    public abstract int OutputSize { get; }
}

/// <summary>A fully connected layer's parameters: y = x Wᵀ + b, W row-major [Out, In].</summary>
internal sealed record DenseLayer(int In, int Out, float[] Weight, float[] Bias) : NetworkLayer
{
    public override int InputSize => In;
    public override int OutputSize => Out;
}

/// <summary>
/// A 2-D convolution with a square kernel, the same stride along both axes and zero padding on both sides of each axis:
/// y[o, i, j] = b[o] + Σ_c Σ_u Σ_v W[o, c, u, v] · x[c, i·Stride − PadHeight + u, j·Stride − PadWidth + v],
/// W row-major [OutChannels, Input.Channels, Kernel, Kernel] (libtorch's and ONNX Conv's layout).
/// </summary>
internal sealed record ConvolutionLayer(ImageShape Input, int OutChannels, int Kernel, int Stride, int PadHeight, int PadWidth, float[] Weight, float[] Bias)
    : NetworkLayer
{
    public ImageShape Output => OutputShape(Input, OutChannels, Kernel, Stride, PadHeight, PadWidth);

    public override int InputSize => Input.Size;
    public override int OutputSize => Output.Size;

    /// <summary>What such a convolution makes of an image: ⌊(n + 2p − k)/s⌋ + 1 along each axis.</summary>
    public static ImageShape OutputShape(ImageShape input, int outChannels, int kernel, int stride, int padHeight, int padWidth) => new(outChannels,
        (input.Height + 2 * padHeight - kernel) / stride + 1,
        (input.Width + 2 * padWidth - kernel) / stride + 1);
}

/// <summary>
/// A 2-D transposed convolution, the gradient of <see cref="ConvolutionLayer"/>'s geometry: every input pixel adds a
/// weighted copy of the kernel to the output, y[o, i·Stride − PadHeight + u, j·Stride − PadWidth + v] += W[c, o, u, v] · x[c, i, j],
/// plus b[o]. OutputPadHeight/Width add rows/columns at the bottom/right, so that the mirror of a stride-2 convolution
/// can land on an odd size. W row-major [Input.Channels, OutChannels, Kernel, Kernel] (libtorch's and ONNX ConvTranspose's layout).
/// </summary>
internal sealed record TransposedConvolutionLayer(
    ImageShape Input, int OutChannels, int Kernel, int Stride, int PadHeight, int PadWidth, int OutputPadHeight, int OutputPadWidth, float[] Weight, float[] Bias)
    : NetworkLayer
{
    public ImageShape Output => new(OutChannels,
        (Input.Height - 1) * Stride - 2 * PadHeight + Kernel + OutputPadHeight,
        (Input.Width - 1) * Stride - 2 * PadWidth + Kernel + OutputPadWidth);

    public override int InputSize => Input.Size;
    public override int OutputSize => Output.Size;
}
