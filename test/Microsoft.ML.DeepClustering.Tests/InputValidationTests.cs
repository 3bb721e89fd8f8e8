using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>Bad input fails at once with a message naming the column or option, what was expected and what was found.</summary>
public class InputValidationTests
{
    private static readonly MLContext Ml = new(seed: 1);

    private sealed class TextRow { public string Features { get; set; } = ""; }
    private sealed class DoubleRow { [VectorType(4)] public double[] Features { get; set; } = Array.Empty<double>(); }
    private sealed class VariableRow { public float[] Features { get; set; } = Array.Empty<float>(); }
    private sealed class FloatRow { [VectorType(4)] public float[] Features { get; set; } = Array.Empty<float>(); }

    /// <summary>
    /// Smaller still than <see cref="TestData.TinyOptions"/>, for four-row inputs: a 2-d embedding, one epoch, no
    /// self-training. These tests are about what is rejected, not about what trains.
    /// </summary>
    private static DeepClusterOptions Minimal(int k = 2) => new()
    {
        NumberOfClusters = k, HiddenLayers = new[] { 3 }, EmbeddingDimension = 2, PretrainEpochs = 1,
        KMeansInitializations = 1, MaxIterations = 0, Seed = 1,
    };

    private static IDataView Floats(params float[][] rows) =>
        Ml.Data.LoadFromEnumerable(rows.Select(r => new FloatRow { Features = r }));

    private static IDataView FourRows() => Floats(new[] { 0f, 0, 0, 1 }, new[] { 1f, 0, 0, 0 }, new[] { 0f, 1, 0, 0 }, new[] { 0f, 0, 1, 0 });

    [Fact]
    public void MissingColumnIsNamedWithTheAvailableOnes()
    {
        var options = Minimal();
        options.FeatureColumnName = "Pixels";
        var e = Assert.ThrowsAny<ArgumentException>(() => Ml.Transforms.DeepCluster(options).Fit(FourRows()));
        Assert.Contains("'Pixels'", e.Message);
        Assert.Contains("not found", e.Message);
        Assert.Contains("'Features'", e.Message);
    }

    [Fact]
    public void TextColumnIsRejectedWithItsType()
    {
        var data = Ml.Data.LoadFromEnumerable(new[] { new TextRow { Features = "a" }, new TextRow { Features = "b" } });
        var e = Assert.ThrowsAny<ArgumentException>(() => Ml.Transforms.DeepCluster(Minimal()).Fit(data));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("known-size vector of Single", e.Message);
        Assert.Contains("found String", e.Message);
    }

    [Fact]
    public void DoubleVectorIsRejectedWithItsType()
    {
        var data = Ml.Data.LoadFromEnumerable(new[] { new DoubleRow { Features = new double[4] } });
        var e = Assert.ThrowsAny<ArgumentException>(() => Ml.Transforms.DeepCluster(Minimal()).Fit(data));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("Vector<Double, 4>", e.Message);
    }

    [Fact]
    public void VectorOfUnknownSizeIsRejected()
    {
        var data = Ml.Data.LoadFromEnumerable(new[] { new VariableRow { Features = new float[4] } });
        var e = Assert.ThrowsAny<ArgumentException>(() => Ml.Transforms.DeepCluster(Minimal()).Fit(data));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("unknown size", e.Message);
        Assert.Contains("ResizeImages", e.Message);
    }

