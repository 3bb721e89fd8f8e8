using Microsoft.ML.DeepClustering.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// Manifold-aware seeding, in the spirit of N2D (McConville et al. 2019), which clusters an autoencoder's embedding
/// along its manifold instead of with k-means' round clusters. We use spectral clustering of the k-nearest-neighbour
/// graph (Ng, Jordan and Weiss 2002, with the self-tuning affinities of Zelnik-Manor and Perona 2004), then start DEC
/// from the mean embedding of each spectral cluster. Unlike N2D's UMAP + GMM, the fitted model stays "encoder +
/// centroids", so new rows are scored by the same ONNX graph.
/// </summary>
internal static class SpectralSeeding
{
    /// <summary>
    /// The graph's leading eigenvectors, columns in ascending order of eigenvalue (the leading one last), and the
    /// neighbours per row of the graph they came from. They do not depend on K beyond their number: choosing K
    /// computes them once, for the largest candidate, and each candidate clusters its own leading columns.
    /// </summary>
    internal sealed record Eigenvectors(Tensor Vectors, int Neighbours) : IDisposable
    {
        public void Dispose() => Vectors.Dispose();
    }

    /// <summary><see cref="EigenvectorsOf"/>, then <see cref="Cluster"/>: centroids [K, E] in the space of <paramref name="z"/>.</summary>
    /// <param name="z">Embeddings [N, E] on the training device.</param>
    /// <param name="context">K, neighbours, restarts, generator and cancellation of this Fit.</param>
    public static KMeansSeeding.Result Run(Tensor z, TrainingContext context)
    {
        using var eigenvectors = EigenvectorsOf(z, context, EigenvectorCount(context.Options, context.Options.NumberOfClusters));
        return Cluster(z, eigenvectors, context);
    }

    /// <summary>Steps 1–3: the <paramref name="count"/> leading eigenvectors of the embedding's normalised neighbour graph.</summary>
    public static Eigenvectors EigenvectorsOf(Tensor z, TrainingContext context, int count)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long n = z.shape[0];
        int neighbours = (int)Math.Min(context.Options.SpectralNeighbors, n - 1);
        using var scope = NewDisposeScope();

        // 1. k nearest neighbours of every row (itself excluded), by chunks to bound memory.
        var (distances, indices) = NearestNeighbours(z, neighbours, context.Cancellation);

        // 2. Self-tuning affinity w_ij = exp(−d²_ij / (σ_i σ_j)), σ_i = distance to the (k/2)-th neighbour; symmetrised.
        var sigma = distances[.., Math.Max(0, neighbours / 2 - 1)].sqrt().clamp_min(1e-8);
        var rows = arange(n, device: z.device).unsqueeze(1).expand(n, neighbours).reshape(-1);
        var cols = indices.reshape(-1);
        var weights = (-distances.reshape(-1) / (sigma[rows] * sigma[cols])).exp();
        // W = (A + Aᵀ)/2 as a list of entries; a pair that are each other's neighbours appears twice, and sparse
        // products add duplicates, so it gets its full weight.
        var from = cat(new[] { rows, cols });
        var to = cat(new[] { cols, rows });
        var values = cat(new[] { weights, weights }) / 2;

