using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Data;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>
/// How Fit reads and keeps its rows (<see cref="RowStore"/>, <see cref="FeatureMatrix"/>, <see cref="MemoryBudget"/>):
/// one pass over the input, memory and memory-mapped storage alike, the stated tolerance of half and byte storage,
/// the memory-mapped file gone however Fit ends, and the too-large error with its figures.
/// </summary>
public class RowStorageTests
{
    private const int Columns = 64;

    /// <summary>Deterministic rows with values of every magnitude, no two rows alike.</summary>
    private static float[] Row(int r)
    {
        var row = new float[Columns];
        for (int j = 0; j < Columns; j++)
            row[j] = MathF.Sin(r * 0.37f + j * 1.3f) * MathF.Pow(10, (r + j) % 7 - 3);
        return row;
    }

    private static RowStore Store(int rows, long? knownRows, long spillBytes, RowStoragePrecision precision = RowStoragePrecision.Float32, string? folder = null)
    {
        using var builder = new RowStore.Builder(Columns, precision, knownRows, spillBytes, folder ?? Path.GetTempPath());
        for (int r = 0; r < rows; r++)
            builder.Add(Row(r), (slot, value, why) => new InvalidOperationException($"row {r} slot {slot} {value}: {why}"));
        return builder.Build();
    }

    private static float[] All(RowStore store)
    {
        var all = new float[store.Rows * store.Columns];
        store.CopyRows(0, store.Rows, all);
        return all;
    }

    private static float[] Expected(int rows) => Enumerable.Range(0, rows).SelectMany(Row).ToArray();

    [Theory]
    [InlineData(true, long.MaxValue)]    // the count known: one exact array
    [InlineData(false, long.MaxValue)]   // unknown: 8 MiB chunks (40,000 rows of 64 floats are two and a bit)
    [InlineData(false, 0L)]              // a memory-mapped file from the start
    [InlineData(false, 3_000_000L)]      // Auto: rows move to the file once they pass 3 MB
    [InlineData(true, 3_000_000L)]       // Auto with the count known: the file from the start
    public void EveryLayoutGivesBackTheRowsBitForBit(bool countKnown, long spillBytes)
    {
        const int rows = 40_000;
        using var store = Store(rows, countKnown ? rows : null, spillBytes);
        Assert.Equal(spillBytes < (long)rows * Columns * 4, store.IsMemoryMapped);
        Assert.Equal(Expected(rows), All(store));

        // Batches across chunk boundaries, and rows gathered out of order.
        int chunkRows = RowStore.ChunkBytes / (Columns * 4);
        var batch = new float[100 * Columns];
        store.CopyRows(chunkRows - 50, 100, batch);
        Assert.Equal(Expected(chunkRows + 50).AsSpan((chunkRows - 50) * Columns).ToArray(), batch);
        int[] picked = { rows - 1, 0, chunkRows, chunkRows - 1, 17, 17 };
        var gathered = new float[picked.Length * Columns];
        store.Gather(picked, gathered);
        Assert.Equal(picked.SelectMany(Row).ToArray(), gathered);
        Assert.Throws<ArgumentOutOfRangeException>(() => store.CopyRows(rows - 1, 2, new float[2 * Columns]));
    }

