using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit.Abstractions;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>
/// Transform runs the ONNX graph on batches of rows; the chain of built-in transforms (what is saved, what
/// PredictionEngine uses) runs it row by row. These tests hold the two to the same schema and the same values.
/// </summary>
[Collection(SmallModelCollection.Name)]
public class BatchedScoringTests(SmallModelFixture fixture, ITestOutputHelper output)
{
    private static readonly string[] Outputs = { "PredictedClusterId", "Score", "SoftAssignment", "Embedding" };

    // 300 rows: one batch of 256 and a short one of 44.
    private IDataView Rows(int count = 300) => fixture.MLContext.Data.TakeRows(fixture.Data, count);

    [Fact]
    public void BatchedTransformGivesTheChainsValuesAndTheReloadedZipsValues()
    {
        var data = Rows();
        var batched = fixture.Model.Transform(data);
        Assert.IsNotType<TransformerChain<ITransformer>>(batched);
        var chain = fixture.Model.TransformThroughChain(data);

        var dir = TestData.NewTempDirectory();
        try
        {
            string path = Path.Combine(dir, "model.zip");
            fixture.MLContext.Model.Save(fixture.Model, data.Schema, path);
            var loaded = new MLContext().Model.Load(path, out _);
            var reloaded = loaded.Transform(data);
            foreach (var reference in new[] { chain, reloaded })
            {
                Assert.Equal(TestData.KeyColumn(reference, "PredictedClusterId"), TestData.KeyColumn(batched, "PredictedClusterId"));
                foreach (var name in new[] { "Score", "SoftAssignment", "Embedding" })
                    AssertClose(TestData.Column(reference, name), TestData.Column(batched, name), name);
            }
            (loaded as IDisposable)?.Dispose();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(300)]
    [InlineData(1000)]
    public void AnyBatchSizeGivesTheSameValues(int batchSize)
    {
        // 7 leaves a short last batch of 6, 300 is exactly one batch, 1000 one batch larger than the data.
        var data = Rows();
        var expected = fixture.Model.Transform(data);
        var batched = fixture.Model.Transform(data, batchSize);
        Assert.Equal(TestData.KeyColumn(expected, "PredictedClusterId"), TestData.KeyColumn(batched, "PredictedClusterId"));
        foreach (var name in new[] { "Score", "SoftAssignment", "Embedding" })
            AssertClose(TestData.Column(expected, name), TestData.Column(batched, name), name);
    }

    [Fact]
    public void SchemaIsTheChainsIncludingHiddenColumnsAndAnnotations()
    {
        // An input column already named Score is hidden by the output Score, as the chain hides it.
        var data = fixture.MLContext.Transforms.CopyColumns("Score", "Label").Fit(Rows()).Transform(Rows());
        var batched = fixture.Model.Transform(data).Schema;
        var chain = fixture.Model.TransformThroughChain(data).Schema;
        Assert.Equal(Describe(chain), Describe(batched));
        Assert.Contains(batched, c => c.IsHidden && c.Name == "Score");
        Assert.Equal(Describe(fixture.Model.GetOutputSchema(data.Schema)), Describe(batched));
    }

    [Fact]
    public void ACursorOverSomeColumnsGivesTheirValuesWithPositionsAndIds()
    {
        var data = fixture.MLContext.Transforms.CopyColumns("Score", "Label").Fit(Rows()).Transform(Rows());
        var batched = fixture.Model.Transform(data, batchSize: 64);
        var chain = fixture.Model.TransformThroughChain(data);
        // Passed-through input columns (one of them hidden), and two of the four outputs.
        var hiddenScore = batched.Schema.Single(c => c.IsHidden && c.Name == "Score");
        var picked = new[] { batched.Schema["Label"], hiddenScore, batched.Schema["SoftAssignment"], batched.Schema["PredictedClusterId"] };

        var rows = Read(batched, picked);
        var expected = Read(chain, picked.Select(c => chain.Schema[c.Index]).ToArray());
        Assert.Equal(300, rows.Count);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => (long)i), rows.Select(r => r.Position));
        Assert.Equal(expected.Select(r => r.Id), rows.Select(r => r.Id));
        Assert.Equal(expected.Select(r => r.Label), rows.Select(r => r.Label));
        Assert.Equal(expected.Select(r => r.Label), rows.Select(r => r.HiddenScore));
        Assert.Equal(expected.Select(r => r.ClusterId), rows.Select(r => r.ClusterId));
        AssertClose(expected.Select(r => r.SoftAssignment).ToArray(), rows.Select(r => r.SoftAssignment).ToArray(), "SoftAssignment");

