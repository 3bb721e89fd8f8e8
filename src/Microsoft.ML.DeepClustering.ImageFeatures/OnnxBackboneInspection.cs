using System.Globalization;
using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.DeepClustering;

/// <summary>One graph output of an ONNX image model: its name and its shape (−1 where the graph leaves a size open).</summary>
public sealed record OnnxBackboneOutput(string Name, IReadOnlyList<int> Shape)
{
    /// <summary>"embedding [N, 2048]".</summary>
    public override string ToString() => $"{Name} [{string.Join(", ", Shape.Select((d, i) => i == 0 && d < 1 ? "N" : d < 1 ? "?" : d.ToString(CultureInfo.InvariantCulture)))}]";

    /// <summary>Values per image when the output holds one vector per image ([N, D] or [N, D, 1, 1]); null otherwise.</summary>
    public int? VectorSize => Shape.Count switch
    {
        2 when Shape[1] > 0 => Shape[1],
        4 when Shape[1] > 0 && Shape[2] == 1 && Shape[3] == 1 => Shape[1],
        _ => null,
    };
}

/// <summary>
/// What an ONNX image model's graph says about how to run it as a backbone: the image input (name, layout, size) and
/// the output that gives one vector per image, with the reason that output was taken. <see cref="Inspect"/> reads it;
/// <see cref="ToBackbone"/> turns it into an <see cref="OnnxImageBackbone"/>.
/// </summary>
public sealed class OnnxBackboneInspection
{
    /// <summary>The side used when the graph leaves the image size open (most ViT exports fix it; some CNNs do not).</summary>
    public const int DefaultSide = 224;

    private static readonly string[] ProjectedNames = ["image_embeds", "embeds", "proj"];
    private static readonly string[] PooledNames = ["pooler_output", "pool", "gap", "embedding", "features", "avg"];
    private static readonly string[] ClsNames = ["cls"];
    private static readonly string[] ClassifierNames = ["prob", "logit", "softmax", "predict", "class", "score", "output_0_label"];

    public required string ModelPath { get; init; }

    /// <summary>SHA-256 of the model file, lower-case hex: names the backbone in reports and feature caches.</summary>
    public required string Sha256 { get; init; }

    public required string InputName { get; init; }
    public required int ImageWidth { get; init; }
    public required int ImageHeight { get; init; }

    /// <summary>True when the input is [N, H, W, 3] (interleaved, as TensorFlow exports), false for [N, 3, H, W].</summary>
    public required bool ChannelsLast { get; init; }

    /// <summary>The output taken as features.</summary>
    public required OnnxBackboneOutput Output { get; init; }

    /// <summary>Every graph output, in the graph's order.</summary>
    public required IReadOnlyList<OnnxBackboneOutput> Outputs { get; init; }

    /// <summary>What kind of output was taken: "projected", "pooled", "[CLS]", "chosen" (named by the caller) or "the only vector".</summary>
    public required string OutputKind { get; init; }

    /// <summary>Why that output, and how the input was read, in a sentence for a console or a report.</summary>
    public required string Reason { get; init; }

    /// <summary>The backbone to give <see cref="ImageFeaturizerOptions.Backbone"/>, with this normalisation.</summary>
    public OnnxImageBackbone ToBackbone(float[] mean, float[] standardDeviation) => new()
    {
        ModelPath = ModelPath,
        InputName = InputName,
        OutputName = Output.Name,
        ImageWidth = ImageWidth,
        ImageHeight = ImageHeight,
        ChannelsLast = ChannelsLast,
        Mean = mean,
        StandardDeviation = standardDeviation,
    };

