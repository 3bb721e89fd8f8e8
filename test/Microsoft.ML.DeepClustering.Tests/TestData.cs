using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Samples.Input;

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

    /// <summary>
    /// The smallest network that still trains on a few hundred digits, for tests of behaviour rather than quality:
    /// 3 clusters, one hidden layer of 32, 2 epochs, 20 self-training steps.
    /// </summary>
    public static DeepClusterOptions TinyOptions() => new()
    {
        NumberOfClusters = 3, HiddenLayers = new[] { 32 }, EmbeddingDimension = 4, PretrainEpochs = 2,
        KMeansInitializations = 2, MaxIterations = 20, UpdateInterval = 10, BatchSize = 64, Seed = 1,
    };

    /// <summary>
    /// The ConvDEC-DA preset on a small budget for <see cref="SyntheticShapes"/> (320 images): 20 epochs, 80
    /// self-training steps. One thread: it is as fast at this size and does not spin against other work on the machine.
    /// </summary>
    public static DeepClusterOptions ConvolutionalShapesOptions()
    {
        var options = DeepClusterPresets.ConvDecDa();
        options.NumberOfClusters = SyntheticShapes.Classes;
        options.PretrainEpochs = 20;
        options.BatchSize = 32;
        options.KMeansInitializations = 5;
        options.MaxIterations = 80;
        options.UpdateInterval = 20;
        options.NumberOfThreads = 1;
        options.Seed = 1;
        return options;
    }

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

    /// <summary>
    /// The InceptionV3 test backbone (an ONNX image model that is not ResNet18; its README lies beside it): in
    /// shared/backbones beside the repository, as CI has it, or /work/shared/backbones.
    /// </summary>
    public static string InceptionBackbone
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "shared", "backbones", "inception_v3_u8w.onnx");
                if (File.Exists(candidate))
                    return candidate;
            }
            const string fallback = "/work/shared/backbones/inception_v3_u8w.onnx";
            Assert.True(File.Exists(fallback), "the InceptionV3 test backbone is in ../shared/backbones beside the repository");
            return fallback;
        }
    }

    /// <summary>SHA-256 of <see cref="InceptionBackbone"/>, from its README.</summary>
    public const string InceptionBackboneSha256 = "6a85bcc6f756cb59f5bb455810bbec195a2a847eb7fe3919a971ce1ace0abb3f";

    public static string NewTempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "DeepClusteringTests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>
    /// Runs ModelLoadProbe, built with the tests, which loads a saved model with ML.NET alone (it references neither
    /// this library nor its packages), and returns its output lines without the comments (#); fails the test on a
    /// non-zero exit.
    /// </summary>
    public static string[] RunModelLoadProbe(IEnumerable<string> args)
    {
        string output = RunBuiltProgram("ModelLoadProbe.dll", args);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')).Select(l => l.Trim()).ToArray();
    }

    /// <summary>
    /// Runs <paramref name="dll"/>, a program built with the tests (ModelLoadProbe, the samples app deepcluster.dll),
    /// in a process of its own, started in <paramref name="workingDirectory"/> (default: the current one); fails the
    /// test on a non-zero exit. Returns what it printed.
    /// </summary>
    public static string RunBuiltProgram(string dll, IEnumerable<string> args, string? workingDirectory = null)
    {
        string path = Path.Combine(AppContext.BaseDirectory, dll);
        Assert.True(File.Exists(path), $"{path} is built with the tests");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (workingDirectory is not null)
            start.WorkingDirectory = workingDirectory;
        foreach (string arg in args.Prepend(path))
            start.ArgumentList.Add(arg);
        using var process = System.Diagnostics.Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(120_000), $"{dll} finished");
        Assert.True(process.ExitCode == 0, $"{dll} exit {process.ExitCode}: {errors.Result}\n{output}");
        return output;
    }

}

/// <summary>
/// A model trained once and shared by the tests that only read it: a fresh MLContext(seed: 1) whose temporary files
/// go to a folder of its own, the data cached, every progress report kept.
/// </summary>
public abstract class TrainedModelFixture : IDisposable
{
    public MLContext MLContext { get; }
    public string TempDirectory { get; }
    public IDataView Data { get; }
    public DeepClusterTransformer Model { get; }
    public DeepClusterOptions Options { get; }
    public List<DeepClusterProgress> Progress { get; } = new();