        using var cursor = batched.GetRowCursor(picked);
        Assert.All(picked, c => Assert.True(cursor.IsColumnActive(c)));
        Assert.False(cursor.IsColumnActive(batched.Schema["Features"]));
        Assert.Equal(-1, cursor.Position);
    }

    [Fact]
    public void TheFeatureColumnPassesThroughUnchanged()
    {
        var data = Rows(100);
        var batched = fixture.Model.Transform(data, batchSize: 32);
        Assert.Equal(TestData.Column(data, "Features"), TestData.Column(batched, "Features"));
    }

    [Fact]
    public void ACursorWithoutOutputColumnsNeverReadsTheFeatures()
    {
        // A NaN feature makes reading the features throw; reading only Label must not touch them, so ONNX never runs.
        var features = TestData.Column(fixture.Data, "Features").Take(10).ToArray();
        features[3] = features[3].ToArray();
        features[3][5] = float.NaN;
        var data = Load(features);
        var scored = fixture.Model.Transform(data);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (float)i), scored.GetColumn<float>("Label"));
        Assert.Throws<InvalidOperationException>(() => TestData.KeyColumn(scored, "PredictedClusterId"));
    }

    [Fact]
    public void ANonFiniteFeatureStopsScoringAtItsRowAfterServingTheRowsBeforeIt()
    {
        var features = TestData.Column(fixture.Data, "Features").Take(400).ToArray();
        features[300] = features[300].ToArray();
        features[300][17] = float.PositiveInfinity;
        var scored = fixture.Model.Transform(Load(features));
        var column = scored.Schema["PredictedClusterId"];
        using var cursor = scored.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<uint>(column);
        uint id = 0;
        int served = 0;
        var e = Assert.Throws<InvalidOperationException>(() =>
        {
            while (cursor.MoveNext())
            {
                getter(ref id);
                served++;
            }
        });
        Assert.Equal(300, served);
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("row 300", e.Message);
        Assert.Contains("slot 17", e.Message);
    }

    [Fact]
    public async Task CursorsOnSeveralThreadsShareTheSessionAndAgree()
    {
        var scored = fixture.Model.Transform(Rows(), batchSize: 50);
        Assert.Single(scored.GetRowCursorSet(scored.Schema.Where(c => Outputs.Contains(c.Name)), 4));
        var single = TestData.Column(scored, "Score");
        var parallel = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => TestData.Column(scored, "Score"))));
        Assert.All(parallel, result => Assert.Equal(single, result));
    }

    [Fact]
    public void AShuffledCursorGivesEachRowItsOwnValues()
    {
        // The cached data shuffles (TakeRows would not).
        var scored = fixture.Model.Transform(fixture.Data, batchSize: 64);
        Assert.True(scored.CanShuffle);
        var columns = new[] { scored.Schema["Label"], scored.Schema["Score"] };
        var ordered = Read(scored, columns).ToDictionary(r => r.Id);
        var shuffled = Read(scored, columns, new Random(7));
        Assert.Equal(1000, shuffled.Count);
        Assert.NotEqual(ordered.Values.Select(r => r.Id), shuffled.Select(r => r.Id));
        Assert.All(shuffled, r =>
        {
            Assert.Equal(ordered[r.Id].Label, r.Label);
            Assert.Equal(ordered[r.Id].Score, r.Score);
        });
    }

    [Fact]
    public void BatchesAfterTheFirstReuseTheirBuffers()
    {
        // One batch of 32 rows holds 100 KB of features alone; a batch that reuses its buffers allocates next to
        // nothing (ONNX Runtime's wrapper allocates a few small handle arrays per run).
        long Allocated(int rows)
        {
            var scored = fixture.Model.Transform(fixture.MLContext.Data.TakeRows(fixture.Data, rows), batchSize: 32);
            var columns = Outputs.Select(c => scored.Schema[c]).ToArray();
            long before = GC.GetAllocatedBytesForCurrentThread();
            using (var cursor = scored.GetRowCursor(columns))
            {
                var id = cursor.GetGetter<uint>(columns[0]);
                var vectors = columns.Skip(1).Select(c => cursor.GetGetter<VBuffer<float>>(c)).ToArray();
                uint k = 0;
                VBuffer<float> buffer = default;
                while (cursor.MoveNext())
                {
                    id(ref k);
                    foreach (var getter in vectors)
                        getter(ref buffer);
                }
            }
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Allocated(64);
        long perBatch = (Allocated(32 * 24) - Allocated(32 * 8)) / 16;
        output.WriteLine($"{perBatch} bytes allocated per batch after the first");
        Assert.True(perBatch < 4096, $"{perBatch} bytes allocated per batch of 32 rows");
    }

    private sealed record RowValues(long Position, DataViewRowId Id, float Label, float HiddenScore, uint ClusterId, float[] SoftAssignment, float[] Score);

    /// <summary>Reads the given columns (any of Label, a hidden Score, SoftAssignment, PredictedClusterId, Score), with each row's position and id.</summary>
    private static List<RowValues> Read(IDataView data, DataViewSchema.Column[] columns, Random? rand = null)
    {
        var rows = new List<RowValues>();
        using var cursor = data.GetRowCursor(columns, rand);
        var id = cursor.GetIdGetter();
        ValueGetter<T>? Getter<T>(Func<DataViewSchema.Column, bool> which) =>
            columns.Where(which).Select(c => cursor.GetGetter<T>(c)).FirstOrDefault();
        var label = Getter<float>(c => c.Name == "Label");
        var hidden = Getter<float>(c => c.Name == "Score" && c.IsHidden);
        var cluster = Getter<uint>(c => c.Name == "PredictedClusterId");
        var soft = Getter<VBuffer<float>>(c => c.Name == "SoftAssignment");
        var score = Getter<VBuffer<float>>(c => c.Name == "Score" && !c.IsHidden);
        while (cursor.MoveNext())
        {
            DataViewRowId rowId = default;
            float l = 0, h = 0;
            uint k = 0;
            VBuffer<float> q = default, s = default;
            id(ref rowId);
            label?.Invoke(ref l);
            hidden?.Invoke(ref h);
            cluster?.Invoke(ref k);
            soft?.Invoke(ref q);
            score?.Invoke(ref s);
            rows.Add(new RowValues(cursor.Position, rowId, l, h, k, q.DenseValues().ToArray(), s.DenseValues().ToArray()));
        }
        return rows;
    }

    private IDataView Load(float[][] features)
    {
        var definition = SchemaDefinition.Create(typeof(LabeledRow));
        definition[nameof(LabeledRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 784);
        return fixture.MLContext.Data.LoadFromEnumerable(features.Select((f, i) => new LabeledRow { Features = f, Label = i }), definition);
    }

    private sealed class LabeledRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public float Label { get; set; }
    }

    private void AssertClose(float[][] expected, float[][] actual, string name)
    {
        double worst = TestData.AssertEqualUpToFloatRounding(expected, actual, name);
        output.WriteLine($"{name}: largest difference {worst:G3} of the row's largest value");
    }

    private static string[] Describe(DataViewSchema schema) => schema.Select(c =>
        $"{c.Index}:{c.Name}:{c.Type}:{(c.IsHidden ? "hidden" : "visible")}:" +
        string.Join("|", c.Annotations.Schema.Select(a => $"{a.Name}={AnnotationValue(c.Annotations, a)}"))).ToArray();

    private static string AnnotationValue(DataViewSchema.Annotations annotations, DataViewSchema.Column annotation)
    {
        var method = typeof(BatchedScoringTests).GetMethod(nameof(ReadAnnotation), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        return (string)method.MakeGenericMethod(annotation.Type.RawType).Invoke(null, new object[] { annotations, annotation })!;
    }

    private static string ReadAnnotation<T>(DataViewSchema.Annotations annotations, DataViewSchema.Column annotation)
    {
        T value = default!;
        annotations.GetGetter<T>(annotation)(ref value);
        return value is VBuffer<ReadOnlyMemory<char>> text ? string.Join(",", text.DenseValues())
            : value is VBuffer<float> numbers ? string.Join(",", numbers.DenseValues())
            : value?.ToString() ?? "";
    }
}