    /// <summary>
    /// Opens <paramref name="modelPath"/> with ONNX Runtime and reads its graph: the one image input (a float tensor of
    /// rank 4 with 3 channels first or last), and the output to use, <paramref name="outputName"/> when given, else the
    /// best of the outputs that hold one vector per image ([N, D] or [N, D, 1, 1]): a projected embedding first
    /// (CLIP's <c>image_embeds</c>), then a pooled one (<c>pooler_output</c>, <c>embedding</c>, <c>*_gap</c>), then
    /// a <c>[CLS]</c> token, then any other, never one named like a classifier's (probabilities, logits) unless there is
    /// nothing else; among equals, the widest. Throws <see cref="InvalidDataException"/> naming the file and what it
    /// found when the graph has no such input or output.
    /// </summary>
    public static OnnxBackboneInspection Inspect(string modelPath, string? outputName = null)
    {
        if (!File.Exists(modelPath))
            throw new FileNotFoundException($"No ONNX backbone file '{Path.GetFullPath(modelPath)}'.", modelPath);
        string sha;
        using (var stream = File.OpenRead(modelPath))
            sha = Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();

        InferenceSession session;
        try
        {
            using var sessionOptions = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
            session = new InferenceSession(modelPath, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"'{modelPath}' is not an ONNX model that ONNX Runtime can open: {e.Message.Split('\n')[0]}", e);
        }
        using (session)
        {
            string file = Path.GetFileName(modelPath);
            var images = session.InputMetadata.Where(i => i.Value.IsTensor && i.Value.ElementType == typeof(float) && i.Value.Dimensions.Length == 4
                && (i.Value.Dimensions[1] == 3 || i.Value.Dimensions[3] == 3)).ToList();
            string inputs = string.Join(", ", session.InputMetadata.Select(i => new OnnxBackboneOutput(i.Key, i.Value.Dimensions).ToString()));
            if (images.Count != 1 || session.InputMetadata.Count != 1)
                throw new InvalidDataException($"'{file}' needs one image input, a float tensor [N, 3, H, W] or [N, H, W, 3]; found {inputs}.");
            var (inputName, meta) = (images[0].Key, images[0].Value);
            bool last = meta.Dimensions[1] != 3;
            int height = last ? meta.Dimensions[1] : meta.Dimensions[2], width = last ? meta.Dimensions[2] : meta.Dimensions[3];
            bool sizeOpen = height < 1 || width < 1;
            if (sizeOpen)
                (height, width) = (DefaultSide, DefaultSide);

            var outputs = session.OutputMetadata.Select(o => new OnnxBackboneOutput(o.Key, o.Value.Dimensions)).ToList();
            OnnxBackboneOutput chosen;
            string kind, why;
            if (outputName is not null)
            {
                chosen = outputs.FirstOrDefault(o => o.Name == outputName)
                    ?? throw new InvalidDataException($"'{file}' has no output '{outputName}'; its outputs are {string.Join(", ", outputs)}.");
                if (chosen.VectorSize is null)
                    throw new InvalidDataException($"Output {chosen} of '{file}' does not hold one vector per image ([N, D] or [N, D, 1, 1]); choose one of {string.Join(", ", outputs.Where(o => o.VectorSize is not null).DefaultIfEmpty().Select(o => o?.ToString() ?? "(none)"))}.");
                (kind, why) = ("chosen", "as asked");
            }
            else
            {
                var vectors = outputs.Where(o => o.VectorSize is not null).ToList();
                if (vectors.Count == 0)
                    throw new InvalidDataException($"'{file}' has no output with one vector per image ([N, D] or [N, D, 1, 1]); found {string.Join(", ", outputs)}. " +
                        "Export the model with a pooled or projected output (for a ViT, its [CLS] token or pooler_output).");
                var ranked = vectors.Select(o => (Output: o, Rank: Rank(o.Name))).OrderBy(r => r.Rank.Order).ThenByDescending(r => r.Output.VectorSize).ToList();
                chosen = ranked[0].Output;
                kind = vectors.Count == 1 ? "the only vector" : ranked[0].Rank.Kind;
                var others = outputs.Where(o => o != chosen).Select(o => $"{o} ({(o.VectorSize is null ? "not one vector per image" : Rank(o.Name).Kind)})").ToList();
                why = vectors.Count == 1 ? "the only output with one vector per image"
                    : ranked[0].Rank.Order < 4 ? $"a {kind} output by its name" + (ranked.Count(r => r.Rank.Order == ranked[0].Rank.Order) > 1 ? ", the widest such" : "")
                    : "no output is named as projected, pooled or [CLS]: the widest that is not named as a classifier's";
                if (others.Count > 0)
                    why += $"; also: {string.Join(", ", others)}";
            }
            string size = sizeOpen ? $"{width}×{height} (the graph leaves the size open)" : $"{width}×{height}";
            return new OnnxBackboneInspection
            {
                ModelPath = Path.GetFullPath(modelPath),
                Sha256 = sha,
                InputName = inputName,
                ImageWidth = width,
                ImageHeight = height,
                ChannelsLast = last,
                Output = chosen,
                Outputs = outputs,
                OutputKind = kind,
                Reason = $"input {inputName} {(last ? "[N, H, W, 3]" : "[N, 3, H, W]")} at {size}; output {chosen}: {why}",
            };
        }
    }

    private static (int Order, string Kind) Rank(string name)
    {
        string lower = name.ToLowerInvariant();
        if (ClassifierNames.Any(lower.Contains))
            return (5, "named as a classifier's");
        if (ProjectedNames.Any(lower.Contains))
            return (1, "projected");
        if (PooledNames.Any(lower.Contains))
            return (2, "pooled");
        if (ClsNames.Any(lower.Contains))
            return (3, "[CLS]");
        return (4, "unnamed kind");
    }
}

/// <summary>Per-channel pixel normalisations that image encoders are trained with, for <see cref="OnnxImageBackbone.Mean"/> and <see cref="OnnxImageBackbone.StandardDeviation"/>.</summary>
public static class ImageNormalizations
{
    /// <summary>The names <see cref="Get"/> takes: imagenet, clip, 0..1, -1..1.</summary>
    public static IReadOnlyList<string> Names { get; } = ["imagenet", "clip", "0..1", "-1..1"];

    /// <summary>
    /// (mean, standard deviation) per channel for pixels in 0..1: "imagenet" (ResNet, DINOv2, most CNNs), "clip"
    /// (OpenAI CLIP and OpenCLIP), "0..1" (pixels as they are), "-1..1" (SigLIP, Keras' Inception); null for another name.
    /// </summary>
    public static (float[] Mean, float[] StandardDeviation)? Get(string name) => name.Trim().ToLowerInvariant() switch
    {
        "imagenet" => ([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]),
        "clip" => ([0.48145466f, 0.4578275f, 0.40821073f], [0.26862954f, 0.26130258f, 0.27577711f]),
        "0..1" => ([0f, 0f, 0f], [1f, 1f, 1f]),
        "-1..1" => ([0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]),
        _ => null,
    };
}
