using System.Globalization;
using Microsoft.ML.DeepClustering.Training;
using static Microsoft.ML.DeepClustering.Onnx.Proto.TensorProto.Types;

namespace Microsoft.ML.DeepClustering.Onnx;

/// <summary>Names of the graph's input and outputs (the ML.NET column names, so that ApplyOnnxModel maps them one to one).</summary>
internal sealed record OnnxColumnNames(string Features, string Embedding, string SoftAssignment, string Score, string PredictedClusterId)
{
    public static OnnxColumnNames From(DeepClusterOptions options) => new(options.FeatureColumnName, options.EmbeddingColumnName,
        options.SoftAssignmentColumnName, options.ScoreColumnName, options.PredictedClusterIdColumnName);
}

/// <summary>
/// Writes a trained model as an ONNX graph, op for op what <see cref="Networks.DenseAutoencoder.Encode"/> and
/// <see cref="Networks.StudentTAssignment"/> compute (a test checks they agree):
/// <code>
/// features [batch, D] (or [batch, C, H, W] ─ Flatten) ─ Gemm ─ Relu ─ … ─ Gemm ─→ Embedding [batch, E]
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

        // Encoder: ReLU after every layer but the embedding, as in DenseAutoencoder.
        // The input keeps the feature column's own dimensions (ExtractPixels gives [C, H, W]): ML.NET matches a column
        // to an ONNX input by shape, and images stay images for other ONNX users.
        string h = g.FloatInput(names.Features, model.FeatureDimensions.Select(d => (long)d).ToArray());
        if (model.FeatureDimensions.Count > 1)
            h = g.Node("Flatten", new[] { h }, null, OnnxGraph.Int("axis", 1));
        for (int i = 0; i < model.Encoder.Count; i++)
        {
            var layer = model.Encoder[i];
            string w = g.FloatConstant($"encoder{i}_weight", layer.Weight, layer.Out, layer.In);
            string b = g.FloatConstant($"encoder{i}_bias", layer.Bias, layer.Out);
            bool last = i == model.Encoder.Count - 1;
            h = g.Node("Gemm", new[] { h, w, b }, last ? names.Embedding : null, OnnxGraph.Int("transB", 1));
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
