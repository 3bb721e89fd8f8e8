using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Tests;

[Collection(SmallModelCollection.Name)]
public class SaveLoadTests(SmallModelFixture fixture)
{
    private sealed class DigitInput
    {
        [VectorType(784)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    private sealed class ClusterPrediction
    {
        [KeyType(10)] public uint PredictedClusterId { get; set; }
        public float[] Score { get; set; } = Array.Empty<float>();
        public float[] SoftAssignment { get; set; } = Array.Empty<float>();
        public float[] Embedding { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void SavedModelLoadsInAFreshContextWithIdenticalSchemaAndOutputs() => fixture.AssertSavedModelScoresAsFitted();

    /// <summary>
    /// LoadDeepClusterModel gives the plain Load's schema and cluster ids, scores through the batched view, and its
    /// values are the fitted transformer's (the same graph on the same batches).
    /// </summary>
    [Fact]
    public void LoadDeepClusterModelScoresInBatchesAsTheFittedModelDoes()
    {
        var dir = TestData.NewTempDirectory();
        try
        {
            string path = Path.Combine(dir, "model.zip");
            fixture.MLContext.Model.Save(fixture.Model, fixture.Data.Schema, path);
            var ml = new MLContext();
            var plain = ml.Model.Load(path, out var plainSchema);
            var batched = ml.Model.LoadDeepClusterModel(path, out var inputSchema);
            Assert.Equal(plainSchema["Features"].Type, inputSchema["Features"].Type);

            var scored = batched.Transform(fixture.Data);
            Assert.IsType<Scoring.BatchedScoringDataView>(scored);
            var reference = plain.Transform(fixture.Data);
            Assert.Equal(reference.Schema.Select(c => (c.Name, c.Type, c.IsHidden)), scored.Schema.Select(c => (c.Name, c.Type, c.IsHidden)));
            Assert.Equal(TestData.KeyColumn(reference, "PredictedClusterId"), TestData.KeyColumn(scored, "PredictedClusterId"));
            var fitted = fixture.Model.Transform(fixture.Data);
            foreach (var name in new[] { "Score", "SoftAssignment", "Embedding" })
            {
                Assert.Equal(TestData.Column(fitted, name), TestData.Column(scored, name));
                TestData.AssertEqualUpToFloatRounding(TestData.Column(reference, name), TestData.Column(scored, name), name);
            }

            // It saves back to a .zip that both loads read.
            string again = Path.Combine(dir, "again.zip");
            ml.Model.Save(batched, inputSchema, again);
            using (var reloaded = (IDisposable)ml.Model.LoadDeepClusterModel(again, out _))
                Assert.Equal(TestData.KeyColumn(reference, "PredictedClusterId"), TestData.KeyColumn(((ITransformer)reloaded).Transform(fixture.Data), "PredictedClusterId"));
            ((IDisposable)batched).Dispose();
            (plain as IDisposable)?.Dispose();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>One PredictionEngine per thread, 8 threads, over the model LoadDeepClusterModel returns: the single-threaded ids, and bulk Transform's.</summary>
    [Fact]
    public async Task LoadDeepClusterModelServesPredictionEnginesOnEightThreads()
    {
        var dir = TestData.NewTempDirectory();
        try
        {
            string path = Path.Combine(dir, "model.zip");
            fixture.MLContext.Model.Save(fixture.Model, fixture.Data.Schema, path);
            var ml = new MLContext();
            var loaded = ml.Model.LoadDeepClusterModel(path, out _);
            var rows = TestData.Column(fixture.Data, "Features").Take(150).ToArray();
            uint[] Predict()
            {
                using var engine = ml.Model.CreatePredictionEngine<DigitInput, ClusterPrediction>(loaded, new PredictionEngineOptions { OwnsTransformer = false });
                return rows.Select(r => engine.Predict(new DigitInput { Features = r }).PredictedClusterId).ToArray();
            }
            var single = Predict();
            Assert.Equal(TestData.KeyColumn(loaded.Transform(fixture.Data), "PredictedClusterId").Take(rows.Length), single);
            var parallel = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(Predict)));
            Assert.All(parallel, ids => Assert.Equal(single, ids));
            ((IDisposable)loaded).Dispose();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A featurizer in front of DeepCluster stays in front: its steps run as saved, then the batched scorer.</summary>
    [Fact]
    public void LoadDeepClusterModelKeepsAFeaturizerInFront()
    {
        var dir = TestData.NewTempDirectory();
        try
        {
            var ml = new MLContext(seed: 1);
            var data = ml.Data.Cache(TestData.Mnist(ml, 200));
            string path = Path.Combine(dir, "pipeline.zip");
            using (var fitted = ml.Transforms.NormalizeMinMax("Features").Append(ml.Transforms.DeepCluster(TestData.TinyOptions())).Fit(data))
                ml.Model.Save(fitted, data.Schema, path);
            var plain = ml.Model.Load(path, out _);
            using var batched = (IDisposable)ml.Model.LoadDeepClusterModel(path, out _);
            var scored = ((ITransformer)batched).Transform(data);
            Assert.IsType<Scoring.BatchedScoringDataView>(scored);
            Assert.Equal(TestData.KeyColumn(plain.Transform(data), "PredictedClusterId"), TestData.KeyColumn(scored, "PredictedClusterId"));
            (plain as IDisposable)?.Dispose();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void PredictionEngineWorksOnTheFittedAndTheLoadedModel()
    {
        var dir = TestData.NewTempDirectory();
        try
        {
            string path = Path.Combine(dir, "model.zip");
            fixture.MLContext.Model.Save(fixture.Model, fixture.Data.Schema, path);
            var loaded = new MLContext().Model.Load(path, out _);

            var rows = TestData.Column(fixture.Data, "Features").Take(20).ToArray();
            var expected = TestData.KeyColumn(fixture.Model.Transform(fixture.Data), "PredictedClusterId").Take(20).ToArray();
            // As with ML.NET's own models, a PredictionEngine owns (and disposes) its transformer unless told otherwise.
            using var fitted = fixture.MLContext.Model.CreatePredictionEngine<DigitInput, ClusterPrediction>(
                fixture.Model, new PredictionEngineOptions { OwnsTransformer = false });
            using var reloaded = fixture.MLContext.Model.CreatePredictionEngine<DigitInput, ClusterPrediction>(loaded);
            for (int i = 0; i < rows.Length; i++)
            {
                var a = fitted.Predict(new DigitInput { Features = rows[i] });
                var b = reloaded.Predict(new DigitInput { Features = rows[i] });
                Assert.Equal(expected[i], a.PredictedClusterId);
                Assert.Equal(a.PredictedClusterId, b.PredictedClusterId);
                Assert.Equal(a.Score, b.Score);
                Assert.InRange(a.PredictedClusterId, 1u, 10u);
                Assert.Equal(10, a.Score.Length);
                // The cluster id is the nearest centroid, and q sums to 1.
                Assert.Equal(Array.IndexOf(a.Score, a.Score.Min()) + 1, (int)a.PredictedClusterId);
                Assert.Equal(1.0, a.SoftAssignment.Sum(), 4);
                Assert.Equal(10, a.Embedding.Length);
            }
            (loaded as IDisposable)?.Dispose();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void SavedModelLoadsInASeparateProcessThatDoesNotReferenceTheLibrary()
    {
        var dir = TestData.NewTempDirectory();
        try
        {
            string path = Path.Combine(dir, "model.zip");
            fixture.MLContext.Model.Save(fixture.Model, fixture.Data.Schema, path);
            var rows = TestData.Column(fixture.Data, "Features").Take(25).ToArray();
            string features = Path.Combine(dir, "features.bin");
            File.WriteAllBytes(features, rows.SelectMany(r => r).SelectMany(BitConverter.GetBytes).ToArray());

            var lines = TestData.RunModelLoadProbe(new[] { path, features, rows.Length.ToString(CultureInfo.InvariantCulture), "784" });
            Assert.Equal(rows.Length, lines.Length);
            // Cluster ids as Transform gives them; Score exactly as the fitted chain (what was saved) gives it.
            var ids = TestData.KeyColumn(fixture.Model.Transform(fixture.Data), "PredictedClusterId");
            var scores = TestData.Column(fixture.Model.TransformThroughChain(fixture.Data), "Score");
            for (int i = 0; i < rows.Length; i++)
            {
                var parts = lines[i].Split(' ');
                Assert.Equal(ids[i], uint.Parse(parts[0], CultureInfo.InvariantCulture));
                Assert.Equal(scores[i], parts.Skip(1).Select(p => float.Parse(p, CultureInfo.InvariantCulture)).ToArray());
            }
            Assert.DoesNotContain("DeepCluster", Directory.GetFiles(AppContext.BaseDirectory, "ModelLoadProbe.deps.json").Select(File.ReadAllText).Single());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ClusteringEvaluateWorksOnTheOutput()
    {
        var scored = fixture.Model.Transform(fixture.Data);
        var metrics = fixture.MLContext.Clustering.Evaluate(scored, labelColumnName: "Label", scoreColumnName: "Score", featureColumnName: "Embedding");
        Assert.InRange(metrics.NormalizedMutualInformation, 0.2, 1.0);
        Assert.True(metrics.AverageDistance > 0);
        Assert.True(double.IsFinite(metrics.DaviesBouldinIndex) && metrics.DaviesBouldinIndex > 0);

        var ours = ClusteringQuality.Evaluate(scored, "Label", "PredictedClusterId");
        Assert.InRange(ours.Accuracy, 0.3, 1.0);
        Assert.Equal(1000, ours.NumberOfSamples);
    }
}
