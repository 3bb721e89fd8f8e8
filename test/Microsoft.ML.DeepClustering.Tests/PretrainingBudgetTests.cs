using Microsoft.ML;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>Pretraining's budget in samples seen (<see cref="DeepClusterOptions.PretrainSamples"/>) against its budget in epochs.</summary>
public class PretrainingBudgetTests
{
    [Fact]
    public void ASampleBudgetRunsTheEpochsItCoversAndGivesTheSameModelAsThoseEpochs()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Mnist(ml, 300));
        var byEpochs = TestData.TinyOptions();
        byEpochs.PretrainEpochs = 3;
        var bySamples = TestData.TinyOptions();
        bySamples.PretrainEpochs = 50;       // not used: the sample budget wins
        bySamples.PretrainSamples = 700;     // ⌈700 / 300⌉ = 3 epochs
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("Pretraining budget")) lock (log) log.Add(e.Message); };

        using var epochs = ml.Transforms.DeepCluster(byEpochs).Fit(data);
        using var samples = ml.Transforms.DeepCluster(bySamples).Fit(data);

        Assert.Equal(3, samples.History.PretrainLosses.Count);
        Assert.Equal(epochs.History.PretrainLosses, samples.History.PretrainLosses);
        Assert.Equal(epochs.History.FinalAssignments, samples.History.FinalAssignments);
        Assert.Contains(log, line => line.Contains("PretrainSamples = 700 on 300 rows, 3 epoch(s)"));
    }

    [Theory]
    [InlineData(1, 300, 1)]
    [InlineData(300, 300, 1)]
    [InlineData(301, 300, 2)]
    [InlineData(1_600_000, 10_000, 160)]
    [InlineData(1_600_000, 1_000_000, 2)]
    public void TheEpochsAreTheSamplesOverTheRowsRoundedUp(long samples, long rows, int expected)
    {
        var options = new DeepClusterOptions { PretrainEpochs = 7, PretrainSamples = samples };
        Assert.Equal(expected, Training.Pretraining.Epochs(options, rows));
        Assert.Equal(7, Training.Pretraining.Epochs(new DeepClusterOptions { PretrainEpochs = 7 }, rows));
    }

    [Theory]
    [InlineData(1_000, 300, 4)]          // ⌈1,000 / 300⌉ = 4 epochs, fewer than the 7 asked
    [InlineData(10_000, 300, 7)]         // ⌈10,000 / 300⌉ = 34: the 7 epochs decide
    [InlineData(10, 300, 1)]             // at least one epoch
    public void MaxPretrainSamplesBoundsTheEpochsButNotAnExplicitBudget(long bound, long rows, int expected)
    {
        Assert.Equal(expected, Training.Pretraining.Epochs(new DeepClusterOptions { PretrainEpochs = 7, MaxPretrainSamples = bound }, rows));
        // An explicit sample budget is what the user asked for: the bound does not cut it.
        Assert.Equal(10, Training.Pretraining.Epochs(new DeepClusterOptions { PretrainEpochs = 7, PretrainSamples = 3_000, MaxPretrainSamples = bound }, rows));
    }

    [Theory]
    [InlineData(10_000, 160)]            // MNIST-test and Fashion-MNIST-test: as measured
    [InlineData(70_000, 160)]            // all of Fashion-MNIST or MNIST: as measured
    [InlineData(1_000_000, 12)]          // a million rows: 11.2M samples, not 160M
    public void RecommendedRunsItsMeasuredEpochsUpToSeventyThousandRowsAndNoMoreSamplesAbove(long rows, int expected) =>
        Assert.Equal(expected, Training.Pretraining.Epochs(DeepClusterPresets.Recommended(), rows));

    [Fact]
    public void TheBoundLogsTheEpochsItLeaves()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Mnist(ml, 300));
        var bounded = TestData.TinyOptions();
        bounded.PretrainEpochs = 5;
        bounded.MaxPretrainSamples = 500;   // ⌈500 / 300⌉ = 2 epochs
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("Pretraining budget")) lock (log) log.Add(e.Message); };
        using var model = ml.Transforms.DeepCluster(bounded).Fit(data);
        Assert.Equal(2, model.History.PretrainLosses.Count);
        Assert.Contains(log, line => line.Contains("2 epoch(s) instead of PretrainEpochs = 5") && line.Contains("MaxPretrainSamples = 500"));
    }

    [Fact]
    public void ANegativeBoundIsRefusedNamingTheOption()
    {
        var options = TestData.TinyOptions();
        options.MaxPretrainSamples = -1;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext(seed: 1).Transforms.DeepCluster(options).Fit(TestData.Mnist(new MLContext(seed: 1), 50)));
        Assert.Contains("MaxPretrainSamples", error.Message);
    }

    [Fact]
    public void ANegativeSampleBudgetIsRefusedNamingTheOption()
    {
        var ml = new MLContext(seed: 1);
        var options = TestData.TinyOptions();
        options.PretrainSamples = -5;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.DeepCluster(options).Fit(TestData.Mnist(ml, 50)));
        Assert.Contains("PretrainSamples", error.Message);
        Assert.Contains("-5", error.Message);
    }
}
