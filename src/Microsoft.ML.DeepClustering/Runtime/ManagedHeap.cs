namespace Microsoft.ML.DeepClustering.Runtime;

/// <summary>The managed heap between stages of a large Fit.</summary>
internal static class ManagedHeap
{
    /// <summary>
    /// Collects the garbage a stage left in large managed arrays and gives the memory back to the system, before a
    /// stage that allocates natively. Native allocations (libtorch's tensors) do not prompt a collection, so without
    /// this the garbage stays resident beside them: at a million rows, the neighbour search's and the affinity's
    /// arrays (about 600 MB) sat under the eigensolver's blocks and set the Fit's peak. A blocking, compacting
    /// collection of a heap that holds large arrays of numbers takes milliseconds; it runs only on the large-data
    /// paths that call it, never per batch.
    /// </summary>
    public static void ReturnGarbage() =>
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
}
