namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>Runs a delegate on each report, synchronously (Progress&lt;T&gt; would post to the thread pool and reorder them).</summary>
internal sealed class ProgressCallback(Action<DeepClusterProgress> report) : IProgress<DeepClusterProgress>
{
    public void Report(DeepClusterProgress value) => report(value);
}
