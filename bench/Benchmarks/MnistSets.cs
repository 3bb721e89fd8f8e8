using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Samples.Input;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// The datasets the benchmarks run on: MNIST-test (10k, shipped), MNIST-full (70k, fetched or in ../shared), and
/// Fashion-MNIST's test set (10k) and full set (70k), fetched by build/fetch-fashion-mnist.sh into data/fashion-mnist.
/// </summary>
internal static class MnistSets
{
    public sealed class Row
    {
        [VectorType(784)] public float[] Features { get; set; } = Array.Empty<float>();
        public float Label { get; set; }
    }

    public static IReadOnlyList<string> Names { get; } = ["mnist-test", "mnist-full", "fashion-test", "fashion-full"];

    public static (IDataView Data, int Rows, string Source) Load(MLContext ml, string name, int? maxRows)
    {
        string shipped = Path.Combine(AppContext.BaseDirectory, "data", "mnist");
        switch (name)
        {
            case "mnist-test":
                var test = ml.Data.Cache(MnistIdx.Load(ml, Path.Combine(shipped, "t10k-images-idx3-ubyte.gz"), Path.Combine(shipped, "t10k-labels-idx1-ubyte.gz"), maxRows));
                return (test, (int)test.GetColumn<float>("Label").Count(), shipped);
            case "mnist-full":
                string dir = FindFull() ?? throw new FileNotFoundException(
                    "MNIST-full needs train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz: run build/fetch-mnist.sh (or put them in data/mnist-full/).");
                var rows = Read(Path.Combine(dir, "train-images-idx3-ubyte.gz"), Path.Combine(dir, "train-labels-idx1-ubyte.gz"))
                    .Concat(Read(Path.Combine(dir, "t10k-images-idx3-ubyte.gz"), Path.Combine(dir, "t10k-labels-idx1-ubyte.gz")))
                    .Take(maxRows ?? int.MaxValue).ToList();
                return (ml.Data.Cache(ml.Data.LoadFromEnumerable(rows)), rows.Count, dir);
            case "fashion-test":
            case "fashion-full":
                string fashion = Find("fashion-mnist", "t10k-images-idx3-ubyte.gz") ?? throw new FileNotFoundException(
                    "Fashion-MNIST needs its IDX files in data/fashion-mnist/: run build/fetch-fashion-mnist.sh.");
                var clothes = (name == "fashion-full" ? Read(Path.Combine(fashion, "train-images-idx3-ubyte.gz"), Path.Combine(fashion, "train-labels-idx1-ubyte.gz")) : [])
                    .Concat(Read(Path.Combine(fashion, "t10k-images-idx3-ubyte.gz"), Path.Combine(fashion, "t10k-labels-idx1-ubyte.gz")))
                    .Take(maxRows ?? int.MaxValue).ToList();
                return (ml.Data.Cache(ml.Data.LoadFromEnumerable(clothes)), clothes.Count, fashion);
            default:
                throw new ArgumentException($"Unknown dataset '{name}'; expected one of {string.Join(", ", Names)}.");
        }
    }

    private static IEnumerable<Row> Read(string images, string labels)
    {
        var pixels = MnistIdx.ReadImages(images);
        var digits = MnistIdx.ReadLabels(labels);
        for (int i = 0; i < pixels.Count; i++)
        {
            var image = pixels.GetImage(i);
            var features = new float[image.Length];
            for (int j = 0; j < features.Length; j++)
                features[j] = image[j] / 255f;
            yield return new Row { Features = features, Label = digits[i] };
        }
    }

    private static string? FindFull() =>
        Find("mnist-full", "train-images-idx3-ubyte.gz") ?? Find(Path.Combine("..", "shared", "data", "mnist"), "train-images-idx3-ubyte.gz");

    /// <summary>data/<paramref name="folder"/> holding <paramref name="entry"/> (a file or a folder), looked for from the working directory and the app's folder upwards.</summary>
    internal static string? Find(string folder, string entry)
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                foreach (var candidate in new[] { Path.Combine(dir.FullName, "data", folder), Path.Combine(dir.FullName, folder) })
                    if (Path.Exists(Path.Combine(candidate, entry)))
                        return Path.GetFullPath(candidate);
        return null;
    }
}
