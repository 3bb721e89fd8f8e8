namespace Microsoft.ML.DeepClustering.Samples.Progress;

/// <summary>
/// An <see cref="IProgress{T}"/> that calls its handler on the reporting thread, at once. System.Progress posts
/// each report to the thread pool: reports would arrive late, out of order, and after Fit has already returned.
/// </summary>
public sealed class SynchronousProgress<T>(Action<T> handler) : IProgress<T>
{
    public void Report(T value) => handler(value);
}