        // 3. S = D^(-1/2) W D^(-1/2) and its leading eigenvectors (see DeepClusterOptions.SpectralEigenvectors).
        var s = NormalisedAffinity(from, to, values, n);
        var vectors = TopEigenvectors(s, n, (int)Math.Min(count, n), context.Options.SpectralIterations, context);
        context.Log($"Spectral seeding: {vectors.shape[1]} leading eigenvectors of the {neighbours}-NN graph of {n} rows in {clock.Elapsed.TotalSeconds:F1} s.");
        return new Eigenvectors(vectors.MoveToOuterDisposeScope(), neighbours);
    }

    /// <summary>Steps 4–5: k-means++ on the leading <see cref="EigenvectorCount"/> eigenvectors for this K, then the mean embedding per cluster.</summary>
    public static KMeansSeeding.Result Cluster(Tensor z, Eigenvectors eigenvectors, TrainingContext context)
    {
        long n = z.shape[0], available = eigenvectors.Vectors.shape[1];
        long count = Math.Min(EigenvectorCount(context.Options, context.Options.NumberOfClusters), available);
        using var scope = NewDisposeScope();
        var basis = eigenvectors.Vectors.narrow(1, available - count, count);
        // 4. Rows normalised to the unit sphere, then k-means++ with restarts on them (K clusters, whatever the vectors).
        var spectral = basis / basis.norm(1, keepdim: true).clamp_min(1e-12);
        // 5. Centroids in the embedding space: the mean z of each spectral cluster.
        var clustering = KMeansSeeding.RunIn(spectral, z, context, $"Spectral seeding: k-means on the leading {basis.shape[1]} of them");
        return clustering with { Centroids = clustering.Centroids.MoveToOuterDisposeScope() };
    }

    /// <summary>The eigenvectors k-means runs on for <paramref name="k"/> clusters: <see cref="DeepClusterOptions.SpectralEigenvectors"/>, or K + ⌊K/5⌋ when it is 0.</summary>
    internal static int EigenvectorCount(DeepClusterOptions options, int k) =>
        options.SpectralEigenvectors > 0 ? options.SpectralEigenvectors : k + k / 5;

    /// <summary>
    /// S = D^(−1/2) W D^(−1/2) as a sparse [n, n] matrix, W given as entries (from, to, value) in both directions
    /// (duplicates add up) and D its row sums; a row without edges gets degree 1e-12 rather than a division by zero.
    /// </summary>
    internal static Tensor NormalisedAffinity(Tensor from, Tensor to, Tensor values, long n)
    {
        var degree = zeros(n, device: values.device).index_add_(0, from, values, 1).clamp_min(1e-12);
        var invSqrt = degree.rsqrt();
        return sparse_coo_tensor(stack(new[] { from, to }), values * invSqrt[from] * invSqrt[to], new[] { n, n });
    }

    /// <summary>
    /// The k largest eigenvectors of the symmetric sparse S by restarted block Krylov iteration with Rayleigh–Ritz:
    /// each restart builds span{Y, SY, …, S^(b−1)Y} with blocks of k columns, orthonormalised against all earlier
    /// ones, and keeps the Ritz vectors of the k largest Ritz values. Plain power steps stall on graphs whose leading
    /// eigenvalues crowd near 1 (long manifolds); Krylov spaces do not, and blocks of k columns resolve eigenvalues of
    /// multiplicity up to k (disconnected components).
    /// </summary>
    internal static Tensor TopEigenvectors(Tensor s, long n, int k, int products, TrainingContext context)
    {
        const int blocksPerRestart = 30;
        int restarts = Math.Max(1, (int)Math.Ceiling(products / (double)blocksPerRestart));
        int width = k + Math.Min(k, 5); // a few extra columns speed up convergence of the k-th vector
        if (n < 2 * width)
        {
            // Too few rows for two Krylov blocks: the whole eigendecomposition is small.
            using var scope = NewDisposeScope();
            var dense = s.to_dense();
            var (_, all) = linalg.eigh((dense + dense.t()) / 2);
            return all.narrow(1, n - k, k).MoveToOuterDisposeScope();
        }
        var y = linalg.qr(randn(new long[] { n, width }, generator: context.Generator).to(s.device)).Q;
        for (int restart = 0; restart < restarts; restart++)
        {
            using var scope = NewDisposeScope();
            int count = (int)Math.Min(blocksPerRestart, Math.Max(1, n / width - 1));
            // The Krylov blocks are written side by side into one basis allocated per restart. Concatenating the blocks
            // so far at every step would keep each copy alive until the restart ends: on 70,000 rows about 2 GB of
            // copies per restart, which would be most of spectral seeding's peak memory.
            var basis = empty(n, count * width, device: s.device);
            basis.narrow(1, 0, width).copy_(y);
            y.Dispose();
            for (int b = 1; b < count; b++)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                using var step = NewDisposeScope();
                var w = s.mm(basis.narrow(1, (b - 1) * width, width));
                var v = basis.narrow(1, 0, b * width);
                // Classical Gram–Schmidt twice against everything so far keeps the basis orthogonal in float32.
                w.sub_(v.mm(v.t().mm(w)));
                w.sub_(v.mm(v.t().mm(w)));
                basis.narrow(1, b * width, width).copy_(linalg.qr(w).Q);
            }
            var projected = basis.t().mm(s.mm(basis));
            var (_, vectors) = linalg.eigh((projected + projected.t()) / 2);
            // eigh sorts ascending: the last columns belong to the largest Ritz values.
            y = basis.mm(vectors.narrow(1, vectors.shape[1] - width, width)).MoveToOuterDisposeScope();
        }
        return y.narrow(1, width - k, k);
    }

    internal static (Tensor Distances, Tensor Indices) NearestNeighbours(Tensor z, int neighbours, CancellationToken cancellation)
    {
        long n = z.shape[0];
        // Chunks small enough that each [rows, n] distance block comes from the heap: a block above glibc's mmap
        // threshold is mapped and page-faulted afresh for every chunk, which costs as much system time as the compute.
        long chunk = TorchRuntime.HeapChunkRows(sizeof(float) * n);
        // The results go into tensors allocated once, before the loop. Results allocated per chunk would sit in the
        // heap between that chunk's temporaries and keep the heap from reusing their space, so resident memory would
        // grow by most of a distance block per chunk: quadratically in the rows.
        var distances = empty(n, neighbours, device: z.device);
        var indices = empty(n, neighbours, dtype: ScalarType.Int64, device: z.device);
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
            var (values, index) = d.topk(neighbours, dim: 1, largest: false);
            distances.narrow(0, start, size).copy_(values);
            indices.narrow(0, start, size).copy_(index);
        }
        return (distances, indices);
    }
}
