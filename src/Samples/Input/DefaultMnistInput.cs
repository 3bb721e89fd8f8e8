namespace Microsoft.ML.DeepClustering.Samples.Input;

/// <summary>
/// The MNIST test set shipped in the repository (data/mnist), which Samples.csproj copies next to the app:
/// what the app clusters when it is given no input, so that a first run needs no download.
/// </summary>
public static class DefaultMnistInput
{
    public const string ImagesFileName = "t10k-images-idx3-ubyte.gz";
    public const string LabelsFileName = "t10k-labels-idx1-ubyte.gz";

    public static string Directory => Path.Combine(AppContext.BaseDirectory, "data", "mnist");

    public static SampleInput Load(MLContext mlContext, int? maxRows)
    {
        string images = Path.Combine(Directory, ImagesFileName);
        string labels = Path.Combine(Directory, LabelsFileName);
        if (!File.Exists(images) || !File.Exists(labels))
        {
            throw new UserInputException(
                $"The MNIST test set is missing from '{Directory}' (expected {ImagesFileName} and {LabelsFileName}, " +
                "copied there from the repository's data/mnist by the build); rebuild, or give --images or --idx.");
        }
        return IdxInput.Load(mlContext, images, labels, maxRows, displayName: "the MNIST test set (data/mnist)");
    }
}
