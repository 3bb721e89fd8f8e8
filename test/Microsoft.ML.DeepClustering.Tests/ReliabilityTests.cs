using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.DeepClustering.Scoring;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>What users break: degenerate training, memory, threads, half-written files.</summary>
public class ReliabilityTests
{
    private sealed class DigitInput
    {
        [VectorType(784)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    private sealed class ClusterPrediction
    {
        public uint PredictedClusterId { get; set; }
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void DivergingSelfTrainingStopsAtTheLastHealthyModel()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Mnist(ml, 300));
        var options = TestData.TinyOptions();
        options.SelfTrainingLearningRate = 1e9f;
        options.MaxIterations = 100;
        var messages = new List<string>();
        ml.Log += (_, e) => messages.Add(e.Message);
        using var model = ml.Transforms.DeepCluster(options).Fit(data);

        Assert.Contains(model.History.StopReason, new[] { SelfTrainingStopReason.Diverged, SelfTrainingStopReason.Degenerate });
        Assert.Contains(messages, m => m.Contains("Warning") && m.Contains("restoring"));
        Assert.All(model.Centroids.SelectMany(c => c), v => Assert.True(float.IsFinite(v)));
        var scores = TestData.Column(model.Transform(data), "Score");
        Assert.All(scores.SelectMany(s => s), v => Assert.True(float.IsFinite(v)));
        Assert.Equal(300, model.History.ClusterSizes.Sum());
    }

    /// <summary>8 clusters for 300 digits and a learning rate 100× DEC's: self-training that empties clusters.</summary>
    private static DeepClusterOptions CollapseProneOptions()
    {
        var options = TestData.TinyOptions();
        options.NumberOfClusters = 8;
        options.SelfTrainingLearningRate = 1f;
        return options;
    }

    [Fact]
    public void ACollapsingClusterStopsTrainingAtTheLastUpdateWhereEveryClusterHadRows()
    {
        // By step 20 two clusters have lost all their rows (measured with this seed; the run is deterministic).
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Mnist(ml, 300));
        var options = CollapseProneOptions();
        options.MaxIterations = 200;
        var messages = new List<string>();
        ml.Log += (_, e) => messages.Add(e.Message);
        using var model = ml.Transforms.DeepCluster(options).Fit(data);

        var history = model.History;
        Assert.Equal(SelfTrainingStopReason.Degenerate, history.StopReason);
        Assert.True(history.SelfTrainingUpdates[^1].EmptyClusters > 0);
        Assert.Equal(0, history.SelfTrainingUpdates[^1].SmallestClusterSize);
        Assert.All(history.SelfTrainingUpdates.SkipLast(1), u => Assert.Equal(0, u.EmptyClusters));
        Assert.Contains(messages, m => m.Contains("lost all their rows"));
        // The model handed out is the restored one: every cluster still has training rows, and it scores finitely.
        Assert.All(history.ClusterSizes, size => Assert.True(size > 0, "sizes " + string.Join(",", history.ClusterSizes)));
        var ids = TestData.KeyColumn(model.Transform(data), "PredictedClusterId");
        Assert.Equal(8, ids.Distinct().Count());
    }

    [Fact]
    public void TheCapGetsATargetUpdateOfItsOwnEvenBetweenRegularOnes()
    {
        // The step cap (60) falls before the first regular target update (1,000): training still ends with an update
        // at the cap, which runs the collapse check on the model handed out and counts its labels for the history.
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Mnist(ml, 300));
        var options = CollapseProneOptions();
        options.UpdateInterval = 1000;
        options.MaxIterations = 60;
        using var model = ml.Transforms.DeepCluster(options).Fit(data);

