using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Graphs;

/// <summary>
/// The leading eigenvectors of a symmetric sparse matrix whose spectrum lies in [−1, 1] (a normalised affinity
/// D^(−1/2) W D^(−1/2)) by Chebyshev-filtered subspace iteration (Zhou and Saad 2007). A block of a few more vectors
/// than wanted is multiplied by a Chebyshev polynomial of the matrix that stays within ±1 on [−1, cut] and grows
/// steeply above it, cut being the block's smallest Ritz value; then the block is orthonormalised and rotated to its
/// Ritz vectors (Rayleigh–Ritz). The polynomial's degree in sparse products per orthogonalisation is what makes it
/// cheap on large graphs: a Krylov method orthogonalises every new vector against a basis many blocks wide, which on a
/// sparse graph costs more than the products themselves and keeps that basis in memory.
/// <para>
/// Memory is four blocks of <c>count</c> rounded up to 8, plus 8 guard vectors: linear in the rows with a small
/// constant. A block as wide as the count resolves eigenvalues of any multiplicity up to it (disconnected components
/// all have eigenvalue 1). The sparse products sum each row in a fixed order, so the result does not depend on the
/// threads of the products; the small dense steps run in libtorch.
/// </para>
/// </summary>
internal static class ChebyshevEigensolver
{
    /// <summary>Sparse products per Chebyshev filter (its polynomial degree).</summary>
    private const int Degree = 10;

    /// <summary>
    /// Columns beyond the wanted ones: the filter damps everything below the block's smallest Ritz value, so the
    /// guards keep the wanted vectors' own eigenvalues above the cut.
    /// </summary>
    private const int Guard = 8;

