using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.DeepClustering.Networks;
using Microsoft.ML.DeepClustering.Onnx;
using Microsoft.ML.DeepClustering.Runtime;
using Microsoft.ML.DeepClustering.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>DCEC's convolutional autoencoder: geometry, agreement of torch, ONNX and managed code, input checks.</summary>
public class ConvolutionalAutoencoderTests
{
    [Fact]
    public void FullDataPassesUseChunksWhoseWidestTensorStaysBelowTheMmapThreshold()
    {
        // 28×28 digits: the convolutional network's widest tensor is its first feature map, 32×14×14 per row; DEC's
        // dense network's is its 2,000-wide layer. Each chunk's widest tensor fits in half the 32 MB mmap threshold.
        using var convolutional = new ConvolutionalAutoencoder(new ImageShape(1, 28, 28), embeddingDimension: 10);
        using var dense = new DenseAutoencoder(784, new[] { 500, 500, 2000 }, 10);
        using var wide = new ConvolutionalAutoencoder(new ImageShape(3, 256, 256), embeddingDimension: 10);
        Assert.Equal(32 * 14 * 14, convolutional.WidestEncoderActivation);
        Assert.Equal(2000, dense.WidestEncoderActivation);
        Assert.Equal(32 * 128 * 128, wide.WidestEncoderActivation);
        foreach (var network in new Autoencoder[] { convolutional, dense, wide })
        {
            long chunk = network.ChunkRows;
            Assert.InRange(chunk, 1, 4096);
            Assert.True(chunk * network.WidestEncoderActivation * sizeof(float) <= TorchRuntime.MmapThresholdBytes / 2,
                $"{chunk} rows of {network.WidestEncoderActivation} floats");
        }
        Assert.Equal(668, convolutional.ChunkRows);
        Assert.Equal(2097, dense.ChunkRows);
        Assert.Equal(8, wide.ChunkRows);
    }

    [Fact]
    public void TwentyEightPixelsGoTo14Then7Then3AsInDcec()
    {
        var stages = ConvolutionalAutoencoder.Stages(new ImageShape(1, 28, 28));
        Assert.Equal(new[] { 14, 7, 3 }, stages.Select(s => s.Output.Height));
        Assert.Equal(new[] { 32, 64, 128 }, stages.Select(s => s.OutChannels));
        Assert.Equal(new[] { 2, 2, 0 }, stages.Select(s => s.PadHeight)); // "same", "same", "valid"
        // Sizes divisible by 8 pad the third convolution too (DCEC's rule): 32 → 16 → 8 → 4.
        Assert.Equal(new[] { 16, 8, 4 }, ConvolutionalAutoencoder.Stages(new ImageShape(3, 32, 32)).Select(s => s.Output.Width));
    }

    [Fact]
    public void EveryImageSizeFromTheMinimumUpIsReproducedByTheMirroredDecoder()
    {
        for (int height = ConvolutionalAutoencoder.MinimumSide; height <= 64; height++)
            foreach (int width in new[] { 8, 9, 13, 28, height })
            {
                var image = new ImageShape(1, height, width);
                var stages = ConvolutionalAutoencoder.Stages(image);
                var size = stages[^1].Output;
                Assert.True(size.Height >= 1 && size.Width >= 1, $"{image}: bottleneck {size}");
                foreach (var stage in stages.Reverse())
                {
                    var transposed = new TransposedConvolutionLayer(stage.Output, stage.Input.Channels, stage.Kernel, 2,
                        stage.PadHeight, stage.PadWidth, stage.OutputPadHeight, stage.OutputPadWidth, Array.Empty<float>(), Array.Empty<float>());
                    Assert.Equal(stage.Input, transposed.Output);
                }
            }
        Assert.Throws<ArgumentOutOfRangeException>(() => ConvolutionalAutoencoder.Stages(new ImageShape(1, 7, 28)));
    }

    [Theory]
    [InlineData(1, 28, 28)]
    [InlineData(1, 16, 16)]
    [InlineData(3, 12, 20)]
    [InlineData(3, 9, 13)]
    public void TheTorchNetworkReconstructsRowsOfTheInputSize(int channels, int height, int width)
    {
        random.manual_seed(1);
        using var network = new ConvolutionalAutoencoder(new ImageShape(channels, height, width), embeddingDimension: 6);
        using var scope = NewDisposeScope();
        var x = rand(3, channels * height * width);
        Assert.Equal(new long[] { 3, 6 }, network.Encode(x).shape);
        Assert.Equal(new long[] { 3, channels * height * width }, network.forward(x).shape);
        Assert.Equal(channels * height * width, network.InputDimension);
        Assert.Equal(channels * height * width, network.CopyDecoder()[^1].OutputSize);
        Assert.Equal(6, network.CopyEncoder()[^1].OutputSize);
    }

