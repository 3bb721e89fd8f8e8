using System.Globalization;
using Microsoft.ML.DeepClustering.Model;
using static Microsoft.ML.DeepClustering.Onnx.Proto.TensorProto.Types;

namespace Microsoft.ML.DeepClustering.Onnx;

/// <summary>Names of the graph's input and outputs (the ML.NET column names, so that ApplyOnnxModel maps them one to one).</summary>
internal sealed record OnnxColumnNames(string Features, string Embedding, string SoftAssignment, string Score, string PredictedClusterId);

/// <summary>
/// Writes a trained model as an ONNX graph, op for op what <see cref="Networks.Autoencoder.Encode"/> and
/// <see cref="Training.Dec"/> compute (tests check they agree):
/// <code>
/// dense:         features [batch, D] (or [batch, C, H, W] ─ Flatten) ─ Gemm ─ Relu ─ … ─ Gemm ─→ Embedding [batch, E]
/// convolutional: features [batch, C, H, W] (or [batch, D] ─ Reshape) ─ Conv ─ Relu ─ Conv ─ Relu ─ Conv ─ Relu
///                ─ Flatten ─ Gemm ─→ Embedding [batch, E]
/// Embedding ─ Unsqueeze ─ Sub(centroids) ─ ReduceSumSquare ─→ Score [batch, K]       (squared distances)
/// Score ─ Div(α) ─ Add(1) ─ Pow(−(α+1)/2) ─ ÷ ReduceSum ─→ SoftAssignment [batch, K] (Student's t q)
/// Score ─ ArgMin ─ Add(1) ─ Cast(uint32) ─→ PredictedClusterId [batch]               (1-based, as ML.NET keys)
/// </code>
/// </summary>
internal static class DeepClusterOnnxExporter
{
    public static byte[] Export(TrainedModel model, OnnxColumnNames names, bool includeScoreAndClusterId = true)
    {
        var g = new OnnxGraph("DeepClustering");
        int k = model.NumberOfClusters, e = model.EmbeddingDimension;

        // Encoder: ReLU after every layer but the embedding, as in both networks.
        // The input keeps the feature column's own dimensions (ExtractPixels gives [C, H, W]): ML.NET matches a column
        // to an ONNX input by shape, and images stay images for other ONNX users. Each layer then gets the shape it
        // reads: dense layers a flat vector, convolutions an image.
        string h = g.FloatInput(names.Features, model.FeatureDimensions.Select(d => (long)d).ToArray());
        IReadOnlyList<int> shape = model.FeatureDimensions; // per row, as h holds it
        for (int i = 0; i < model.Encoder.Count; i++)
        {
            bool last = i == model.Encoder.Count - 1;
            switch (model.Encoder[i])
            {
                case DenseLayer layer:
                {
                    if (shape.Count > 1)
                        h = g.Node("Flatten", new[] { h }, null, OnnxGraph.Int("axis", 1));
                    string w = g.FloatConstant($"encoder{i}_weight", layer.Weight, layer.Out, layer.In);
                    string b = g.FloatConstant($"encoder{i}_bias", layer.Bias, layer.Out);
                    h = g.Node("Gemm", new[] { h, w, b }, last ? names.Embedding : null, OnnxGraph.Int("transB", 1));
                    shape = new[] { layer.Out };
                    break;
                }
                case ConvolutionLayer layer:
                {
                    var image = new[] { layer.Input.Channels, layer.Input.Height, layer.Input.Width };
                    if (!shape.SequenceEqual(image))
                        // 0 copies the batch dimension, which thus stays symbolic ([784] or [28, 28] → [1, 28, 28]).
                        h = g.Node("Reshape", new[] { h, g.Int64Constant($"encoder{i}_image_shape", 0, image[0], image[1], image[2]) });
                    string w = g.FloatConstant($"encoder{i}_weight", layer.Weight, layer.OutChannels, layer.Input.Channels, layer.Kernel, layer.Kernel);
                    string b = g.FloatConstant($"encoder{i}_bias", layer.Bias, layer.OutChannels);
                    // Opset 11+ Conv: pads are [top, left, bottom, right] (all begins, then all ends); libtorch pads both sides alike.
                    h = g.Node("Conv", new[] { h, w, b }, last ? names.Embedding : null,
                        OnnxGraph.Ints("kernel_shape", layer.Kernel, layer.Kernel),
                        OnnxGraph.Ints("strides", layer.Stride, layer.Stride),
                        OnnxGraph.Ints("pads", layer.PadHeight, layer.PadWidth, layer.PadHeight, layer.PadWidth));
                    var output = layer.Output;
                    shape = new[] { output.Channels, output.Height, output.Width };
                    break;
                }
                case var other:
                    throw new NotSupportedException($"The ONNX exporter has no encoder layer {other.GetType().Name}.");
            }
            if (!last)
                h = g.Node("Relu", new[] { h });
        }
        g.Output(names.Embedding, DataType.Float, e);

        // DEC head.
        string centroids = g.FloatConstant("centroids", model.Centroids.SelectMany(c => c).ToArray(), k, e);
        string z3 = g.Node("Unsqueeze", new[] { names.Embedding, g.Int64Constant("axis1", 1) });
        string diff = g.Node("Sub", new[] { z3, centroids });
        string score = g.Node("ReduceSumSquare", new[] { diff }, includeScoreAndClusterId ? names.Score : null,
            OnnxGraph.Ints("axes", 2), OnnxGraph.Int("keepdims", 0));

        string scaled = g.Node("Div", new[] { score, g.FloatScalar("alpha", model.Alpha) });
        string shifted = g.Node("Add", new[] { scaled, g.FloatScalar("one", 1f) });
        string kernel = g.Node("Pow", new[] { shifted, g.FloatScalar("exponent", -(model.Alpha + 1f) / 2f) });
        string total = g.Node("ReduceSum", new[] { kernel, g.Int64Constant("axis1", 1) }, null, OnnxGraph.Int("keepdims", 1));
        g.Node("Div", new[] { kernel, total }, names.SoftAssignment);
        g.Output(names.SoftAssignment, DataType.Float, k);

        if (includeScoreAndClusterId)
        {
            g.Output(names.Score, DataType.Float, k);
            string argmin = g.Node("ArgMin", new[] { score }, null, OnnxGraph.Int("axis", 1), OnnxGraph.Int("keepdims", 0));
            string oneBased = g.Node("Add", new[] { argmin, g.Int64Constant("one_int", 1) });
            g.Node("Cast", new[] { oneBased }, names.PredictedClusterId, OnnxGraph.Int("to", (long)DataType.Uint32));
            g.Output(names.PredictedClusterId, DataType.Uint32);
        }

        var metadata = new Dictionary<string, string>
        {
            ["NumberOfClusters"] = k.ToString(CultureInfo.InvariantCulture),
            ["EmbeddingDimension"] = e.ToString(CultureInfo.InvariantCulture),
            ["Alpha"] = model.Alpha.ToString("R", CultureInfo.InvariantCulture),
            ["FeatureDimensions"] = string.Join(",", model.FeatureDimensions),
        };
        return g.ToModelBytes(
            $"Deep clustering model: {model.InputDimension} features → {e}-d embedding → {k} clusters (Student's t, α = {model.Alpha}). " +
            "PredictedClusterId is 1-based.", metadata);
    }
}
