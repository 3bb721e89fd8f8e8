using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.DeepClustering.Networks;
using Microsoft.ML.DeepClustering.Onnx;
using Microsoft.ML.DeepClustering.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Tests;

[Collection(SmallModelCollection.Name)]
public class OnnxExportTests(SmallModelFixture fixture)
{
    [Fact]
    public void ExportedModelRunsInOnnxRuntimeAndMatchesTheTransformer()
    {
        using var stream = new MemoryStream();
        fixture.Model.ExportOnnx(stream);
        var rows = TestData.Column(fixture.Data, "Features").Take(300).ToArray();

        using var session = new InferenceSession(stream.ToArray());
        Assert.Equal(new[] { "Features" }, session.InputMetadata.Keys);
        Assert.Equal(-1, session.InputMetadata["Features"].Dimensions[0]); // symbolic batch
        var input = new DenseTensor<float>(rows.SelectMany(r => r).ToArray(), new[] { rows.Length, 784 });
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("Features", input) });
        var outputs = results.ToDictionary(r => r.Name);
        var ids = outputs["PredictedClusterId"].AsTensor<uint>().ToArray();
        var score = outputs["Score"].AsTensor<float>().ToArray();
        var q = outputs["SoftAssignment"].AsTensor<float>().ToArray();
        var z = outputs["Embedding"].AsTensor<float>().ToArray();

        var scored = fixture.Model.Transform(fixture.Data);
        var expectedIds = TestData.KeyColumn(scored, "PredictedClusterId");
        var expectedScore = TestData.Column(scored, "Score");
        var expectedQ = TestData.Column(scored, "SoftAssignment");
        var expectedZ = TestData.Column(scored, "Embedding");
        int agree = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            if (ids[i] == expectedIds[i]) agree++;
            for (int k = 0; k < 10; k++)
            {
                // ML.NET's k-means scorer expands ‖z−μ‖² = ‖z‖² − 2z·μ + ‖μ‖², ONNX subtracts first: equal up to rounding.
                Assert.Equal(expectedScore[i][k], score[i * 10 + k], 1e-3 * (1 + Math.Abs(expectedScore[i][k])));
                Assert.Equal(expectedQ[i][k], q[i * 10 + k], 1e-6);
                Assert.Equal(expectedZ[i][k], z[i * 10 + k], 1e-5);
            }
        }
        // Only a near tie between two centroids could make the two roundings disagree.
        Assert.True(agree >= rows.Length - 1, $"{agree} of {rows.Length} cluster ids agree");
    }

    [Fact]
    public void OnnxGraphComputesWhatTheTorchModulesCompute()
    {
        random.manual_seed(7);
        using var autoencoder = new DenseAutoencoder(12, new[] { 9, 7 }, 4);
        using var centroids = randn(5, 4);
        using var x = rand(33, 12);
        using var z = autoencoder.Encode(x);
        using var distances = Dec.SquaredDistances(z, centroids);
        using var q = Dec.SoftAssignment(distances, alpha: 1.5f);

        var encoder = autoencoder.EncoderLayers.Select(l => new DenseLayer(
            (int)l.weight!.shape[1], (int)l.weight.shape[0], l.weight.data<float>().ToArray(), l.bias!.data<float>().ToArray())).ToArray();
        var mu = centroids.data<float>().ToArray();
        var model = new TrainedModel(encoder, Array.Empty<DenseLayer>(),
            Enumerable.Range(0, 5).Select(k => mu.AsSpan(k * 4, 4).ToArray()).ToArray(), 1.5f, new[] { 12 });
        var bytes = DeepClusterOnnxExporter.Export(model, new OnnxColumnNames("in", "z", "q", "d", "id"));

        using var session = new InferenceSession(bytes);
        var input = new DenseTensor<float>(x.data<float>().ToArray(), new[] { 33, 12 });
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("in", input) });
        var outputs = results.ToDictionary(r => r.Name);
        AssertClose(z.data<float>().ToArray(), outputs["z"].AsTensor<float>().ToArray(), 1e-5);
        AssertClose(distances.data<float>().ToArray(), outputs["d"].AsTensor<float>().ToArray(), 1e-4);
        AssertClose(q.data<float>().ToArray(), outputs["q"].AsTensor<float>().ToArray(), 1e-5);
        var argmin = distances.argmin(1).data<long>().Select(v => (uint)(v + 1)).ToArray();
        Assert.Equal(argmin, outputs["id"].AsTensor<uint>().ToArray());
    }

    [Fact]
    public void ImageShapedInputIsFlattenedInsideTheGraph()
    {
        var model = new TrainedModel(
            new[] { new DenseLayer(6, 2, new float[] { 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, new float[] { 0, 0 }) },
            Array.Empty<DenseLayer>(), new[] { new float[] { 0, 0 }, new float[] { 1, 1 } }, 1f, new[] { 1, 2, 3 });
        var bytes = DeepClusterOnnxExporter.Export(model, new OnnxColumnNames("img", "z", "q", "d", "id"));
        using var session = new InferenceSession(bytes);
        Assert.Equal(new[] { -1, 1, 2, 3 }, session.InputMetadata["img"].Dimensions);
        var input = new DenseTensor<float>(new float[] { 5, 0, 0, 0, 0, 7 }, new[] { 1, 1, 2, 3 });
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("img", input) });
        Assert.Equal(new float[] { 5, 7 }, results.Single(r => r.Name == "z").AsTensor<float>().ToArray());
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"[{i}] {expected[i]} vs {actual[i]}");
    }
}