    [Theory]
    [InlineData(1, 28, 28)]
    [InlineData(3, 12, 10)]
    public void TheManagedDecoderMatchesTheTorchDecoder(int channels, int height, int width)
    {
        random.manual_seed(2);
        using var network = new ConvolutionalAutoencoder(new ImageShape(channels, height, width), embeddingDimension: 5);
        using var scope = NewDisposeScope();
        var z = randn(4, 5) * 3;
        float[] expected;
        using (no_grad())
            expected = network.Decode(z).data<float>().ToArray();
        var decoder = network.CopyDecoder();
        var rows = z.data<float>().ToArray();
        int size = channels * height * width;
        for (int r = 0; r < 4; r++)
        {
            var decoded = ManagedDecoder.Decode(decoder, rows.AsSpan(r * 5, 5).ToArray());
            AssertClose(expected.AsSpan(r * size, size).ToArray(), decoded, 1e-4);
        }
    }

    [Theory]
    [InlineData(new[] { 784 }, 1, 28, 28)]        // a flat column (MNIST's IDX): reshaped inside the graph
    [InlineData(new[] { 28, 28 }, 1, 28, 28)]
    [InlineData(new[] { 3, 12, 10 }, 3, 12, 10)]  // ExtractPixels' [C, H, W]: straight into Conv
    public void TheOnnxGraphComputesWhatTheTorchEncoderComputes(int[] featureDimensions, int channels, int height, int width)
    {
        random.manual_seed(3);
        using var network = new ConvolutionalAutoencoder(new ImageShape(channels, height, width), embeddingDimension: 4);
        using var scope = NewDisposeScope();
        int size = channels * height * width;
        var x = rand(7, size);
        var centroids = randn(3, 4);
        TorchSharp.torch.Tensor z, q;
        using (no_grad())
        {
            z = network.Encode(x);
            q = Dec.SoftAssignment(Dec.SquaredDistances(z, centroids), alpha: 1f);
        }
        var mu = centroids.data<float>().ToArray();
        var model = new TrainedModel(network.CopyEncoder(), network.CopyDecoder(),
            Enumerable.Range(0, 3).Select(k => mu.AsSpan(k * 4, 4).ToArray()).ToArray(), 1f, featureDimensions);
        var bytes = DeepClusterOnnxExporter.Export(model, new OnnxColumnNames("in", "z", "q", "d", "id"));

        using var session = new InferenceSession(bytes);
        Assert.Equal(new[] { -1 }.Concat(featureDimensions), session.InputMetadata["in"].Dimensions); // symbolic batch
        Assert.Equal(new[] { -1, 4 }, session.OutputMetadata["z"].Dimensions);
        var input = new DenseTensor<float>(x.data<float>().ToArray(), new[] { 7 }.Concat(featureDimensions).ToArray());
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("in", input) });
        var outputs = results.ToDictionary(r => r.Name);
        AssertClose(z.data<float>().ToArray(), outputs["z"].AsTensor<float>().ToArray(), 1e-4);
        AssertClose(q.data<float>().ToArray(), outputs["q"].AsTensor<float>().ToArray(), 1e-4);
        Assert.Equal(new[] { 7, 4 }, outputs["z"].AsTensor<float>().Dimensions.ToArray());
    }

    private sealed class FlatRow
    {
        [VectorType(5)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    private sealed class SmallImageRow
    {
        [VectorType(1, 6, 6)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    private static DeepClusterOptions TinyConvolutional()
    {
        var options = TestData.TinyOptions();
        options.Architecture = AutoencoderArchitecture.Convolutional;
        return options;
    }

    [Fact]
    public void WithoutAnImageShapeTheConvolutionalNetworkIsRejectedNamingTheColumn()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 10).Select(i => new FlatRow { Features = Enumerable.Range(0, 5).Select(j => (float)(i * j)).ToArray() });
        var options = TinyConvolutional();
        options.EmbeddingDimension = 2;
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.DeepCluster(options).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("Architecture = Convolutional", e.Message);
        Assert.Contains("'Features' (5 values, dimensions [5])", e.Message);
        Assert.Contains("ImageHeight", e.Message);
    }

    [Fact]
    public void ImageShapeOptionsThatDoNotMatchTheColumnAreRejectedWithTheArithmetic()
    {
        var ml = new MLContext(seed: 1);
        var options = TinyConvolutional();
        options.ImageHeight = 10;
        options.ImageWidth = 10;
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.DeepCluster(options).Fit(TestData.Mnist(ml, 20)));
        Assert.Contains("1 × 10 × 10 = 100 values, not 784", e.Message);
    }

    [Fact]
    public void ImagesTooSmallForThreeStrideTwoConvolutionsAreRejected()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 10).Select(i => new SmallImageRow { Features = Enumerable.Range(0, 36).Select(j => (float)((i * j) % 7)).ToArray() });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.DeepCluster(TinyConvolutional()).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("at least 8×8 pixels", e.Message);
        Assert.Contains("column 'Features' holds 1×6×6 images", e.Message);
        Assert.Equal(nameof(DeepClusterOptions.Architecture), e.ParamName);
    }

    [Fact]
    public void AnUndefinedArchitectureIsRejected()
    {
        var options = new DeepClusterOptions { Architecture = (AutoencoderArchitecture)7 };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().Transforms.DeepCluster(options));
        Assert.Contains("Dense, Convolutional", e.Message);
    }

    internal static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"[{i}] {expected[i]} vs {actual[i]}");
    }
}
