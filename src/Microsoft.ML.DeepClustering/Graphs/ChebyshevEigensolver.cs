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
/// Memory is three blocks of <c>count</c> rounded up to 8, plus 8 guard vectors: linear in the rows with a small
/// constant. A block as wide as the count resolves eigenvalues of any multiplicity up to it (disconnected components
/// all have eigenvalue 1). The sparse products sum each row in a fixed order, so the result does not depend on the
/// threads of the products; the small dense steps run in libtorch.
/// </para>
/// </summary>
internal static class ChebyshevEigensolver
{
    /// <summary>
    /// Rows per slice of the float64 Gram sums and the residuals: their temporaries (a few copies of a slice) stay a few
    /// MB, small beside a block, whatever the rows.
    /// </summary>
    private const long SliceRows = 8_192;

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
        // Three blocks for the whole run: x always holds the current block, the other two are spare. The filter's
        // three-term recurrence needs three, and so does the Rayleigh–Ritz step; the orthonormalisation needs one spare.
        var x = randn(new long[] { n, width }, generator: generator);
        var a = empty(n, width);
        var b = empty(n, width);
        Orthonormal(ref x, ref a);
        var (ritz, residuals) = RayleighRitz(s, ref x, ref a, ref b, parallel);
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
            Filter(s, ref x, ref a, ref b, cut, parallel);
            products += Degree;
            Orthonormal(ref x, ref a);
            (ritz, residuals) = RayleighRitz(s, ref x, ref a, ref b, parallel);
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
    /// x ← T_d((S − c)/e) x by the three-term recurrence, [−1, cut] mapped to [−1, 1] (c its centre, e its half-width),
    /// in the three buffers x, a and b: the result comes back in x and the other two as spares.
    /// </summary>
    private static void Filter(SparseMatrix s, ref Tensor x, ref Tensor a, ref Tensor b, float cut, ParallelOptions parallel)
    {
        double e = (cut + 1) / 2, centre = (cut - 1) / 2;
        var previous = x;
        var current = a;
        var free = b;
        Multiply(s, previous, current, parallel);
        current.add_(previous, -centre).div_(e);
        for (int step = 2; step <= Degree; step++)
        {
            var next = free;
            Multiply(s, current, next, parallel);
            // next = 2(S − c)·current / e − previous
            next.add_(current, -centre).mul_(2 / e).sub_(previous);
            free = previous;
            previous = current;
            current = next;
        }
        (x, a, b) = (current, previous, free);
    }

    /// <summary>
    /// Makes x's columns orthonormal with the same span, writing into the spare buffer and swapping the two. Two passes
    /// of SVQB (Stathopoulos and Wu 2002): with G = XᵀX summed in float64, X ← X·D·U·Λ^(−1/2), D scaling G to a unit
    /// diagonal and G's scaled form = UΛUᵀ. A pass leaves the columns orthonormal to about float32's precision times
    /// X's condition number, so the second takes them to float32's. Unlike a Householder QR in libtorch, it needs no
    /// block-sized temporaries: at a million rows those were two more blocks of 128 MB each.
    /// </summary>
    private static void Orthonormal(ref Tensor x, ref Tensor spare)
    {
        for (int pass = 0; pass < 2; pass++)
        {
            using var scope = NewDisposeScope();
            var gram = Gram(x);
            var scale = gram.diagonal().clamp_min(1e-300).rsqrt();
            var (values, vectors) = linalg.eigh(gram * scale.unsqueeze(1) * scale.unsqueeze(0));
            // A column that lies in the span of the others (a value at rounding level) is kept finite, not amplified to noise.
            var floor = values.max().item<double>() * 1e-12;
            var transform = scale.unsqueeze(1) * vectors * values.clamp_min(floor).rsqrt().unsqueeze(0);
            spare.addmm_(x, transform.to(ScalarType.Float32), beta: 0, alpha: 1);
            (x, spare) = (spare, x);
        }
    }

    /// <summary>XᵀX for an [N, w] float32 block, summed in float64 a slice of rows at a time (no block-sized float64 copy).</summary>
    private static Tensor Gram(Tensor x)
    {
        long n = x.shape[0];
        var sum = zeros(new[] { x.shape[1], x.shape[1] }, ScalarType.Float64);
        for (long start = 0; start < n; start += SliceRows)
        {
            using var scope = NewDisposeScope();
            var slice = x.narrow(0, start, Math.Min(SliceRows, n - start)).to(ScalarType.Float64);
            sum.add_(slice.t().mm(slice));
        }
        return sum;
    }

    /// <summary>
    /// Rotates the orthonormal block x to the Ritz vectors of S in its span, ascending; returns the Ritz values and each
    /// vector's residual norm ‖Sx − θx‖. Uses the two spares: Sx goes into one, the rotated block into the other, which
    /// becomes x; the residuals are summed a slice of rows at a time, so no third block is needed.
    /// </summary>
    private static (float[] Ritz, float[] Residuals) RayleighRitz(SparseMatrix s, ref Tensor x, ref Tensor a, ref Tensor b, ParallelOptions parallel)
    {
        using var scope = NewDisposeScope();
        Multiply(s, x, a, parallel);
        var h = x.t().mm(a).to(ScalarType.Float64);
        var (values, vectors) = linalg.eigh((h + h.t()) / 2);
        var rotation = vectors.to(ScalarType.Float32);
        var theta = values.to(ScalarType.Float32);
        b.addmm_(x, rotation, beta: 0, alpha: 1);          // the Ritz vectors
        long n = x.shape[0];
        var squares = zeros(new[] { x.shape[1] }, ScalarType.Float64);
        for (long start = 0; start < n; start += SliceRows)
        {
            using var inner = NewDisposeScope();
            long count = Math.Min(SliceRows, n - start);
            // S times the Ritz vectors, less θ times them: their residuals.
            var residual = a.narrow(0, start, count).mm(rotation).sub_(b.narrow(0, start, count) * theta);
            squares.add_(residual.to(ScalarType.Float64).square().sum(dim: 0));
        }
        (x, b) = (b, x);
        return (theta.data<float>().ToArray(), squares.sqrt().to(ScalarType.Float32).data<float>().ToArray());
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