    [Fact]
    public void BatchesAndGatheredRowsComeOutAsTensors()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Mnist(ml, 50));
        using var matrix = FeatureMatrix.Read(data, "Features", new FeatureMatrix.StorageSettings(RowStoragePrecision.Byte, 0, Path.GetTempPath()));
        var all = TestData.Column(data, "Features");
        using var whole = matrix.ToTensor();
        using var batch = matrix.RowsTensor(10, 5);
        using var gathered = matrix.GatherTensor(new[] { 49, 0, 10 });
        Assert.Equal(new long[] { 50, 784 }, whole.shape);
        Assert.Equal(new long[] { 5, 784 }, batch.shape);
        Assert.Equal(all.SelectMany(r => r).ToArray(), whole.data<float>().ToArray());
        Assert.Equal(all.Skip(10).Take(5).SelectMany(r => r).ToArray(), batch.data<float>().ToArray());
        Assert.Equal(new[] { all[49], all[0], all[10] }.SelectMany(r => r).ToArray(), gathered.data<float>().ToArray());
    }

    [Fact]
    public void TrainingReadsFloat32RowsInPlaceAndDecodesOtherStoresABatchAtATime()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Mnist(ml, 50));
        var all = TestData.Column(data, "Features");
        foreach (var precision in new[] { RowStoragePrecision.Float32, RowStoragePrecision.Byte })
        {
            using var matrix = FeatureMatrix.Read(data, "Features", new FeatureMatrix.StorageSettings(precision, long.MaxValue, Path.GetTempPath()));
            using var rows = Training.TrainingRows.Of(matrix, TorchSharp.torch.CPU);
            // Float32 in memory is one tensor over the stored array; a byte store is never expanded whole.
            Assert.Equal(precision == RowStoragePrecision.Float32, rows.IsResident);
            Assert.Equal(50, rows.Count);
            using var index = TorchSharp.torch.tensor(new long[] { 49, 0, 10 });
            using var selected = rows.Select(index);
            using var range = rows.Narrow(10, 5);
            Assert.Equal(new[] { all[49], all[0], all[10] }.SelectMany(r => r).ToArray(), selected.data<float>().ToArray());
            Assert.Equal(all.Skip(10).Take(5).SelectMany(r => r).ToArray(), range.data<float>().ToArray());
        }

        // Float32 rows read without a known count sit in chunks (2,675 MNIST rows each): not joined into a second copy
        // of all rows, but read a batch at a time, the same floats.
        var many = ml.Data.Cache(TestData.Mnist(ml, 3000));
        var manyRows = TestData.Column(many, "Features");
        using var chunked = FeatureMatrix.Read(new CountingDataView(many, null), "Features", new FeatureMatrix.StorageSettings(RowStoragePrecision.Float32, long.MaxValue, Path.GetTempPath()));
        using var chunkedRows = Training.TrainingRows.Of(chunked, TorchSharp.torch.CPU);
        Assert.False(chunkedRows.IsResident);
        using var across = TorchSharp.torch.tensor(new long[] { 2999, 2674, 2675, 0 });
        using var acrossRows = chunkedRows.Select(across);
        Assert.Equal(new[] { manyRows[2999], manyRows[2674], manyRows[2675], manyRows[0] }.SelectMany(r => r).ToArray(), acrossRows.data<float>().ToArray());
    }

    [Fact]
    public void ByteStorageGivesBackEveryEightBitLevelExactlyAndOthersWithinHalfAStep()
    {
        var levels = Enumerable.Range(0, 256).Select(k => k / 255f).ToArray();
        var random = new Random(3);
        var others = Enumerable.Range(0, 256).Select(_ => random.NextSingle()).Append(1f).Append(0.5f / 255).ToArray();
        foreach (var (values, exact) in new[] { (levels, true), (others, false) })
        {
            using var builder = new RowStore.Builder(values.Length, RowStoragePrecision.Byte, 1, long.MaxValue, Path.GetTempPath());
            builder.Add(values, (slot, value, why) => new InvalidOperationException(why));
            using var store = builder.Build();
            Assert.Equal(values.Length, store.StoredBytes);
            var back = All(store);
            for (int i = 0; i < values.Length; i++)
            {
                if (exact)
                    Assert.Equal(BitConverter.SingleToInt32Bits(values[i]), BitConverter.SingleToInt32Bits(back[i]));
                else
                    Assert.True(MathF.Abs(back[i] - values[i]) <= 1f / 510 + 1e-7f, $"{values[i]} came back as {back[i]}");
            }
        }
    }

    [Fact]
    public void HalfStorageStaysWithinItsStatedTolerance()
    {
        var random = new Random(5);
        // Magnitudes from subnormal halves to the largest finite one.
        var values = Enumerable.Range(0, 4000).Select(i => (float)((random.NextDouble() * 2 - 1) * Math.Pow(2, -30 + (i % 46)))).Where(v => MathF.Abs(v) <= 65504).ToArray();
        using var builder = new RowStore.Builder(values.Length, RowStoragePrecision.Half, null, long.MaxValue, Path.GetTempPath());
        builder.Add(values, (slot, value, why) => new InvalidOperationException(why));
        using var store = builder.Build();
        var back = All(store);
        double worstRelative = 0;
        for (int i = 0; i < values.Length; i++)
        {
            float bound = MathF.Max(MathF.Abs(values[i]) * MathF.Pow(2, -11), MathF.Pow(2, -25));
            Assert.True(MathF.Abs(back[i] - values[i]) <= bound, $"{values[i]} came back as {back[i]}");
            if (MathF.Abs(values[i]) >= MathF.Pow(2, -14))
                worstRelative = Math.Max(worstRelative, Math.Abs(back[i] - values[i]) / Math.Abs(values[i]));
        }
        // The bound is tight: rounding to 10 mantissa bits comes close to it.
        Assert.InRange(worstRelative, Math.Pow(2, -12), Math.Pow(2, -11));
    }

    private sealed class FloatRow { [VectorType(3)] public float[] Features { get; set; } = Array.Empty<float>(); }

    [Theory]
    [InlineData(RowStoragePrecision.Byte, 1.5f, "[0, 1]")]
    [InlineData(RowStoragePrecision.Byte, -0.25f, "[0, 1]")]
    [InlineData(RowStoragePrecision.Half, 70000f, "65504")]
    public void ValuesTheChosenPrecisionCannotHoldAreNamedWithTheirRow(RowStoragePrecision precision, float value, string expected)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 5).Select(r => new FloatRow { Features = r == 3 ? new[] { 0.5f, value, 0f } : new[] { 0.5f, 0.25f, 0f } }));
        var e = Assert.Throws<InvalidOperationException>(() =>
            FeatureMatrix.Read(data, "Features", new FeatureMatrix.StorageSettings(precision, long.MaxValue, Path.GetTempPath())));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("row 3", e.Message);
        Assert.Contains("slot 1", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.Contains("RowPrecision", e.Message);
    }

    /// <summary>A source that counts the cursors opened on it (each would rerun a costly upstream transform), with the row count it is given.</summary>
    private sealed class CountingDataView(IDataView inner, long? rowCount) : IDataView
    {
        public int Cursors;
        public DataViewSchema Schema => inner.Schema;
        public bool CanShuffle => inner.CanShuffle;
        public long? GetRowCount() => rowCount;
        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        {
            Interlocked.Increment(ref Cursors);
            return inner.GetRowCursor(columnsNeeded, rand);
        }
        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        {
            Interlocked.Increment(ref Cursors);
            return inner.GetRowCursorSet(columnsNeeded, n, rand);
        }
    }

    /// <summary>Fits TinyOptions on 300 MNIST digits; returns the centroids, the final assignments and the cursors opened on the input.</summary>
    private static (float[][] Centroids, IReadOnlyList<int> Assignments, int Cursors) Fit(string temp, Action<DeepClusterOptions> configure, bool hideRowCount = false, long? memoryLimit = null)
    {
        var ml = new MLContext(seed: 1) { TempFilePath = temp };
        var source = new CountingDataView(ml.Data.Cache(TestData.Mnist(ml, 300)), hideRowCount ? null : 300);
        var options = TestData.TinyOptions();
        configure(options);
        var estimator = ml.Transforms.DeepCluster(options);
        if (memoryLimit is long limit)
            estimator.MemoryLimit = () => new MemoryBudget.Limit(limit, "a test's limit");
        using var model = estimator.Fit(source);
        return (model.Centroids, model.History.FinalAssignments, source.Cursors);
    }

    [Fact]
    public void MemoryMappedFileByteRowsAndAnUnknownRowCountTrainTheSameModelAsMemory()
    {
        string temp = TestData.NewTempDirectory();
        try
        {
            var memory = Fit(temp, o => o.RowStorage = RowStorageLocation.Memory);
            bool mappedDuringFit = false;
            var mapped = Fit(temp, o =>
            {
                o.RowStorage = RowStorageLocation.MemoryMappedFile;
                // Unlinked as soon as it is open: only the process's own mappings still show it.
                o.Progress = new SynchronousProgress<DeepClusterProgress>(_ => mappedDuringFit |= MapsRowFile());
            });
            // MNIST's pixels are k/255: bytes hold them exactly, so the model is the same too.
            var bytes = Fit(temp, o => { o.RowStorage = RowStorageLocation.MemoryMappedFile; o.RowPrecision = RowStoragePrecision.Byte; });
            var unknownCount = Fit(temp, o => o.RowStorage = RowStorageLocation.Memory, hideRowCount: true);
            // Auto moves rows past half the limit to the file: 940,800 bytes of rows against 1,500,000, read without
            // knowing the count, so the move happens halfway through the reading.
            bool spilled = false;
            var auto = Fit(temp, o => o.Progress = new SynchronousProgress<DeepClusterProgress>(_ => spilled |= MapsRowFile()), hideRowCount: true, memoryLimit: 1_500_000);
            if (OperatingSystem.IsLinux())
                Assert.True(spilled, "Auto kept the rows in memory past half the limit.");
            foreach (var other in new[] { mapped, bytes, unknownCount, auto })
            {
                Assert.Equal(memory.Assignments, other.Assignments);
                Assert.Equal(memory.Centroids.Length, other.Centroids.Length);
                for (int c = 0; c < memory.Centroids.Length; c++)
                    Assert.Equal(memory.Centroids[c].Select(BitConverter.SingleToInt32Bits), other.Centroids[c].Select(BitConverter.SingleToInt32Bits));
            }
            if (OperatingSystem.IsLinux())
                Assert.True(mappedDuringFit, "No memory-mapped rows file was seen during Fit.");
            Assert.False(MapsRowFile());
            Assert.Empty(Directory.GetFileSystemEntries(temp));
            // Every Fit read its input exactly once: one cursor, schema checks and the distinct-row count included.
            Assert.All(new[] { memory, mapped, bytes, unknownCount, auto }, fit => Assert.Equal(1, fit.Cursors));
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>Whether this process maps a rows file (Linux: /proc/self/maps lists it, "(deleted)" once unlinked).</summary>
    private static bool MapsRowFile() =>
        OperatingSystem.IsLinux() && File.ReadAllText("/proc/self/maps").Contains("DeepClustering-rows-");

    [Fact]
    public void TheMemoryMappedFileIsGoneAfterACancelledFit()
    {
        string temp = TestData.NewTempDirectory();
        try
        {
            var ml = new MLContext(seed: 1) { TempFilePath = temp };
            var data = ml.Data.Cache(TestData.Mnist(ml, 300));
            using var cancellation = new CancellationTokenSource();
            var options = TestData.TinyOptions();
            options.RowStorage = RowStorageLocation.MemoryMappedFile;
            options.PretrainEpochs = 1000;
            bool mapped = false;
            options.Progress = new SynchronousProgress<DeepClusterProgress>(p =>
            {
                mapped |= MapsRowFile();
                cancellation.Cancel();
            });
            Assert.ThrowsAny<OperationCanceledException>(() => ml.Transforms.DeepCluster(options).Fit(data, cancellation.Token));
            if (OperatingSystem.IsLinux())
                Assert.True(mapped);
            Assert.False(MapsRowFile());
            Assert.Empty(Directory.GetFileSystemEntries(temp));
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    [Fact]
    public void AFitTooLargeForTheMemoryFailsBeforeReadingWithItsFigures()
    {
        var ml = new MLContext(seed: 1);
        var source = new CountingDataView(ml.Data.Cache(TestData.Mnist(ml, 300)), 300);
        var inMemory = TestData.TinyOptions();
        inMemory.RowStorage = RowStorageLocation.Memory;
        var estimator = ml.Transforms.DeepCluster(inMemory);
        estimator.MemoryLimit = () => new MemoryBudget.Limit(500_000, "a test's limit");
        var e = Assert.Throws<InsufficientMemoryException>(() => estimator.Fit(source));
        // 300 × 784 float32 rows in memory, which training reads in place; embeddings 3·300·4·4, q and P 2·300·3·4.
        long expected = 300L * 784 * 4 + 3 * 300 * 4 * 4 + 2 * 300 * 3 * 4;
        Assert.Contains("300 rows of 784 features", e.Message);
        Assert.Contains($"{expected:N0} bytes", e.Message);
        Assert.Contains("500,000 bytes", e.Message);
        Assert.Contains("a test's limit", e.Message);
        Assert.Contains("sample", e.Message);
        Assert.Contains("RowStorage = MemoryMappedFile", e.Message);
        Assert.Equal(0, source.Cursors);

        // Under the same limit, RowStorage = Auto puts the rows in a memory-mapped file (more than half the limit) and
        // training decodes them a batch at a time, so the same Fit fits.
        var auto = ml.Transforms.DeepCluster(TestData.TinyOptions());
        auto.MemoryLimit = () => new MemoryBudget.Limit(500_000, "a test's limit");
        using (var model = auto.Fit(source))
            Assert.Equal(300, model.History.FinalAssignments.Count);

        // Without a row count the check comes once the rows are read; half-precision rows kept in memory take half
        // the bytes (training decodes a batch at a time, with no float32 copy), and the message names the option
        // that keeps them out of memory.
        var hidden = new CountingDataView(ml.Data.Cache(TestData.Mnist(ml, 300)), null);
        var options = TestData.TinyOptions();
        options.RowPrecision = RowStoragePrecision.Half;
        options.RowStorage = RowStorageLocation.Memory;
        estimator = ml.Transforms.DeepCluster(options);
        estimator.MemoryLimit = () => new MemoryBudget.Limit(400_000, "a test's limit");
        e = Assert.Throws<InsufficientMemoryException>(() => estimator.Fit(hidden));
        Assert.Contains($"{300L * 784 * 2 + 3 * 300 * 4 * 4 + 2 * 300 * 3 * 4:N0} bytes", e.Message);
        Assert.Contains($"stored rows {300L * 784 * 2:N0} bytes", e.Message);
        Assert.Contains("RowStorage = MemoryMappedFile", e.Message);
        Assert.Equal(1, hidden.Cursors);
    }

    [Theory]
    [InlineData("max\n", null)]
    [InlineData("536870912\n", 536870912L)]
    [InlineData("", null)]
    public void CgroupLimitsAreReadAsBytesOrNoLimit(string text, long? expected) =>
        Assert.Equal(expected, MemoryBudget.ParseCgroupLimit(text));

    [Fact]
    public void TheProcessLimitIsNoMoreThanWhatDotnetReports()
    {
        var limit = MemoryBudget.ProcessLimit();
        Assert.InRange(limit.Bytes, 1, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
        if (MemoryBudget.CgroupLimit("/sys/fs/cgroup/memory.max") is long cgroup)
            Assert.True(limit.Bytes <= cgroup);
    }
}
