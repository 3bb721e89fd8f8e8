using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Graphs;

/// <summary>The leading eigenvectors of a graph's normalised affinity (<see cref="Affinity.Normalised(Tensor, Tensor, Tensor, long)"/>).</summary>
internal static class LeadingEigenvectors
{
    /// <summary>
    /// The k largest eigenvectors of the symmetric sparse S by restarted block Krylov iteration with Rayleigh–Ritz:
    /// each restart builds span{Y, SY, …, S^(b−1)Y} with blocks of k columns, orthonormalised against all earlier
    /// ones, and keeps the Ritz vectors of the k largest Ritz values. Plain power steps stall on graphs whose leading
    /// eigenvalues crowd near 1 (long manifolds); Krylov spaces do not, and blocks of k columns resolve eigenvalues of
    /// multiplicity up to k (disconnected components).
    /// Columns come in ascending order of eigenvalue, the leading one last; the random start is drawn from
    /// <paramref name="generator"/>, so a seed fixes them.
    /// </summary>
    /// <param name="s">The symmetric sparse matrix [n, n].</param>
    /// <param name="n">Its order.</param>
    /// <param name="k">How many eigenvectors.</param>
    /// <param name="products">Sparse products to spend, in restarts of 30 blocks.</param>
    /// <param name="generator">Draws the random start.</param>
    /// <param name="cancellation">Checked between products.</param>
    public static Tensor Of(Tensor s, long n, int k, int products, Generator generator, CancellationToken cancellation)
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
        var y = linalg.qr(randn(new long[] { n, width }, generator: generator).to(s.device)).Q;
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
                cancellation.ThrowIfCancellationRequested();
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
}
