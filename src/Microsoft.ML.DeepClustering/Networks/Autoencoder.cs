using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.DeepClustering.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Networks;

/// <summary>
/// What the training stages need from a network, whichever its layers: flat rows [N, D] in, an embedding [N, E]
/// out of <see cref="Encode"/>, a reconstruction [N, D] out of <see cref="Decode"/>. Networks that work on images
/// reshape the rows themselves, so data, augmentation and the scoring graph's input stay the same for all of them.
/// </summary>
internal abstract class Autoencoder : nn.Module<Tensor, Tensor>
{
    protected Autoencoder(string name) : base(name) { }

    /// <summary>D, the size of a row.</summary>
    public abstract int InputDimension { get; }

    /// <summary>E, the size of the embedding.</summary>
    public abstract int EmbeddingDimension { get; }

    /// <summary>Values per row in the encoder's largest tensor, its input included: what sizes a full-data pass's chunks.</summary>
    public abstract int WidestEncoderActivation { get; }

    /// <summary>The encoder's trainable layers, input first (self-training trains only these, and the centroids, in DEC).</summary>
    public abstract IReadOnlyList<nn.Module> EncoderLayers { get; }

    /// <summary>The decoder's trainable layers, embedding first (IDEC trains them too).</summary>
    public abstract IReadOnlyList<nn.Module> DecoderLayers { get; }

    /// <summary>
    /// True: the hidden layers' products run in bfloat16 (see <see cref="TrainingPrecision.BFloat16"/>). The layers
    /// that touch the embedding stay float32: they cost little, and the embedding is where k-means and the Student's
    /// t kernel measure distances.
    /// </summary>
    public bool BFloat16Products { get; set; }

    /// <summary>Rows [N, D] to embeddings [N, E].</summary>
    public abstract Tensor Encode(Tensor x);

    /// <summary>Embeddings [N, E] to reconstructed rows [N, D].</summary>
    public abstract Tensor Decode(Tensor z);

    /// <summary>
    /// Rows per chunk of a full-data pass (<see cref="Embed(long, Func{long, long, Tensor})"/>): few enough that the
    /// encoder's largest tensor stays within half of glibc's mmap threshold (see
    /// <see cref="TorchRuntime.TuneNativeAllocator"/>), so that it comes from the heap rather than being mapped and
    /// page-faulted afresh for every chunk. The convolutional network's first feature map takes 25 KB per 28×28 digit:
    /// at 4,096 rows that would be 100 MB, far above the threshold, and a full pass would spend most of its time in page
    /// faults.
    /// </summary>
    public long ChunkRows => Math.Min(TorchRuntime.HeapChunkRows(sizeof(float) * (long)WidestEncoderActivation), 4096);

    /// <summary>The embedding [N, E] of every row of <paramref name="x"/> [N, D], computed in chunks under no_grad.</summary>
    public Tensor Embed(Tensor x) => Embed(x.shape[0], (start, count) => x.narrow(0, start, count));

    /// <summary>
    /// The embedding [N, E] of <paramref name="n"/> rows that <paramref name="rows"/>(start, count) hands out a chunk at
    /// a time (rows that are decoded on demand), computed under no_grad.
    /// </summary>
    public Tensor Embed(long n, Func<long, long, Tensor> rows)
    {
        using var noGrad = no_grad();
        return TorchRuntime.RowsInChunks(n, ChunkRows, (start, count) => Encode(rows(start, count)));
    }

    /// <summary>The encoder's layers copied into managed memory, input first: what the ONNX exporter writes.</summary>
    public abstract IReadOnlyList<NetworkLayer> CopyEncoder();

    /// <summary>The decoder's layers copied into managed memory, embedding first: what <see cref="ManagedDecoder"/> runs.</summary>
    public abstract IReadOnlyList<NetworkLayer> CopyDecoder();

    /// <summary>A tensor's values, row-major, copied to a managed array (from any device).</summary>
    internal static float[] Values(Tensor parameter)
    {
        using var cpu = parameter.detach().to(CPU).contiguous();
        return cpu.data<float>().ToArray();
    }

    protected static DenseLayer Copy(Linear layer) =>
        new((int)layer.weight!.shape[1], (int)layer.weight.shape[0], Values(layer.weight), Values(layer.bias!));
}