    /// <summary>
    /// The <paramref name="count"/> leading eigenvectors of <paramref name="s"/> as a float32 CPU tensor [N, count],
    /// columns in ascending order of eigenvalue (the leading one last).
    /// </summary>
    /// <param name="s">Symmetric, eigenvalues in [−1, 1].</param>
    /// <param name="count">Eigenvectors wanted, 1 to N.</param>
    /// <param name="maxProducts">Sparse block products at most (each multiplies the whole block once).</param>
    /// <param name="tolerance">Stop once every wanted vector x has ‖Sx − θx‖ ≤ tolerance (x of unit length), or when the largest
    /// of these has not fallen below 0.9 of its best for four filters in a row.</param>
    /// <param name="seed">Seeds the random start.</param>
    /// <param name="cancellation">Checked before each filter.</param>
    /// <param name="threads">Threads of the sparse products (0: all processors).</param>
    /// <param name="products">Set to the sparse block products used, for benchmarks.</param>
    /// <param name="progress">Told after each Rayleigh–Ritz step the products so far, the cut and the largest residual of the wanted vectors.</param>
    public static Tensor LeadingEigenvectors(SparseMatrix s, int count, int maxProducts, ulong seed, CancellationToken cancellation,
        double tolerance, int threads, out int products, Action<int, float, float>? progress = null)
    {
        int n = s.Rows;
        if (count < 1 || count > n)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"Eigenvectors: the count must be between 1 and the rows ({n}).");
        products = 0;
        int width = (count + 7) / 8 * 8 + Guard;
        if (n <= 2 * width + 64)
            return Dense(s, count);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount, CancellationToken = cancellation };

        using var scope = NewDisposeScope();
        using var generator = new Generator(seed);
        // Four blocks for the whole run, rotated by the filter's three-term recurrence; x always holds the current block.
        var x = randn(new long[] { n, width }, generator: generator);
        var a = empty(n, width);
        var b = empty(n, width);
        var c = empty(n, width);
        x = Orthonormal(x);
        var (ritz, residuals) = RayleighRitz(s, ref x, ref a, ref b, ref c, parallel);
        products++;
        // float32 sums over a million rows leave residuals near 10⁻⁴ that no filter removes: a run whose largest
        // residual has not improved on its best for a few filters stops there instead of spending the budget.
        float best = float.PositiveInfinity;
        int stalled = 0;
        while (products + Degree + 1 <= maxProducts)
        {
            float largest = residuals.Skip(width - count).Max();
            progress?.Invoke(products, ritz[0], largest);
            if (Converged(residuals, count, tolerance))
                break;
            if (largest < 0.9f * best)
            {
                best = largest;
                stalled = 0;
            }
            else if (++stalled >= 4)
                break;
            cancellation.ThrowIfCancellationRequested();
            // Damp [−1, cut], cut the smallest Ritz value of the block: the guard vectors' side of the spectrum.
            float cut = ritz[0];
            x = Filter(s, x, a, b, c, cut, parallel, out var spare);
            products += Degree;
            // The old x became a spare buffer: keep exactly four blocks live.
            (a, b, c) = spare;
            x = Orthonormal(x);
            (ritz, residuals) = RayleighRitz(s, ref x, ref a, ref b, ref c, parallel);
            products++;
        }
        return x.narrow(1, width - count, count).contiguous().MoveToOuterDisposeScope();
    }

    /// <inheritdoc cref="LeadingEigenvectors(SparseMatrix, int, int, ulong, CancellationToken, double, int, out int, Action{int, float, float})"/>
    public static Tensor LeadingEigenvectors(SparseMatrix s, int count, int maxProducts, ulong seed, CancellationToken cancellation) =>
        LeadingEigenvectors(s, count, maxProducts, seed, cancellation, 1e-3, 0, out _);

    private static bool Converged(float[] residuals, int count, double tolerance)
    {
        for (int i = residuals.Length - count; i < residuals.Length; i++)
            if (!(residuals[i] <= tolerance))
                return false;
        return true;
    }

    /// <summary>
    /// T_d((S − c)/e) x by the three-term recurrence, [−1, cut] mapped to [−1, 1] (c its centre, e its half-width);
    /// the result lands in one of the four buffers and the other three come back as spares.
    /// </summary>
    private static Tensor Filter(SparseMatrix s, Tensor x, Tensor a, Tensor b, Tensor c, float cut, ParallelOptions parallel,
        out (Tensor, Tensor, Tensor) spare)
    {
        double e = (cut + 1) / 2, centre = (cut - 1) / 2;
        var previous = x;
        var current = a;
        Multiply(s, previous, current, parallel);
        current.add_(previous, -centre).div_(e);
        var free = new Stack<Tensor>(new[] { c, b });
        for (int step = 2; step <= Degree; step++)
        {
            var next = free.Pop();
            Multiply(s, current, next, parallel);
            // next = 2(S − c)·current / e − previous
            next.add_(current, -centre).mul_(2 / e).sub_(previous);
            free.Push(previous);
            previous = current;
            current = next;
        }
        var rest = free.ToArray();
        spare = (previous, rest[0], rest[1]);
        return current;
    }

    /// <summary>An orthonormal basis of x's columns (reduced QR), scaled first so that large filtered columns keep their precision.</summary>
    private static Tensor Orthonormal(Tensor x)
    {
        using var scope = NewDisposeScope();
        x.div_(x.norm(0, keepdim: true).clamp_min(1e-30));
        var q = linalg.qr(x).Q;
        x.copy_(q);
        return x;
    }

    /// <summary>
    /// Rotates the orthonormal block x to the Ritz vectors of S in its span, ascending; returns the Ritz values and
    /// each vector's residual norm ‖Sx − θx‖. Works in the three spare buffers (products written in place, so no
    /// block-sized temporaries): x comes back in one of them and the old x becomes a spare.
    /// </summary>
    private static (float[] Ritz, float[] Residuals) RayleighRitz(SparseMatrix s, ref Tensor x, ref Tensor a, ref Tensor b, ref Tensor c, ParallelOptions parallel)
    {
        using var scope = NewDisposeScope();
        Multiply(s, x, a, parallel);
        var h = x.t().mm(a).to(ScalarType.Float64);
        var (values, vectors) = linalg.eigh((h + h.t()) / 2);
        var rotation = vectors.to(ScalarType.Float32);
        var theta = values.to(ScalarType.Float32);
        b.addmm_(x, rotation, beta: 0, alpha: 1);          // the Ritz vectors
        c.addmm_(a, rotation, beta: 0, alpha: 1);          // S times them
        c.addmm_(b, diag(theta), beta: 1, alpha: -1);      // their residuals
        var residuals = c.norm(0);
        (x, b) = (b, x);
        return (theta.data<float>().ToArray(), residuals.data<float>().ToArray());
    }

    private static unsafe void Multiply(SparseMatrix s, Tensor x, Tensor y, ParallelOptions parallel)
    {
        int width = (int)x.shape[1];
        fixed (byte* xp = x.bytes, yp = y.bytes)
            s.Multiply((float*)xp, width, (float*)yp, width, width, parallel);
    }

    /// <summary>A small matrix: the whole dense eigendecomposition.</summary>
    private static Tensor Dense(SparseMatrix s, int count)
    {
        using var scope = NewDisposeScope();
        int n = s.Rows;
        var dense = new double[(long)n * n];
        for (int i = 0; i < n; i++)
            for (int e = s.RowStart[i]; e < s.RowStart[i + 1]; e++)
                dense[(long)i * n + s.Columns[e]] += s.Values[e];
        var matrix = tensor(dense, new long[] { n, n });
        var (_, vectors) = linalg.eigh((matrix + matrix.t()) / 2);
        return vectors.narrow(1, n - count, count).to(ScalarType.Float32).contiguous().MoveToOuterDisposeScope();
    }
}
