using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Tests;

[Collection(SmallModelCollection.Name)]
public class SchemaAndHistoryTests(SmallModelFixture fixture)
{
    [Fact]
    public void OutputColumnsHaveTheDocumentedTypes()
    {
        var schema = fixture.Model.GetOutputSchema(fixture.Data.Schema);
        var key = Assert.IsType<KeyDataViewType>(schema["PredictedClusterId"].Type);
        Assert.Equal(typeof(uint), key.RawType);
        Assert.Equal(10ul, key.Count);
        var score = Assert.IsType<VectorDataViewType>(schema["Score"].Type);
        Assert.Equal(NumberDataViewType.Single, score.ItemType);
        Assert.Equal(10, score.Size);
        Assert.Equal(10, ((VectorDataViewType)schema["SoftAssignment"].Type).Size);
        Assert.Equal(10, ((VectorDataViewType)schema["Embedding"].Type).Size);
        // The input columns pass through, and nothing else is added.
        Assert.Equal(fixture.Data.Schema.Count + 4, schema.Count(c => !c.IsHidden));
        Assert.Null(schema.GetColumnOrNull("PredictedLabel"));
    }

    [Fact]
    public void SelfTrainingReportsCarryEveryRowsClusterAndTheirChangesMatchTheReportedFraction()
    {
        var updates = fixture.Progress.Where(p => p.Stage == DeepClusterStage.SelfTraining).ToList();
        Assert.Equal(fixture.Model.History.SelfTrainingUpdates.Count, updates.Count);
        Assert.True(updates.Count >= 3, $"only {updates.Count} updates");
        Assert.All(fixture.Progress.Where(p => p.Stage != DeepClusterStage.SelfTraining), p => Assert.Null(p.Assignments));
        int rows = fixture.Model.History.NumberOfRows;
        foreach (var update in updates)
        {
            Assert.NotNull(update.Assignments);
            Assert.Equal(rows, update.Assignments!.Count);
            Assert.All(update.Assignments, cluster => Assert.InRange(cluster, 0, 9));
        }
        // The fraction each report gives is the share of rows whose cluster differs from the previous report's.
        for (int i = 1; i < updates.Count; i++)
        {
            int changed = updates[i].Assignments!.Zip(updates[i - 1].Assignments!).Count(pair => pair.First != pair.Second);
            Assert.Equal((double)changed / rows, updates[i].LabelChangeFraction!.Value, 12);
        }
        // And the last one is what the model predicts for the same rows, in the same order, up to the final float32
        // pass and to the numbering: the fitted model numbers its clusters in the order of ML.NET's k-means head.
        var predicted = TestData.KeyColumn(fixture.Model.Transform(fixture.Data), "PredictedClusterId");
        var last = updates[^1].Assignments!;
        var renumber = Enumerable.Range(0, 10).ToDictionary(c => c, c => Enumerable.Range(0, rows).Where(r => last[r] == c)
            .GroupBy(r => predicted[r]).OrderByDescending(g => g.Count()).First().Key);
        Assert.Equal(10, renumber.Values.Distinct().Count());
        int agree = Enumerable.Range(0, rows).Count(r => renumber[last[r]] == predicted[r]);
        Assert.True(agree >= 0.99 * rows, $"{agree} of {rows} rows agree with the model's prediction");
    }

    [Fact]
    public void EstimatorPredictsTheFittedSchema()
    {
        var estimator = fixture.MLContext.Transforms.DeepCluster(TestData.SmallOptions());
        var predicted = estimator.GetOutputSchema(TestData.Shape(fixture.Data.Schema));
        var actual = TestData.Shape(fixture.Model.GetOutputSchema(fixture.Data.Schema));
        Assert.Equal(actual.Select(Describe), predicted.Select(Describe));
        Assert.Empty(Directory.GetFiles(fixture.MLContext.TempFilePath, "DeepClustering-schema-*"));
    }