    /// <summary>A variable-length vector column is refused when scoring too: by the fitted model and by LoadDeepClusterModel's.</summary>
    [Fact]
    public void VectorOfUnknownSizeIsRejectedWhenScoring()
    {
        var rows = Enumerable.Range(0, 30).Select(i => new FloatRow { Features = [i % 3, (i % 3) * 2, 1, (float)Math.Sin(i)] }).ToArray();
        var data = Ml.Data.LoadFromEnumerable(rows);
        var options = Minimal();
        options.MaxIterations = 0;
        using var model = Ml.Transforms.DeepCluster(options).Fit(data);
        var variable = Ml.Data.LoadFromEnumerable(rows.Select(r => new VariableRow { Features = r.Features }));
        var e = Assert.ThrowsAny<ArgumentException>(() => model.Transform(variable));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("unknown size", e.Message);

        string dir = TestData.NewTempDirectory();
        try
        {
            string path = Path.Combine(dir, "model.zip");
            Ml.Model.Save(model, data.Schema, path);
            using var loaded = (IDisposable)Ml.Model.LoadDeepClusterModel(path, out _);
            e = Assert.ThrowsAny<ArgumentException>(() => ((ITransformer)loaded).Transform(variable));
            Assert.Contains("'Features'", e.Message);
            Assert.Contains("unknown size", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void EstimatorSchemaCheckRejectsTheSameColumns()
    {
        var data = Ml.Data.LoadFromEnumerable(new[] { new DoubleRow { Features = new double[4] } });
        var e = Assert.ThrowsAny<ArgumentException>(() => Ml.Transforms.DeepCluster(Minimal()).GetOutputSchema(TestData.Shape(data.Schema)));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("Double", e.Message);
    }

    // 0 is not among them: it asks Fit to choose K (ChoosingKTests).
    [Theory]
    [InlineData(1)]
    [InlineData(-3)]
    public void FewerThanTwoClustersIsRejectedAtOnce(int k)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ml.Transforms.DeepCluster(Minimal(k)));
        Assert.Equal("NumberOfClusters", e.ParamName);
        Assert.Contains("at least 2", e.Message);
        Assert.Contains($"found {k}", e.Message);
    }

    [Fact]
    public void MoreClustersThanRowsIsRejected()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ml.Transforms.DeepCluster(Minimal(5)).Fit(FourRows()));
        Assert.Contains("NumberOfClusters (5)", e.Message);
        Assert.Contains("4", e.Message);
        Assert.Contains("'Features'", e.Message);
    }

    [Fact]
    public void EmptyDataIsRejected()
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => Ml.Transforms.DeepCluster(Minimal()).Fit(Floats()));
        Assert.Contains("empty", e.Message);
        Assert.Contains("'Features'", e.Message);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void NonFiniteFeatureNamesTheRowAndSlot(float bad)
    {
        var data = Floats(new[] { 0f, 0, 0, 1 }, new[] { 1f, 0, 0, 0 }, new[] { 0f, 1, bad, 0 }, new[] { 0f, 0, 1, 0 });
        var e = Assert.Throws<InvalidOperationException>(() => Ml.Transforms.DeepCluster(Minimal()).Fit(data));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("row 2", e.Message);
        Assert.Contains("slot 2", e.Message);
        Assert.Contains(bad.ToString(), e.Message);
    }

    [Fact]
    public void EmbeddingLargerThanTheInputIsRejected()
    {
        var options = Minimal();
        options.EmbeddingDimension = 5;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ml.Transforms.DeepCluster(options).Fit(FourRows()));
        Assert.Equal("EmbeddingDimension", e.ParamName);
        Assert.Contains("(4)", e.Message);
    }

    public static TheoryData<string, Action<DeepClusterOptions>> BadOptions => new()
    {
        { "PretrainEpochs", o => o.PretrainEpochs = -1 },
        { "BatchSize", o => o.BatchSize = 0 },
        { "PretrainLearningRate", o => o.PretrainLearningRate = 0 },
        { "PretrainLearningRate", o => o.PretrainLearningRate = float.NaN },
        { "KMeansInitializations", o => o.KMeansInitializations = 0 },
        { "UpdateInterval", o => o.UpdateInterval = 0 },
        { "Tolerance", o => o.Tolerance = 1.5f },
        { "MaxIterations", o => o.MaxIterations = -1 },
        { "SelfTrainingLearningRate", o => o.SelfTrainingLearningRate = -0.1f },
        { "SelfTrainingMomentum", o => o.SelfTrainingMomentum = 1f },
        { "PretrainOptimizer", o => o.PretrainOptimizer = (PretrainingOptimizer)9 },
        { "Seeding", o => o.Seeding = (SeedingMethod)(-1) },
        { "SpectralEigenvectors", o => o.SpectralEigenvectors = -1 },
        { "UmapNeighbors", o => o.UmapNeighbors = 1 },
        { "UmapDimensions", o => o.UmapDimensions = 0 },
        { "UmapEpochs", o => o.UmapEpochs = -1 },
        { "SeedingPartitionSteps", o => o.SeedingPartitionSteps = -1 },
        { "AugmentationHorizontalFlips", o => o.AugmentationHorizontalFlips = true },
        { "SelfTrainingOptimizer", o => o.SelfTrainingOptimizer = (SelfTrainingOptimizer)2 },
        { "SelfTrainingLearningRateSchedule", o => o.SelfTrainingLearningRateSchedule = (LearningRateSchedule)2 },
        { "Precision", o => o.Precision = (TrainingPrecision)3 },
        { "PretrainMomentum", o => o.PretrainMomentum = -0.5f },
        { "Alpha", o => o.Alpha = 0 },
        { "EmbeddingDimension", o => o.EmbeddingDimension = 0 },
        { "HiddenLayers", o => o.HiddenLayers = new[] { 10, 0 } },
        { "NumberOfThreads", o => o.NumberOfThreads = 0 },
        { "FeatureColumnName", o => o.FeatureColumnName = " " },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void BadOptionsAreRejectedWhenTheEstimatorIsCreated(string option, Action<DeepClusterOptions> spoil)
    {
        var options = Minimal();
        spoil(options);
        var e = Assert.ThrowsAny<ArgumentException>(() => Ml.Transforms.DeepCluster(options));
        Assert.Equal(option, e.ParamName);
        Assert.Contains(option, e.Message);
        Assert.Contains("found", e.Message);
    }

    [Fact]
    public void DuplicateOutputNamesAreRejected()
    {
        var options = Minimal();
        options.ScoreColumnName = "Embedding";
        var e = Assert.ThrowsAny<ArgumentException>(() => Ml.Transforms.DeepCluster(options));
        Assert.Contains("must differ", e.Message);
    }

    [Fact]
    public void FittedModelRejectsAVectorOfAnotherSize()
    {
        using var model = Ml.Transforms.DeepCluster(Minimal()).Fit(FourRows());
        var threeWide = Ml.Data.LoadFromEnumerable(new[] { new ThreeRow() });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(threeWide));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("4", e.Message);
        Assert.Contains("found 3", e.Message);
    }

    private sealed class Prediction
    {
        public uint PredictedClusterId { get; set; }
    }

    [Fact]
    public void NonFiniteFeaturesAreReportedWhenScoringToo()
    {
        using var model = Ml.Transforms.DeepCluster(Minimal()).Fit(FourRows());
        var bad = Floats(new[] { 0f, 0, 0, 1 }, new[] { 1f, 0, 0, 0 }, new[] { 0f, float.NaN, 0, 0 });
        var thrown = Assert.ThrowsAny<InvalidOperationException>(() => model.Transform(bad).GetColumn<uint>("PredictedClusterId").ToArray());
        // ML.NET's parallel cursors wrap a worker's exception ("Splitter/consolidator worker encountered ..."): ours is inside.
        var e = Chain(thrown).First(x => x.Message.Contains("'Features'"));
        Assert.Contains("row 2", e.Message);
        Assert.Contains("slot 1", e.Message);

        using var engine = Ml.Model.CreatePredictionEngine<FloatRow, Prediction>(model, new PredictionEngineOptions { OwnsTransformer = false });
        Assert.InRange(engine.Predict(new FloatRow { Features = new[] { 0f, 0, 0, 1 } }).PredictedClusterId, 1u, 2u);
        var single = Assert.Throws<InvalidOperationException>(() => engine.Predict(new FloatRow { Features = new[] { 0f, 0, float.PositiveInfinity, 0 } }));
        Assert.Contains("slot 2", single.Message);
        Assert.Contains("Infinity", single.Message);

        // A model from LoadDeepClusterModel checks as the fitted one does.
        string dir = TestData.NewTempDirectory();
        try
        {
            string path = Path.Combine(dir, "model.zip");
            Ml.Model.Save(model, FourRows().Schema, path);
            using var loaded = (IDisposable)Ml.Model.LoadDeepClusterModel(path, out _);
            thrown = Assert.ThrowsAny<InvalidOperationException>(() => ((ITransformer)loaded).Transform(bad).GetColumn<uint>("PredictedClusterId").ToArray());
            e = Chain(thrown).First(x => x.Message.Contains("'Features'"));
            Assert.Contains("row 2", e.Message);
            Assert.Contains("slot 1", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            yield return x;
    }

    private sealed class ThreeRow { [VectorType(3)] public float[] Features { get; set; } = new float[3]; }

    [Fact]
    public void OptionsAreCopiedSoLaterChangesDoNotReachTheEstimator()
    {
        var options = Minimal();
        var estimator = Ml.Transforms.DeepCluster(options);
        options.NumberOfClusters = 1;
        options.HiddenLayers[0] = -5;
        Assert.Equal(2, estimator.Options.NumberOfClusters);
        Assert.Equal(3, estimator.Options.HiddenLayers[0]);
    }
}