        var history = model.History;
        Assert.Equal(new[] { 0, 60 }, history.SelfTrainingUpdates.Select(u => u.Step));
        Assert.Equal(SelfTrainingStopReason.MaxIterations, history.StopReason);
        // The labels changed a lot in 60 steps at this learning rate: the sizes are those of the final model.
        Assert.True(history.SelfTrainingUpdates[^1].LabelChangeFraction > 0.1);
        var ids = TestData.KeyColumn(model.Transform(data), "PredictedClusterId");
        var scored = Enumerable.Range(1, 8).Select(k => ids.Count(id => id == k)).ToArray();
        int differences = scored.Zip(history.ClusterSizes, (a, b) => Math.Abs(a - b)).Sum();
        Assert.True(differences <= 4, $"scored {string.Join(",", scored)} vs history {string.Join(",", history.ClusterSizes)}");
    }

    /// <summary>
    /// Centroids far from the origin (norm 100) in 10 dimensions: <paramref name="gap"/> is how far centroid 3 sits
    /// from centroid 1, the others 30 apart.
    /// </summary>
    private static float[][] CentroidsWithAGap(float gap)
    {
        var centroids = Enumerable.Range(0, 4).Select(i => Enumerable.Range(0, 10).Select(t => t == 0 ? 100f : t == i ? 30f : 0f).ToArray()).ToArray();
        centroids[3] = (float[])centroids[1].Clone();
        centroids[3][9] += gap;
        return centroids;
    }

    [Fact]
    public void CentroidsThatFloat32CannotTellApartAreNamedNotPassedToMlNet()
    {
        // 0.005 apart at norm ~104: ‖a − b‖² = 2.5e-5 against ‖a‖² + ‖b‖² ≈ 21,800. ML.NET's k-means++ computes that
        // distance in float32 as rounding noise and stops with its own "Not enough distinct instances".
        var near = CentroidsWithAGap(0.005f);
        Assert.Equal((1, 3), CentroidSeparation.IndistinctPair(near) is var (i, j, _, _) ? (i, j) : (-1, -1));
        var e = Assert.Throws<InvalidOperationException>(() => KMeansHead.Build(near, "Embedding"));
        Assert.Contains("Clusters 2 and 4 collapsed onto the same centroid", e.Message);
        Assert.Contains("fewer clusters", e.Message);

        // 2 apart (‖a − b‖² = 4, 1.8e-4 of the norms): ML.NET holds all four exactly, each matched to its own.
        var apart = CentroidsWithAGap(2f);
        Assert.Null(CentroidSeparation.IndistinctPair(apart));
        var (_, order) = KMeansHead.Build(apart, "Embedding");
        Assert.Equal(new[] { 0, 1, 2, 3 }, order.OrderBy(o => o));
    }

    [Fact]
    public void FewerDistinctRowsThanClustersIsRejected()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 40).Select(i => new DigitInput { Features = Enumerable.Repeat(i % 2 == 0 ? 0f : 1f, 784).ToArray() });
        var options = TestData.TinyOptions();
        options.NumberOfClusters = 3;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.DeepCluster(options).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("distinct rows (2)", e.Message);
        Assert.Contains("'Features'", e.Message);
    }

    [Fact]
    public void NativeTensorCountStaysFlatAcrossEpochsAndDoesNotGrowWithTheWorkDone()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Mnist(ml, 500));
        (List<long> PerEpoch, long Leftover) Train(int epochs, int steps)
        {
            var counts = new List<long>();
            var options = TestData.TinyOptions();
            options.PretrainEpochs = epochs;
            options.MaxIterations = steps;
            options.Progress = new SynchronousProgress<DeepClusterProgress>(p =>
            {
                if (p.Stage == DeepClusterStage.Pretraining)
                    counts.Add(Tensor.TotalCount);
            });
            // The counter is global and finalizers of unreachable tensors (here or from earlier tests) decrement it
            // whenever the GC runs them: settle them at both ends so that only this Fit is measured.
            Settle();
            long before = Tensor.TotalCount;
            using (ml.Transforms.DeepCluster(options).Fit(data)) { }
            Settle();
            return (counts, Tensor.TotalCount - before);
        }

        var shortRun = Train(3, 20);
        var longRun = Train(12, 80);
        // After the first epoch (the optimizer's state appears), not one live tensor more per epoch.
        Assert.True(longRun.PerEpoch.Skip(1).Distinct().Count() == 1, "live tensors per epoch: " + string.Join(", ", longRun.PerEpoch));
        // TorchSharp's counter never releases nn.Parameter objects (a disposed nn.Linear still counts 2), so a Fit
        // leaves its parameters counted; what matters is that four times the work leaves nothing more.
        Assert.Equal(shortRun.Leftover, longRun.Leftover);
        Assert.True(longRun.Leftover <= 9, $"{longRun.Leftover} tensors outlived Fit; the network has 8 parameters and the centroids 1");
    }

    private static void Settle()
    {
        for (int i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    [Fact]
    public async Task ALoadedModelGivesTheSameResultsFromPredictionEnginesOnSeveralThreads()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Mnist(ml, 200));
        string dir = TestData.NewTempDirectory();
        try
        {
            using (var fitted = ml.Transforms.DeepCluster(TestData.TinyOptions()).Fit(data))
                ml.Model.Save(fitted, data.Schema, Path.Combine(dir, "model.zip"));
            var loaded = ml.Model.Load(Path.Combine(dir, "model.zip"), out _);
            var rows = TestData.Column(data, "Features");
            uint[] Predict()
            {
                using var engine = ml.Model.CreatePredictionEngine<DigitInput, ClusterPrediction>(loaded, new PredictionEngineOptions { OwnsTransformer = false });
                return rows.Select(r => engine.Predict(new DigitInput { Features = r }).PredictedClusterId).ToArray();
            }
            var single = Predict();
            var parallel = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(Predict)));
            Assert.All(parallel, result => Assert.Equal(single, result));
            (loaded as IDisposable)?.Dispose();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void AtomicSaveNeverLeavesAHalfWrittenFile()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.Mnist(ml, 100);
        string dir = TestData.NewTempDirectory();
        try
        {
            string path = Path.Combine(dir, "model.zip");
            var model = ml.Transforms.DeepCluster(TestData.TinyOptions()).Fit(data);
            ml.Model.SaveAtomically(model, data.Schema, path);
            var good = File.ReadAllBytes(path);
            Assert.NotNull(ml.Model.Load(path, out _));

            // A save that fails half-way (here: the model was disposed) leaves the previous file untouched and no debris.
            model.Dispose();
            Assert.Throws<ObjectDisposedException>(() => ml.Model.SaveAtomically(model, data.Schema, path));
            Assert.Equal(good, File.ReadAllBytes(path));
            Assert.Equal(new[] { "model.zip" }, Directory.GetFiles(dir).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ACorruptZipFailsToLoadWithAnException()
    {
        string dir = TestData.NewTempDirectory();
        try
        {
            string path = Path.Combine(dir, "broken.zip");
            File.WriteAllBytes(path, new byte[] { 0x50, 0x4B, 0x03, 0x04, 1, 2, 3 });
            Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(path, out _));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
    /// <summary>
    /// LoadDeepClusterModel names the file and what is wrong with it: missing, cut short, not a zip, a zip that is not
    /// an ML.NET model, or an ML.NET model that is not a deep clustering one.
    /// </summary>
    [Fact]
    public void LoadDeepClusterModelNamesTheFileAndWhatIsWrong()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Mnist(ml, 100));
        string dir = TestData.NewTempDirectory();
        try
        {
            string good = Path.Combine(dir, "model.zip");
            using (var model = ml.Transforms.DeepCluster(TestData.TinyOptions()).Fit(data))
                ml.Model.Save(model, data.Schema, good);
            var bytes = File.ReadAllBytes(good);

            InvalidDataException Fails(string name, byte[] content)
            {
                string path = Path.Combine(dir, name);
                File.WriteAllBytes(path, content);
                var e = Assert.Throws<InvalidDataException>(() => ml.Model.LoadDeepClusterModel(path, out _));
                Assert.Contains(path, e.Message);
                return e;
            }
            Assert.Contains("cut short", Fails("truncated.zip", bytes[..(bytes.Length / 2)]).Message);
            Assert.Contains("cut short", Fails("text.zip", "not a model"u8.ToArray()).Message);
            Assert.Contains("not a complete .zip", Fails("empty.zip", Array.Empty<byte>()).Message);

            // A zip of something else: ML.NET's loader refuses it, and the message says which file.
            string other = Path.Combine(dir, "other.zip");
            using (var archive = System.IO.Compression.ZipFile.Open(other, System.IO.Compression.ZipArchiveMode.Create))
                using (var writer = new StreamWriter(archive.CreateEntry("readme.txt").Open()))
                    writer.Write("hello");
            var notModel = Assert.Throws<InvalidDataException>(() => ml.Model.LoadDeepClusterModel(other, out _));
            Assert.Contains(other, notModel.Message);
            Assert.Contains("cannot load it as a model", notModel.Message);

            // An ML.NET model, but not ours.
            string normalizer = Path.Combine(dir, "normalizer.zip");
            ml.Model.Save(ml.Transforms.NormalizeMinMax("Features").Fit(data), data.Schema, normalizer);
            var notOurs = Assert.Throws<InvalidDataException>(() => ml.Model.LoadDeepClusterModel(normalizer, out _));
            Assert.Contains(normalizer, notOurs.Message);
            Assert.Contains("not a deep clustering model", notOurs.Message);
            Assert.Contains("NormalizingTransformer", notOurs.Message);

            string missing = Path.Combine(dir, "missing.zip");
            Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => ml.Model.LoadDeepClusterModel(missing, out _)).Message);

            // The good file still loads.
            using var loaded = (IDisposable)ml.Model.LoadDeepClusterModel(good, out _);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
    /// <summary>A save that runs out of disk half-way (simulated) leaves the earlier model file as it was, and no debris.</summary>
    [Fact]
    public void ASaveThatRunsOutOfDiskLeavesTheEarlierModelIntact()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Mnist(ml, 100));
        string dir = TestData.NewTempDirectory();
        try
        {
            string path = Path.Combine(dir, "model.zip");
            using var first = ml.Transforms.DeepCluster(TestData.TinyOptions()).Fit(data);
            ml.Model.SaveAtomically(first, data.Schema, path);
            var good = File.ReadAllBytes(path);

            var options = TestData.TinyOptions();
            options.Seed = 2;
            using var second = ml.Transforms.DeepCluster(options).Fit(data);
            DeepClusterModelOperations.WrapSaveStream.Value = stream => new FullDiskStream(stream, good.Length / 3);
            try
            {
                var e = Assert.ThrowsAny<IOException>(() => ml.Model.SaveAtomically(second, data.Schema, path));
                Assert.Contains("No space left on device", e.ToString());
            }
            finally
            {
                DeepClusterModelOperations.WrapSaveStream.Value = null;
            }
            Assert.Equal(good, File.ReadAllBytes(path));
            Assert.Equal(new[] { "model.zip" }, Directory.GetFiles(dir).Select(Path.GetFileName));
            using var loaded = (IDisposable)ml.Model.LoadDeepClusterModel(path, out _);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// A transform before DeepCluster that throws on row 9,000 of 10,000: Fit fails naming the column and the row, with
    /// the transform's own message, and has written nothing (no checkpoint, no model file).
    /// </summary>
    [Fact]
    public void AnUpstreamTransformThatThrowsOnARowIsNamedAndNothingIsWritten()
    {
        string dir = TestData.NewTempDirectory();
        try
        {
            var ml = new MLContext(seed: 1) { TempFilePath = Path.Combine(dir, "tmp") };
            Directory.CreateDirectory(ml.TempFilePath);
            var rows = Enumerable.Range(0, 10_000).Select(i => new IndexedRow { Index = i, Raw = [i % 3, 1, 2, 3] });
            var pipeline = ml.Transforms.CustomMapping<IndexedRow, MappedRow>((input, output) =>
            {
                if (input.Index == 9_000)
                    throw new FormatException("cannot parse record 9000");
                output.Features = input.Raw;
            }, contractName: null);
            var options = TestData.TinyOptions();
            options.HiddenLayers = [8];
            options.EmbeddingDimension = 2;
            options.CheckpointPath = Path.Combine(dir, "run.ckpt");
            var e = Assert.Throws<InvalidOperationException>(() => pipeline.Append(ml.Transforms.DeepCluster(options)).Fit(ml.Data.LoadFromEnumerable(rows)));
            Assert.Contains("column 'Features'", e.Message);
            Assert.True(e.Message.Contains("at row 9000 (counting from 0)"), e.Message);
            Assert.Contains("cannot parse record 9000", e.Message);
            Assert.Contains("nothing was trained or written", e.Message);
            Assert.False(File.Exists(options.CheckpointPath));
            Assert.Empty(Directory.GetFileSystemEntries(ml.TempFilePath));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed class IndexedRow
    {
        public int Index { get; set; }
        [VectorType(4)] public float[] Raw { get; set; } = [];
    }

    private sealed class MappedRow
    {
        [VectorType(4)] public float[] Features { get; set; } = [];
    }
}
