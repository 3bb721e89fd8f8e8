using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering;

// Usage: TrainingProbe checkpoint|- epochs [pause-ms]
// Trains DEC on 400 synthetic rows of 16 features (4 blobs) with a small dense network, one thread, seed 3; keeps
// pretraining's checkpoint in the given file, written after every epoch. Prints "epoch N" as each pretraining epoch
// ends (then waits pause-ms, so that a test can kill it mid-run), and at the end "resumed R", one line of cluster ids,
// and one line per centroid in round-trip format.
if (args.Length is < 2 or > 3)
{
    Console.Error.WriteLine("usage: TrainingProbe checkpoint|- epochs [pause-ms]");
    return 2;
}
string? checkpoint = args[0] == "-" ? null : args[0];
int epochs = int.Parse(args[1], CultureInfo.InvariantCulture);
int pause = args.Length == 3 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 0;

var random = new Random(1);
var rows = Enumerable.Range(0, 400).Select(i => new Row
{
    Features = Enumerable.Range(0, 16).Select(j => (float)((i % 4 == j % 4 ? 3.0 : 0.0) + random.NextDouble())).ToArray(),
}).ToArray();
var ml = new MLContext(seed: 1);
var data = ml.Data.LoadFromEnumerable(rows);
var options = new DeepClusterOptions
{
    NumberOfClusters = 4, HiddenLayers = [32, 32], EmbeddingDimension = 4, PretrainEpochs = epochs, BatchSize = 32,
    KMeansInitializations = 2, MaxIterations = 40, UpdateInterval = 10, Seed = 3, NumberOfThreads = 1,
    CheckpointPath = checkpoint, CheckpointInterval = TimeSpan.Zero,
    Progress = new SynchronousReport(p =>
    {
        if (p.Stage != DeepClusterStage.Pretraining)
            return;
        Console.WriteLine($"epoch {p.Step}");
        Console.Out.Flush();
        if (pause > 0)
            Thread.Sleep(pause);
    }),
};
using var model = ml.Transforms.DeepCluster(options).Fit(data);
Console.WriteLine($"resumed {model.History.PretrainingResumedAfterEpoch}");
Console.WriteLine(string.Join(" ", model.Transform(data).GetColumn<uint>("PredictedClusterId")));
foreach (var centroid in model.Centroids)
    Console.WriteLine(string.Join(" ", centroid.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
return 0;

internal sealed class Row
{
    [VectorType(16)]
    public float[] Features { get; set; } = [];
}

/// <summary>Reports on the training thread, in order (Progress&lt;T&gt; would post them to the thread pool).</summary>
internal sealed class SynchronousReport(Action<DeepClusterProgress> action) : IProgress<DeepClusterProgress>
{
    public void Report(DeepClusterProgress value) => action(value);
}