    [Fact]
    public void EstimatorChainsInAPipelineAndHonoursCustomColumnNames()
    {
        var options = TestData.SmallOptions();
        options.PretrainEpochs = 1;
        options.MaxIterations = 0;
        options.KMeansInitializations = 1;
        options.NumberOfClusters = 3;
        options.FeatureColumnName = "Pixels";
        options.PredictedClusterIdColumnName = "Cluster";
        options.ScoreColumnName = "Distances";
        options.SoftAssignmentColumnName = "Q";
        options.EmbeddingColumnName = "Z";
        var ml = new MLContext(seed: 3) { TempFilePath = fixture.MLContext.TempFilePath };
        var pipeline = ml.Transforms.CopyColumns("Pixels", "Features").Append(ml.Transforms.DeepCluster(options));
        var data = ml.Data.TakeRows(fixture.Data, 200);
        using var chain = pipeline.Fit(data);
        var scored = chain.Transform(data);
        foreach (var name in new[] { "Cluster", "Distances", "Q", "Z" })
            Assert.NotNull(scored.Schema.GetColumnOrNull(name));
        foreach (var name in new[] { "PredictedClusterId", "Score", "SoftAssignment", "Embedding", "PredictedLabel" })
            Assert.Null(scored.Schema.GetColumnOrNull(name));
        Assert.Equal(3ul, ((KeyDataViewType)scored.Schema["Cluster"].Type).Count);
        Assert.All(TestData.KeyColumn(scored, "Cluster"), id => Assert.InRange(id, 1u, 3u));
        Assert.Equal(SelfTrainingStopReason.Skipped, chain.LastTransformer.History.StopReason);
        // Without self-training the model is the seeding: its clusters are the seeding assignments, row for row, in
        // the same numbering (a row at a near tie may round the other way in ONNX Runtime).
        var seeded = chain.LastTransformer.History.SeedingAssignments;
        var scoredIds = TestData.KeyColumn(scored, "Cluster");
        Assert.Equal(200, seeded.Count);
        int agreeing = seeded.Zip(scoredIds, (s, id) => s + 1 == id ? 1 : 0).Sum();
        Assert.True(agreeing >= 198, $"{agreeing} of 200 rows scored in their seeded cluster");
    }

    [Fact]
    public void HistoryAndProgressDescribeTheThreeStages()
    {
        var history = fixture.Model.History;
        Assert.Equal(fixture.Options.PretrainEpochs, history.PretrainLosses.Count);
        Assert.True(history.PretrainLosses[^1] < history.PretrainLosses[0], "reconstruction loss decreases");
        Assert.Equal(fixture.Options.KMeansInitializations, history.KMeansInertias.Count);
        Assert.Equal(history.KMeansInertias.Min(), history.KMeansInertias[history.BestKMeansRestart]);
        Assert.Equal(1000, history.SeedingAssignments.Count);
        Assert.All(history.SeedingAssignments, c => Assert.InRange(c, 0, 9));
        Assert.True(history.SeedingAssignments.Distinct().Count() > 1, "seeding put every row in one cluster");
        Assert.NotEmpty(history.SelfTrainingUpdates);
        Assert.Equal(1.0, history.SelfTrainingUpdates[0].LabelChangeFraction);
        Assert.All(history.SelfTrainingUpdates.Skip(1), u => Assert.InRange(u.LabelChangeFraction, 0, 1));
        Assert.True(history.SelfTrainingSteps <= fixture.Options.MaxIterations);
        Assert.Equal(1000, history.ClusterSizes.Sum());
        Assert.Equal(1000, history.NumberOfRows);
        Assert.Equal(1, history.Seed);

        var stages = fixture.Progress.Select(p => p.Stage).ToList();
        Assert.Equal(fixture.Options.PretrainEpochs, stages.Count(s => s == DeepClusterStage.Pretraining));
        Assert.Equal(fixture.Options.KMeansInitializations, stages.Count(s => s == DeepClusterStage.Seeding));
        Assert.Equal(history.SelfTrainingUpdates.Count, stages.Count(s => s == DeepClusterStage.SelfTraining));
        Assert.Equal(stages.OrderBy(s => s).ToList(), stages);
    }

