using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Samples.Input;

/// <summary>Reads an IDX (MNIST-format) image file, and optionally its label file, with <see cref="MnistIdx"/>.</summary>
public static class IdxInput
{
    public static SampleInput Load(MLContext mlContext, string imagesPath, string? labelsPath, int? maxRows, string? displayName = null)
    {
        RequireFile(imagesPath, "IDX image file");
        if (labelsPath is not null)
            RequireFile(labelsPath, "IDX label file");

        IDataView data;
        try
        {
            data = MnistIdx.Load(mlContext, imagesPath, labelsPath, maxRows);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            // MnistIdx's messages already name the file and say what is wrong with it.
            throw new UserInputException(e.Message, e);
        }

        var (height, width) = MnistIdx.ReadImageSize(imagesPath);
        int count = (int)(data.GetRowCount() ?? 0);
        if (count == 0)
            throw new UserInputException($"The IDX image file '{imagesPath}' holds no images.");

        LabelSet? labels = null;
        if (labelsPath is not null)
        {
            var values = data.GetColumn<float>(SampleColumns.Label).Select(v => (int)v);
            labels = LabelSet.Numeric(values);
        }

        string source = displayName ?? Path.GetFileName(imagesPath);
        return new SampleInput
        {
            Data = data,
            Kind = InputKind.Idx,
            Shape = new ImageShape(1, height, width),
            Labels = labels,
            Count = count,
            Description = $"{count:N0} images {width}×{height} grayscale from {source}" +
                (labels is null ? ", no labels" : $", {labels.Count} classes"),
        };
    }

    private static void RequireFile(string path, string what)
    {
        if (!File.Exists(path))
            throw new UserInputException($"The {what} '{Path.GetFullPath(path)}' does not exist.");
    }
}
