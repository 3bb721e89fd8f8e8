using Microsoft.ML.DeepClustering.Seeding;
using Microsoft.ML.DeepClustering.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>
/// The safeguard judges self-training by the silhouette of its partition in the pretrained embedding, against the
/// seeding's, and with <see cref="SelfTrainingSafeguard.KeepBetter"/> hands out the seeding's model when it is clearly worse.
/// </summary>
public class SelfTrainingSafeguardTests
{
    [Fact]
    public void APartitionThatIgnoresTheBlobsIsClearlyWorseAndAFewMovedRowsAreNot()
    {
        // Three blobs in 2-d, 60 rows each: the true partition has a silhouette near 1; shuffled labels near 0.
        using var scope = NewDisposeScope();
        var random = new Random(5);
        var truth = Enumerable.Range(0, 180).Select(i => i % 3).ToArray();
        var points = truth.SelectMany(c => new[] { (float)(c * 10 + random.NextDouble()), (float)random.NextDouble() }).ToArray();
        var z = tensor(points, new long[] { 180, 2 });
        var x = z * 3;   // the input: here the same geometry, scaled
        var sample = Enumerable.Range(0, 180).ToArray();

        var shuffled = truth.OrderBy(_ => random.Next()).ToArray();
        var shuffledScores = Safeguard.Measure(z, TrainingRows.Resident(x), truth, shuffled, 3, sample);
        Assert.True(shuffledScores.SeedingInEmbedding > 0.9, $"{shuffledScores}");
        Assert.True(Math.Abs(shuffledScores.FinalInEmbedding) < 0.1, $"{shuffledScores}");
        Assert.Equal(shuffledScores.SeedingInEmbedding, shuffledScores.SeedingInInput, 4);   // silhouettes ignore scale
        Assert.True(Safeguard.IsClearlyWorse(shuffledScores, 0.05));

        var twoMoved = (int[])truth.Clone();
        twoMoved[0] = 1;
        twoMoved[1] = 2;
        var movedScores = Safeguard.Measure(z, TrainingRows.Resident(x), truth, twoMoved, 3, sample);
        Assert.True(movedScores.FinalInEmbedding < movedScores.SeedingInEmbedding);
        Assert.False(Safeguard.IsClearlyWorse(movedScores, 0.05), $"{movedScores}");
        // A negative margin prefers the seeding whatever happened.
        Assert.True(Safeguard.IsClearlyWorse(Safeguard.Measure(z, TrainingRows.Resident(x), truth, truth, 3, sample), -0.01));
    }

    [Fact]
    public void KeepBetterHandsOutTheSeedingsModelAndReportOnlySaysSo()
    {
        var ml = new MLContext(seed: 1);
        var data = TestData.Mnist(ml, 300);
        // A margin of −1 calls any self-training clearly worse, so both branches run on a tiny fit.
        var report = TestData.TinyOptions();
        report.SelfTrainingSafeguardMargin = -1;
        var keep = TestData.TinyOptions();
        keep.SelfTrainingSafeguardMargin = -1;
        keep.SelfTrainingSafeguard = SelfTrainingSafeguard.KeepBetter;
        var seedingOnly = TestData.TinyOptions();
        seedingOnly.MaxIterations = 0;

        using var reported = ml.Transforms.DeepCluster(report).Fit(data);
        using var kept = ml.Transforms.DeepCluster(keep).Fit(data);
        using var seeded = ml.Transforms.DeepCluster(seedingOnly).Fit(data);

        var reportVerdict = reported.History.SelfTrainingVerdict!;
        Assert.True(reportVerdict.FinalIsWorse);
        Assert.False(reportVerdict.KeptSeeding);
        var keptVerdict = kept.History.SelfTrainingVerdict!;
        Assert.True(keptVerdict.KeptSeeding);
        Assert.Equal(reportVerdict.FinalSilhouette, keptVerdict.FinalSilhouette);
        Assert.Null(seeded.History.SelfTrainingVerdict);

        // The kept model is the seeding's: the same embedding and centroids as the fit without self-training, and
        // every id a user sees agrees with the seeding's partition.
        TestData.AssertEqualUpToFloatRounding(seeded.Centroids.ToArray(), kept.Centroids.ToArray(), "centroids");
        TestData.AssertEqualUpToFloatRounding(TestData.Column(seeded.Transform(data), "Embedding"), TestData.Column(kept.Transform(data), "Embedding"), "embedding");
        Assert.Equal(kept.History.SeedingAssignments, kept.History.FinalAssignments);
        Assert.Equal(kept.History.FinalAssignments.Select(c => (uint)(c + 1)), TestData.KeyColumn(kept.Transform(data), "PredictedClusterId"));
        Assert.NotEqual(TestData.Column(reported.Transform(data), "Embedding"), TestData.Column(kept.Transform(data), "Embedding"));
    }

    [Fact]
    public void AfterAManifoldSeedingWhosePartitionIsTheFirstTargetThatPartitionIsJudged()
    {
        // The same pretraining and UMAP seeding three times: without self-training (for the pretrained embedding and the
        // centroids' cells), with DEC's P from the start, and with the seeding's partition as the first target.
        var ml = new MLContext(seed: 1);
        var data = TestData.Mnist(ml, 300);
        DeepClusterTransformer Fit(int maxIterations, int partitionSteps)
        {
            var options = TestData.TinyOptions();
            options.Seeding = SeedingMethod.Umap;
            options.MaxIterations = maxIterations;
            options.SeedingPartitionSteps = partitionSteps;
            return ml.Transforms.DeepCluster(options).Fit(data);
        }
        using var seeded = Fit(0, 0);
        using var towardsP = Fit(20, 0);
        using var towardsPartition = Fit(20, 20);

        var pretrained = TestData.Column(seeded.Transform(data), "Embedding");
        double cells = ClusterCountCriteria.Silhouette(pretrained, seeded.History.SeedingAssignments.ToArray(), 3, Enumerable.Range(0, 300).ToArray());
        // From P, self-training set out from the centroids' cells; aimed at the partition, from the partition, which
        // UMAP found on the manifold and which is not the cells (else this test could not tell the two apart).
        Assert.Equal(cells, towardsP.History.SelfTrainingVerdict!.SeedingSilhouette, 3);
        double partition = towardsPartition.History.SelfTrainingVerdict!.SeedingSilhouette;
        Assert.True(Math.Abs(partition - cells) > 1e-3, $"the partition's silhouette {partition:F4} should not be the cells' {cells:F4}");
        Assert.True(partition < cells, $"the centroids' cells are the most compact partition there: {partition:F4} against {cells:F4}");
    }

    [Fact]
    public void AMarginOutsideTheSilhouettesRangeIsNamed()
    {
        var ml = new MLContext(seed: 1);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.DeepCluster(new DeepClusterOptions { SelfTrainingSafeguardMargin = 1.5f }));
        Assert.Equal(nameof(DeepClusterOptions.SelfTrainingSafeguardMargin), error.ParamName);
        Assert.Contains("between -1 and 1; found 1.5", error.Message);
    }
}