    [Fact]
    public void TrainingLabelsAgreeWithTheScoredClusterSizes()
    {
        // The history counts argmax q per cluster on the training rows, in the transformer's cluster numbering.
        var ids = TestData.KeyColumn(fixture.Model.Transform(fixture.Data), "PredictedClusterId");
        var counts = Enumerable.Range(1, 10).Select(k => ids.Count(id => id == k)).ToArray();
        var sizes = fixture.Model.History.ClusterSizes.ToArray();
        int differences = counts.Zip(sizes, (a, b) => Math.Abs(a - b)).Sum();
        Assert.True(differences <= 4, $"scored {string.Join(",", counts)} vs trained {string.Join(",", sizes)}");
    }

    [Fact]
    public void EveryClusterIdInTheHistoryIsThePredictedClusterIdLessOne()
    {
        var history = fixture.Model.History;
        var predicted = TestData.KeyColumn(fixture.Model.Transform(fixture.Data), "PredictedClusterId");
        int rows = predicted.Length;

        // The final assignments are what the model predicts, row for row (ONNX Runtime may round a near tie the other way).
        Assert.Equal(rows, history.FinalAssignments.Count);
        int agree = history.FinalAssignments.Zip(predicted, (c, id) => c + 1 == id ? 1 : 0).Sum();
        Assert.True(agree >= rows - 4, $"{agree} of {rows} rows have PredictedClusterId = final assignment + 1");
        // Cluster sizes count those assignments, in the same numbering.
        var counted = Enumerable.Range(0, 10).Select(c => history.FinalAssignments.Count(a => a == c));
        Assert.Equal(counted, history.ClusterSizes);

        // The live reports keep training's numbering, a fixed permutation away from the model's: the last report's
        // clusters map one to one onto the final assignments. This fixture's permutation is not the identity, so the
        // checks here do test the renumbering.
        var live = fixture.Progress.Where(p => p.Stage == DeepClusterStage.SelfTraining).Select(p => p.Assignments!).ToList();
        var permutation = Enumerable.Range(0, 10).Select(c => Enumerable.Range(0, rows).Where(r => live[^1][r] == c)
            .GroupBy(r => history.FinalAssignments[r]).MaxBy(g => g.Count())!.Key).ToArray();
        Assert.Equal(10, permutation.Distinct().Count());
        Assert.NotEqual(Enumerable.Range(0, 10), permutation);
        int mapped = Enumerable.Range(0, rows).Count(r => permutation[live[^1][r]] == history.FinalAssignments[r]);
        Assert.True(mapped >= rows - 10, $"{mapped} of {rows} rows follow one permutation from training's ids to the model's");

        // The seeding assignments are renumbered by the same permutation: the first report (step 0, before any step)
        // has every row at its nearest seeded centroid, in training's numbering.
        int seeded = Enumerable.Range(0, rows).Count(r => permutation[live[0][r]] == history.SeedingAssignments[r]);
        Assert.True(seeded >= rows - 4, $"{seeded} of {rows} seeding assignments are in the model's numbering");
    }

    [Fact]
    public void CentroidsAreFiniteAndDistinct()
    {
        var centroids = fixture.Model.Centroids;
        Assert.Equal(10, centroids.Length);
        Assert.All(centroids, c => Assert.Equal(10, c.Length));
        Assert.All(centroids.SelectMany(c => c), v => Assert.True(float.IsFinite(v)));
        Assert.Equal(10, centroids.Select(c => string.Join(",", c)).Distinct().Count());
        // Returned as copies: changing them changes nothing.
        centroids[0][0] = float.NaN;
        Assert.True(float.IsFinite(fixture.Model.Centroids[0][0]));
    }

    private static string Describe(SchemaShape.Column c) =>
        $"{c.Name}:{c.Kind}:{c.ItemType}:{c.IsKey}:{string.Join("|", c.Annotations.Select(a => a.Name).Order())}";
}
