using Microsoft.ML.DeepClustering.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Graphs;

/// <summary>
/// The k nearest neighbours of every row of an embedding, itself excluded: the start of every neighbour graph
/// (spectral seeding's affinity, UMAP's fuzzy graph, choosing K by modularity). Exact here, quadratic in the rows;
/// approximate and near-linear from <see cref="ApproximateFromRows"/> rows (NearestNeighbours.Approximate.cs).
/// </summary>
internal static partial class NearestNeighbours
{
    /// <summary>
    /// The exact search: each row's <paramref name="k"/> smallest squared distances [N, k] and the rows they lead to
    /// [N, k] (int64), nearest first, on <paramref name="z"/>'s device. Quadratic in the rows: it computes every
    /// distance, a block of rows at a time.
    /// </summary>
    public static (Tensor SquaredDistances, Tensor Indices) Exact(Tensor z, int k, CancellationToken cancellation)
    {
        long n = z.shape[0];
        // Chunks small enough that each [rows, n] distance block comes from the heap: a block above glibc's mmap
        // threshold is mapped and page-faulted afresh for every chunk, which costs as much system time as the compute.
        long chunk = TorchRuntime.HeapChunkRows(sizeof(float) * n);
        // The results go into tensors allocated once, before the loop. Results allocated per chunk would sit in the
        // heap between that chunk's temporaries and keep the heap from reusing their space, so resident memory would
        // grow by most of a distance block per chunk: quadratically in the rows.
        var distances = empty(n, k, device: z.device);
        var indices = empty(n, k, dtype: ScalarType.Int64, device: z.device);
        var squaredNorms = z.square().sum(dim: 1);
        for (long start = 0; start < n; start += chunk)
        {
            cancellation.ThrowIfCancellationRequested();
            long size = Math.Min(chunk, n - start);
            using var step = NewDisposeScope();
            var rows = z.narrow(0, start, size);
            // ‖a‖² − 2a·b + ‖b‖², computed in place in the one [size, n] block.
            var d = rows.mm(z.t()).mul_(-2).add_(squaredNorms.narrow(0, start, size).unsqueeze(1)).add_(squaredNorms.unsqueeze(0)).clamp_min_(0);
            // Exclude each row itself.
            d.index_put_(float.PositiveInfinity, arange(size, device: z.device), arange(start, start + size, device: z.device));
            var (values, index) = d.topk(k, dim: 1, largest: false);
            distances.narrow(0, start, size).copy_(values);
            indices.narrow(0, start, size).copy_(index);
        }
        return (distances, indices);
    }

    /// <summary>
    /// <see cref="Approximate(float[], int, int, int, ulong, CancellationToken, int)"/> on the rows of an embedding
    /// tensor [N, E], on any device: its squared distances and indices, [N, k] row-major.
    /// </summary>
    public static (float[] SquaredDistances, int[] Indices) Approximate(Tensor z, int k, ulong seed, CancellationToken cancellation)
    {
        float[] rows;
        using (var cpu = z.detach().to(CPU).contiguous())
            rows = cpu.data<float>().ToArray();
        return Approximate(rows, (int)z.shape[0], (int)z.shape[1], k, seed, cancellation);
    }

    /// <summary><see cref="Exact"/> as managed lists on the CPU: Euclidean (not squared) distances and indices, both row-major [N, k].</summary>
    public static (float[] Distances, long[] Indices) ExactLists(Tensor z, int k, CancellationToken cancellation)
    {
        using var scope = NewDisposeScope();
        var (squared, indices) = Exact(z, k, cancellation);
        return (squared.sqrt().cpu().data<float>().ToArray(), indices.cpu().data<long>().ToArray());
    }
}
