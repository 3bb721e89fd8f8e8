namespace Microsoft.ML.DeepClustering.Samples.Input;

/// <summary>
/// --backbone: the user's ONNX image encoder as read from its graph (<see cref="OnnxBackboneInspection"/>), and the
/// pixel normalisation it gets (--backbone-normalization, or a guess from the file name, said out loud).
/// </summary>
public sealed record BackboneChoice(OnnxBackboneInspection Inspection, string Normalization, string NormalizationReason)
{
    /// <summary>Reads the graph of <paramref name="path"/>; bad files and names surface as <see cref="UserInputException"/>.</summary>
    public static BackboneChoice Read(string path, string? output, string? normalization)
    {
        OnnxBackboneInspection inspection;
        try
        {
            inspection = OnnxBackboneInspection.Inspect(path, output);
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException)
        {
            throw new UserInputException($"--backbone: {e.Message}", e);
        }
        if (normalization is not null)
            return new BackboneChoice(inspection, normalization.Trim().ToLowerInvariant(), "as --backbone-normalization asks");
        // Most encoders name their family in the file name; ImageNet's statistics are what most of the rest were trained with.
        string name = Path.GetFileName(path).ToLowerInvariant();
        return name.Contains("siglip")
            ? new BackboneChoice(inspection, "-1..1", "the file name says SigLIP; --backbone-normalization sets it")
            : name.Contains("clip")
            ? new BackboneChoice(inspection, "clip", "the file name says CLIP; --backbone-normalization sets it")
            : new BackboneChoice(inspection, "imagenet", "the default; check the model's card and set --backbone-normalization imagenet|clip|0..1|-1..1");
    }

    /// <summary>The backbone for FeaturizeImages.</summary>
    public OnnxImageBackbone ToBackbone()
    {
        var (mean, std) = ImageNormalizations.Get(Normalization)!.Value;
        return Inspection.ToBackbone(mean, std);
    }

    /// <summary>Features per image.</summary>
    public int FeatureCount => Inspection.Output.VectorSize!.Value;

    /// <summary>"inception_v3_u8w.onnx (sha256 6a85bcc6f756…)".</summary>
    public string Name => $"{Path.GetFileName(Inspection.ModelPath)} (sha256 {Inspection.Sha256[..12]}…)";

    /// <summary>How each image is read, for the input's description.</summary>
    public string Resizing => $"each resized to {Inspection.ImageWidth}×{Inspection.ImageHeight} colour for the backbone {Name}, output {Inspection.Output.Name} ({FeatureCount} features)";

    /// <summary>The console's lines about it.</summary>
    public IEnumerable<string> Describe()
    {
        yield return $"{Name}: {Inspection.Reason}. Pass --backbone-output to take another.";
        yield return $"pixels normalised as {Normalization} ({NormalizationReason}).";
    }
}
