using Microsoft.ML;
using Microsoft.ML.DeepClustering.Optimizers;
using Microsoft.ML.DeepClustering.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>DeepClusterOptions.CheckpointPath: an interrupted pretraining resumes as if it had never stopped.</summary>
public class CheckpointTests
{
    /// <summary>ConvDEC-DA (Adam, augmentation: the generator's state matters) or dense DEC pretrained with SGD and momentum.</summary>
    public static TheoryData<string> Networks => new() { "conv-dec-da", "dense-sgd" };

    private static (MLContext Ml, IDataView Data, DeepClusterOptions Options) Setup(string network, int dataSeed = 7)
    {
        var ml = new MLContext(seed: 1);
        DeepClusterOptions options;
        IDataView data;
        if (network == "conv-dec-da")
        {
            data = ml.Data.Cache(SyntheticShapes.Load(ml, rowsPerClass: 40, seed: dataSeed));
            options = DeepClusterPresets.ConvDecDa();
            options.NumberOfClusters = SyntheticShapes.Classes;
            options.BatchSize = 32;
        }
        else
        {
            data = ml.Data.Cache(TestData.Mnist(ml, 300));
            options = TestData.TinyOptions();
            options.PretrainOptimizer = PretrainingOptimizer.Sgd;
            options.PretrainLearningRate = 0.1f;
            options.BatchSize = 32;
        }
        options.PretrainEpochs = 6;
        options.KMeansInitializations = 3;
        options.MaxIterations = 40;
        options.UpdateInterval = 20;
        options.NumberOfThreads = 1;
        options.Seed = 1;
        options.CheckpointInterval = TimeSpan.Zero;
        return (ml, data, options);
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void CancelledPretrainingResumesExactlyWhereItStopped(string network)
    {
        var (ml, data, options) = Setup(network);
        float[][] reference, resumed;
        IReadOnlyList<double> referenceLosses;
        using (var model = ml.Transforms.DeepCluster(options).Fit(data))
        {
            reference = TestData.Column(model.Transform(data), "Score");
            referenceLosses = model.History.PretrainLosses;
            Assert.Equal(0, model.History.PretrainingResumedAfterEpoch);
        }

        string dir = TestData.NewTempDirectory();
        try
        {
            string path = Path.Combine(dir, "nested", "pretraining.ckpt");
            options.CheckpointPath = path;
            using (var cancellation = new CancellationTokenSource())
            {
                var interrupted = options.Clone();
                interrupted.Progress = new SynchronousProgress<DeepClusterProgress>(p =>
                {
                    if (p.Stage == DeepClusterStage.Pretraining && p.Step == 3)
                        cancellation.Cancel();
                });
                Assert.ThrowsAny<OperationCanceledException>(() => ml.Transforms.DeepCluster(interrupted).Fit(data, cancellation.Token));
            }
            var saved = PretrainingCheckpoint.ReadIfExists(path);
            Assert.NotNull(saved);
            Assert.Equal(3, saved.Epochs);
            Assert.Equal(referenceLosses.Take(3), saved.Losses);
            Assert.Equal(new[] { "pretraining.ckpt" }, Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));

            var epochsRun = new List<int>();
            options.Progress = new SynchronousProgress<DeepClusterProgress>(p =>
            {
                if (p.Stage == DeepClusterStage.Pretraining)
                    epochsRun.Add(p.Step);
            });
            using (var model = ml.Transforms.DeepCluster(options).Fit(data))
            {
                Assert.Equal(3, model.History.PretrainingResumedAfterEpoch);
                Assert.Equal(new[] { 4, 5, 6 }, epochsRun);
                // Same losses and the same model to the last bit as the run that never stopped: weights, optimizer
                // moments and the random generator (batch order, augmentation) all came back.
                Assert.Equal(referenceLosses, model.History.PretrainLosses);
                resumed = TestData.Column(model.Transform(data), "Score");
            }
            Assert.Equal(reference, resumed);
            Assert.Equal(6, PretrainingCheckpoint.ReadIfExists(path)!.Epochs);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void FinishedPretrainingServesOtherClusterCountsAndLongerRunsButNotOtherDataOrOptions()
    {
        var (ml, data, options) = Setup("conv-dec-da");
        string dir = TestData.NewTempDirectory();
        try
        {
            options.CheckpointPath = Path.Combine(dir, "shapes.ckpt");
            options.MaxIterations = 0;
            IReadOnlyList<double> losses;
            using (var model = ml.Transforms.DeepCluster(options).Fit(data))
                losses = model.History.PretrainLosses;

            // K is not part of pretraining: a second fit with another K seeds straight away on the same embedding.
            var otherK = options.Clone();
            otherK.NumberOfClusters = 3;
            int pretrainingReports = 0;
            otherK.Progress = new SynchronousProgress<DeepClusterProgress>(p => pretrainingReports += p.Stage == DeepClusterStage.Pretraining ? 1 : 0);
            using (var model = ml.Transforms.DeepCluster(otherK).Fit(data))
            {
                Assert.Equal(6, model.History.PretrainingResumedAfterEpoch);
                Assert.Equal(losses, model.History.PretrainLosses);
                Assert.Equal(0, pretrainingReports);
                Assert.Equal(3, model.Centroids.Length);
            }

            // More epochs continue from the sixth.
            var longer = options.Clone();
            longer.PretrainEpochs = 7;
            using (var model = ml.Transforms.DeepCluster(longer).Fit(data))
            {
                Assert.Equal(6, model.History.PretrainingResumedAfterEpoch);
                Assert.Equal(7, model.History.PretrainLosses.Count);
                Assert.Equal(losses, model.History.PretrainLosses.Take(6));
            }
            byte[] kept = File.ReadAllBytes(options.CheckpointPath);

            // Anything pretraining depends on must match, and the message says what differs.
            var fewer = options.Clone();
            fewer.PretrainEpochs = 4;
            var e = Assert.Throws<ArgumentException>(() => ml.Transforms.DeepCluster(fewer).Fit(data));
            Assert.Equal("CheckpointPath", e.ParamName);
            Assert.Contains("holds 7 epochs", e.Message);
            Assert.Contains("PretrainEpochs is 4", e.Message);

            var otherBatch = options.Clone();
            otherBatch.PretrainEpochs = 8;
            otherBatch.BatchSize = 16;
            e = Assert.Throws<ArgumentException>(() => ml.Transforms.DeepCluster(otherBatch).Fit(data));
            Assert.Contains("BatchSize = 32; this training has 16", e.Message);
            Assert.Contains(options.CheckpointPath, e.Message);

            var otherSeed = options.Clone();
            otherSeed.Seed = 2;
            e = Assert.Throws<ArgumentException>(() => ml.Transforms.DeepCluster(otherSeed).Fit(data));
            Assert.Contains("Seed = 1; this training has 2", e.Message);

            var otherData = ml.Data.Cache(SyntheticShapes.Load(ml, rowsPerClass: 40, seed: 8));
            e = Assert.Throws<ArgumentException>(() => ml.Transforms.DeepCluster(options.Clone()).Fit(otherData));
            Assert.Contains("SHA-256 of the training features", e.Message);

            // A refused resume leaves the checkpoint as it was.
            Assert.Equal(kept, File.ReadAllBytes(options.CheckpointPath));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void DamagedCheckpointIsRefusedWithItsPathAndKept()
    {
        var (ml, data, options) = Setup("dense-sgd");
        string dir = TestData.NewTempDirectory();
        try
        {
            string path = Path.Combine(dir, "dense.ckpt");
            options.CheckpointPath = path;
            options.PretrainEpochs = 1;
            options.MaxIterations = 0;
            ml.Transforms.DeepCluster(options).Fit(data).Dispose();
            byte[] whole = File.ReadAllBytes(path);

            foreach (var damaged in new[] { whole[..(whole.Length / 2)], whole[..^1], "not a checkpoint"u8.ToArray(), Array.Empty<byte>() })
            {
                File.WriteAllBytes(path, damaged);
                var e = Assert.Throws<InvalidDataException>(() => ml.Transforms.DeepCluster(options).Fit(data));
                Assert.Contains($"Cannot resume pretraining from '{path}'", e.Message);
                Assert.Equal(damaged, File.ReadAllBytes(path));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void CheckpointOptionsAreCheckedWhenTheEstimatorIsMade()
    {
        var ml = new MLContext(seed: 1);
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.DeepCluster(new DeepClusterOptions { CheckpointPath = " " }));
        Assert.Equal("CheckpointPath", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => ml.Transforms.DeepCluster(new DeepClusterOptions { CheckpointPath = Path.GetTempPath() }));
        Assert.Contains("is a folder", e.Message);
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.DeepCluster(new DeepClusterOptions { CheckpointInterval = TimeSpan.FromSeconds(-1) }));
        Assert.Equal("CheckpointInterval", range.ParamName);
    }

    [Fact]
    public void MomentumSgdTakesTorchSharpsSgdSteps()
    {
        // MomentumSgd replaced optim.SGD so that checkpoints can hold the momentum buffers; the steps must not change.
        random.manual_seed(3);
        using var ours = nn.Linear(5, 3);
        using var theirs = nn.Linear(5, 3);
        using (no_grad())
        {
            theirs.weight!.copy_(ours.weight!);
            theirs.bias!.copy_(ours.bias!);
        }
        using var sgd = new MomentumSgd(ours.parameters(), 0.05, 0.9);
        using var reference = optim.SGD(theirs.parameters(), 0.05, momentum: 0.9);
        for (int step = 0; step < 6; step++)
        {
            using var scope = NewDisposeScope();
            var x = randn(8, 5);
            sgd.ZeroGrad();
            ours.forward(x).pow(2).sum().backward();
            sgd.Step();
            reference.zero_grad();
            theirs.forward(x).pow(2).sum().backward();
            reference.step();
        }
        Assert.Equal(theirs.weight!.data<float>().ToArray(), ours.weight!.data<float>().ToArray());
        Assert.Equal(theirs.bias!.data<float>().ToArray(), ours.bias!.data<float>().ToArray());
        Assert.Equal(6, sgd.Steps);
    }
    /// <summary>
    /// A training process killed outright (SIGKILL: no finally blocks, no flush) in the middle of pretraining leaves a
    /// checkpoint from which the same command resumes to exactly the model of a run that never stopped.
    /// </summary>
    [Fact]
    public async Task AProcessKilledDuringPretrainingResumesToTheUninterruptedModel()
    {
        string dir = TestData.NewTempDirectory();
        try
        {
            const string epochs = "16";
            // The run that never stops goes alongside the one that is killed: two processes, one thread each.
            var uninterruptedRun = Task.Run(() => RunTrainingProbe("-", epochs));

            string checkpoint = Path.Combine(dir, "killed.ckpt");
            string probe = Path.Combine(AppContext.BaseDirectory, "TrainingProbe.dll");
            var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string arg in new[] { probe, checkpoint, epochs, "150" })
                start.ArgumentList.Add(arg);
            using (var child = System.Diagnostics.Process.Start(start)!)
            {
                _ = child.StandardError.ReadToEndAsync();
                string? line;
                while ((line = child.StandardOutput.ReadLine()) is not null && line != "epoch 5")
                {
                }
                Assert.Equal("epoch 5", line);
                child.Kill(); // SIGKILL on Linux
                Assert.True(child.WaitForExit(30_000));
                Assert.NotEqual(0, child.ExitCode);
            }
            Assert.True(File.Exists(checkpoint));

            string[] resumed = RunTrainingProbe(checkpoint, epochs);
            int after = int.Parse(resumed[0].Split(' ')[1]);
            Assert.InRange(after, 5, 15);
            string[] uninterrupted = await uninterruptedRun;
            Assert.Equal("resumed 0", uninterrupted[0]);
            Assert.Equal(uninterrupted[1..], resumed[1..]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>TrainingProbe's output: "resumed N", the cluster ids, the centroids.</summary>
    private static string[] RunTrainingProbe(params string[] args) =>
        TestData.RunBuiltProgram("TrainingProbe.dll", args).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => !l.StartsWith("epoch ", StringComparison.Ordinal)).Select(l => l.Trim()).ToArray();

    /// <summary>A checkpoint from rows of another size is refused, naming both sizes; one from another K serves the fit (K is not part of pretraining).</summary>
    [Fact]
    public void ACheckpointFromAnotherInputSizeIsRefusedAndOneFromAnotherKServes()
    {
        var ml = new MLContext(seed: 1);
        IDataView Rows(int size) => ml.Data.LoadFromEnumerable(Enumerable.Range(0, 60).Select(i => new VectorRow
        {
            Features = Enumerable.Range(0, size).Select(j => (float)((i % 3) * 2 + Math.Sin(i * 7 + j))).ToArray(),
        }), SchemaDefinitionFor(size));
        string dir = TestData.NewTempDirectory();
        try
        {
            var options = new DeepClusterOptions
            {
                NumberOfClusters = 3, HiddenLayers = [16], EmbeddingDimension = 2, PretrainEpochs = 2, MaxIterations = 0, BatchSize = 16,
                Seed = 1, CheckpointPath = Path.Combine(dir, "eight.ckpt"), CheckpointInterval = TimeSpan.Zero,
            };
            ml.Transforms.DeepCluster(options).Fit(Rows(8)).Dispose();
            byte[] kept = File.ReadAllBytes(options.CheckpointPath);

            var e = Assert.Throws<ArgumentException>(() => ml.Transforms.DeepCluster(options.Clone()).Fit(Rows(10)));
            Assert.Equal("CheckpointPath", e.ParamName);
            Assert.Contains(options.CheckpointPath, e.Message);
            Assert.Contains("features per row = 8; this training has 10", e.Message);
            Assert.Equal(kept, File.ReadAllBytes(options.CheckpointPath));

            var otherK = options.Clone();
            otherK.NumberOfClusters = 4;
            using var model = ml.Transforms.DeepCluster(otherK).Fit(Rows(8));
            Assert.Equal(2, model.History.PretrainingResumedAfterEpoch);
            Assert.Equal(4, model.NumberOfClusters);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed class VectorRow
    {
        public float[] Features { get; set; } = [];
    }

    private static Microsoft.ML.Data.SchemaDefinition SchemaDefinitionFor(int size)
    {
        var definition = Microsoft.ML.Data.SchemaDefinition.Create(typeof(VectorRow));
        definition[nameof(VectorRow.Features)].ColumnType = new Microsoft.ML.Data.VectorDataViewType(Microsoft.ML.Data.NumberDataViewType.Single, size);
        return definition;
    }
}
