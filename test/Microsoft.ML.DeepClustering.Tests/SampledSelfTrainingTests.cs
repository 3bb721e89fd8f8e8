using Microsoft.ML;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>Self-training above <see cref="DeepClusterOptions.FullPassRows"/>: target updates on the rows the next steps visit.</summary>
public class SampledSelfTrainingTests
{
    private static (DeepClusterTransformer Model, List<string> Log) Fit(int fullPassRows)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Mnist(ml, 900));
        var options = TestData.TinyOptions();
        options.PretrainEpochs = 4;
        options.MaxIterations = 60;
        options.UpdateInterval = 10;
        options.BatchSize = 32;          // 10 steps × 32 rows = 320 rows per sampled update
        options.FullPassRows = fullPassRows;
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("Self-training")) lock (log) log.Add(e.Message); };
        return (ml.Transforms.DeepCluster(options).Fit(data), log);
    }

    [Fact]
    public void AboveTheThresholdUpdatesUseTheVisitedRowsAndStaySeeded()
    {
        var (full, _) = Fit(fullPassRows: 200_000);
        var (sampled, log) = Fit(fullPassRows: 500);
        var (again, _) = Fit(fullPassRows: 500);
        using (full) using (sampled) using (again)
        {
            Assert.Equal(0, full.History.TargetSampleRows);
            Assert.Equal(320, sampled.History.TargetSampleRows);
            Assert.Contains(log, line => line.Contains("computes P on the 320 rows its next 10 steps visit") && line.Contains("counted on 900 rows"));
            // Every row is still labelled, and the same seed gives the same model.
            Assert.Equal(900, sampled.History.FinalAssignments.Count);
            Assert.Equal(sampled.History.FinalAssignments, again.History.FinalAssignments);
            Assert.Equal(sampled.Centroids, again.Centroids);
            // Both start from the same seeding; sampling changes the steps, not where they lead.
            Assert.Equal(full.History.SeedingAssignments, sampled.History.SeedingAssignments);
            // The two partitions match up to the clusters' numbering (Hungarian matching).
            double agreement = ClusteringQuality.Accuracy(full.History.FinalAssignments.ToArray(), sampled.History.FinalAssignments.ToArray());
            Assert.True(agreement > 0.8, $"sampled and full self-training agree on {agreement:P1} of the rows");
        }
    }
}