    protected TrainedModelFixture(Func<MLContext, IDataView> load, DeepClusterOptions options)
    {
        TempDirectory = TestData.NewTempDirectory();
        MLContext = new MLContext(seed: 1) { TempFilePath = TempDirectory };
        Data = MLContext.Data.Cache(load(MLContext));
        Options = options;
        Options.Progress = new SynchronousProgress<DeepClusterProgress>(Progress.Add);
        Model = MLContext.Transforms.DeepCluster(Options).Fit(Data);
    }

    /// <summary>
    /// Saves the model, loads it in a fresh context and checks that it scores <see cref="Data"/> as the fitted model
    /// does: the same output columns, types and positions, the same cluster ids, exactly the fitted chain's values
    /// (the saved chain is that chain), and the batched Transform's values up to float rounding (it runs the same
    /// graph on batches of rows, where ONNX Runtime may round the last bit differently; BatchedScoringTests).
    /// </summary>
    public void AssertSavedModelScoresAsFitted()
    {
        var dir = TestData.NewTempDirectory();
        try
        {
            string path = Path.Combine(dir, "model.zip");
            MLContext.Model.Save(Model, Data.Schema, path);
            var fresh = new MLContext { TempFilePath = Path.Combine(dir, "tmp") };
            Directory.CreateDirectory(fresh.TempFilePath);
            var loaded = fresh.Model.Load(path, out var inputSchema);
            Assert.Equal(Data.Schema["Features"].Type, inputSchema["Features"].Type);

            var before = Model.Transform(Data);
            var after = loaded.Transform(Data);
            foreach (var name in new[] { "PredictedClusterId", "Score", "SoftAssignment", "Embedding" })
            {
                Assert.Equal(before.Schema[name].Type, after.Schema[name].Type);
                Assert.Equal(before.Schema[name].Index, after.Schema[name].Index);
            }
            Assert.Equal(before.Schema.Count, after.Schema.Count);
            Assert.Equal(TestData.KeyColumn(before, "PredictedClusterId"), TestData.KeyColumn(after, "PredictedClusterId"));
            var chain = Model.TransformThroughChain(Data);
            foreach (var name in new[] { "Score", "SoftAssignment", "Embedding" })
            {
                Assert.Equal(TestData.Column(chain, name), TestData.Column(after, name));
                TestData.AssertEqualUpToFloatRounding(TestData.Column(after, name), TestData.Column(before, name), name);
            }
            (loaded as IDisposable)?.Dispose();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    public void Dispose()
    {
        Model.Dispose();
        try { Directory.Delete(TempDirectory, recursive: true); } catch (IOException) { }
        GC.SuppressFinalize(this);
    }
}

/// <summary>DEC on the first 1,000 MNIST test digits with <see cref="TestData.SmallOptions"/>: save/load, ONNX, schema, history, evaluation.</summary>
public sealed class SmallModelFixture() : TrainedModelFixture(ml => TestData.Mnist(ml, 1000), TestData.SmallOptions());

/// <summary>ConvDEC-DA on <see cref="SyntheticShapes"/> (<see cref="TestData.ConvolutionalShapesOptions"/>): the convolutional network end to end.</summary>
public sealed class ConvolutionalShapesFixture() : TrainedModelFixture(ml => SyntheticShapes.Load(ml, rowsPerClass: 80, seed: 7), TestData.ConvolutionalShapesOptions());

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

/// <summary>A stream that fails as a full disk does once <paramref name="capacity"/> bytes have been written through it.</summary>
internal sealed class FullDiskStream(Stream inner, long capacity) : Stream
{
    private long _written;
    public override bool CanRead => false;
    public override bool CanSeek => inner.CanSeek;
    public override bool CanWrite => true;
    public override long Length => inner.Length;
    public override long Position { get => inner.Position; set => inner.Position = value; }
    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
    public override void SetLength(long value) => inner.SetLength(value);

    public override void Write(byte[] buffer, int offset, int count)
    {
        long room = Math.Max(0, capacity - _written);
        inner.Write(buffer, offset, (int)Math.Min(room, count));
        _written += Math.Min(room, count);
        if (count > room)
            throw new IOException("No space left on device");
    }
}
