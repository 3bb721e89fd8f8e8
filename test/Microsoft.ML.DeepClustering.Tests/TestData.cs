using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>The MNIST test set shipped in the repository (data/mnist), and the small settings the suite trains with.</summary>
internal static class TestData
{
    public static string MnistDirectory => Path.Combine(AppContext.BaseDirectory, "data", "mnist");
    public static string ImagesPath => Path.Combine(MnistDirectory, "t10k-images-idx3-ubyte.gz");
    public static string LabelsPath => Path.Combine(MnistDirectory, "t10k-labels-idx1-ubyte.gz");

    /// <summary>The first <paramref name="rows"/> digits of the MNIST test set: Features float[784] in [0,1], Label float.</summary>
    public static IDataView Mnist(MLContext mlContext, int rows) => MnistIdx.Load(mlContext, ImagesPath, LabelsPath, rows);

    /// <summary>A small, fast network: the suite must stay well under 10 minutes on 2 cores.</summary>
    public static DeepClusterOptions SmallOptions(int seed = 1) => new()
    {
        HiddenLayers = new[] { 256, 64 },
        EmbeddingDimension = 10,
        PretrainEpochs = 5,
        BatchSize = 128,
        KMeansInitializations = 3,
        UpdateInterval = 50,
        MaxIterations = 150,
        Seed = seed,
    };

    public static float[][] Column(IDataView data, string name)
    {
        var column = data.Schema[name];
        var rows = new List<float[]>();
        using var cursor = data.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        var buffer = default(VBuffer<float>);
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            rows.Add(buffer.DenseValues().ToArray());
        }
        return rows.ToArray();
    }

    /// <summary>
    /// Equal up to float rounding: the same ONNX graph run on a batch of rows instead of one row may sum or vectorize
    /// in another order, which moves the last bits. Compared relative to each row's largest value.
    /// </summary>
    /// <returns>The largest difference found, relative to its row's largest value.</returns>
    public static double AssertEqualUpToFloatRounding(float[][] expected, float[][] actual, string name, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Length, actual[i].Length);
            double scale = Math.Max(1e-30, expected[i].Max(v => Math.Abs((double)v)));
            for (int j = 0; j < expected[i].Length; j++)
                worst = Math.Max(worst, Math.Abs((double)expected[i][j] - actual[i][j]) / scale);
        }
        Assert.True(worst <= tolerance, $"{name}: values differ by up to {worst:G3} of their row's largest value");
        return worst;
    }

    public static uint[] KeyColumn(IDataView data, string name) =>
        data.GetColumn<uint>(data.Schema[name]).ToArray();

    /// <summary>
    /// The <see cref="SchemaShape"/> of a schema, as ML.NET's pipelines build it; ML.NET keeps SchemaShape.Create
    /// internal, so the tests reach it by reflection.
    /// </summary>
    public static SchemaShape Shape(DataViewSchema schema) =>
        (SchemaShape)typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!
            .Invoke(null, new object[] { schema })!;

    public static string NewTempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "DeepClusteringTests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}

/// <summary>One small model trained once and shared by the tests that only read it (save/load, ONNX, schema, evaluation).</summary>
public sealed class SmallModelFixture : IDisposable
{
    public MLContext MLContext { get; }
    public string TempDirectory { get; }
    public IDataView Data { get; }
    public DeepClusterTransformer Model { get; }
    public DeepClusterOptions Options { get; }
    public List<DeepClusterProgress> Progress { get; } = new();

    public SmallModelFixture()
    {
        TempDirectory = TestData.NewTempDirectory();
        MLContext = new MLContext(seed: 1) { TempFilePath = TempDirectory };
        Data = MLContext.Data.Cache(TestData.Mnist(MLContext, 1000));
        Options = TestData.SmallOptions();
        Options.Progress = new SynchronousProgress<DeepClusterProgress>(Progress.Add);
        Model = MLContext.Transforms.DeepCluster(Options).Fit(Data);
    }

    public void Dispose()
    {
        Model.Dispose();
        try { Directory.Delete(TempDirectory, recursive: true); } catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class SmallModelCollection : ICollectionFixture<SmallModelFixture>
{
    public const string Name = "small model";
}

/// <summary><see cref="Progress{T}"/> posts to the thread pool; tests want reports in order, on the training thread.</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
