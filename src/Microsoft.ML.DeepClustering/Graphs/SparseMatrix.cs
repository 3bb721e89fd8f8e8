using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Microsoft.ML.DeepClustering.Graphs;

/// <summary>
/// A square sparse matrix in compressed sparse rows: row i's entries are <c>Columns[RowStart[i]..RowStart[i + 1]]</c>
/// with <c>Values</c> alongside. Managed arrays, so that a graph of a million rows costs its entries and nothing more,
/// and a product visits each row's entries in a fixed order whatever the threads.
/// </summary>
internal sealed record SparseMatrix(int Rows, int[] RowStart, int[] Columns, float[] Values)
{
    /// <summary>Stored entries.</summary>
    public int Entries => RowStart[Rows];

    /// <summary>
    /// The symmetric matrix W = (A + Aᵀ)/2 of the directed edges i → <c>indices[i, t]</c> with weights
    /// <c>weights[i, t]</c> ([n, k] row-major), entries with the same (row, column) added up: a pair that are each
    /// other's neighbours gets its full weight, a one-way pair half of it.
    /// </summary>
    public static SparseMatrix Symmetrised(int n, int k, int[] indices, float[] weights)
    {
        if ((long)n * k * 2 > int.MaxValue)
            throw new ArgumentException($"Sparse matrix: {n} rows × {k} neighbours in both directions exceed {int.MaxValue} entries.");
        // Count both directions per row, then fill, then merge duplicate columns within each row.
        var count = new int[n + 1];
        for (int i = 0; i < n; i++)
        {
            for (int t = 0; t < k; t++)
            {
                count[i + 1]++;
                count[indices[i * k + t] + 1]++;
            }
        }
        for (int i = 0; i < n; i++)
            count[i + 1] += count[i];
        var columns = new int[count[n]];
        var values = new float[count[n]];
        var next = (int[])count.Clone();
        for (int i = 0; i < n; i++)
        {
            for (int t = 0; t < k; t++)
            {
                int j = indices[i * k + t];
                float w = weights[i * k + t] / 2;
                columns[next[i]] = j; values[next[i]++] = w;
                columns[next[j]] = i; values[next[j]++] = w;
            }
        }
        // Sort each row by column and add duplicates, compacting in place.
        var rowStart = new int[n + 1];
        int written = 0;
        for (int i = 0; i < n; i++)
        {
            int start = count[i], end = count[i + 1];
            Array.Sort(columns, values, start, end - start);
            rowStart[i] = written;
            for (int e = start; e < end; e++)
            {
                if (written > rowStart[i] && columns[written - 1] == columns[e])
                    values[written - 1] += values[e];
                else
                {
                    columns[written] = columns[e];
                    values[written++] = values[e];
                }
            }
        }
        rowStart[n] = written;
        Array.Resize(ref columns, written);
        Array.Resize(ref values, written);
        return new SparseMatrix(n, rowStart, columns, values);
    }

    /// <summary>
    /// The self-tuning affinity of a k-nearest-neighbour graph (Zelnik-Manor and Perona 2004), as spectral seeding
    /// builds it: w_ij = exp(−d²_ij / (σ_i σ_j)), σ_i the distance to row i's (k/2)-th neighbour, symmetrised
    /// (<see cref="Symmetrised"/>) and normalised to D^(−1/2) W D^(−1/2) (<see cref="Normalised"/>).
    /// </summary>
    /// <param name="n">Rows.</param>
    /// <param name="k">Neighbours per row.</param>
    /// <param name="squaredDistances">[n, k] row-major, each row ascending.</param>
    /// <param name="indices">[n, k] row-major neighbour rows.</param>
    public static SparseMatrix SelfTuningAffinity(int n, int k, float[] squaredDistances, int[] indices)
    {
        var sigma = new float[n];
        int column = Math.Max(0, k / 2 - 1);
        for (int i = 0; i < n; i++)
            sigma[i] = MathF.Max(MathF.Sqrt(squaredDistances[i * k + column]), 1e-8f);
        var weights = new float[(long)n * k];
        for (int i = 0; i < n; i++)
            for (int t = 0; t < k; t++)
                weights[i * k + t] = MathF.Exp(-squaredDistances[i * k + t] / (sigma[i] * sigma[indices[i * k + t]]));
        return Symmetrised(n, k, indices, weights).Normalised();
    }

    /// <summary>D^(−1/2) M D^(−1/2), D the row sums; a row without weight gets degree 1e-12 rather than a division by zero.</summary>
    public SparseMatrix Normalised()
    {
        var invSqrt = new float[Rows];
        for (int i = 0; i < Rows; i++)
        {
            double degree = 0;
            for (int e = RowStart[i]; e < RowStart[i + 1]; e++)
                degree += Values[e];
            invSqrt[i] = (float)(1 / Math.Sqrt(Math.Max(degree, 1e-12)));
        }
        var values = new float[Values.Length];
        for (int i = 0; i < Rows; i++)
            for (int e = RowStart[i]; e < RowStart[i + 1]; e++)
                values[e] = Values[e] * invSqrt[i] * invSqrt[Columns[e]];
        return this with { Values = values };
    }

    /// <summary>
    /// Y = M X for <paramref name="width"/> columns: X's row j starts at <c>x + j·xStride</c>, Y's row i at
    /// <c>y + i·yStride</c> (row-major blocks inside wider matrices). Each output row sums its entries in column order,
    /// so the result does not depend on the threads.
    /// </summary>
    public unsafe void Multiply(float* x, int xStride, float* y, int yStride, int width, ParallelOptions parallel)
    {
        const int rowsPerChunk = 2048;
        nint xp = (nint)x, yp = (nint)y;
        Parallel.For(0, (Rows + rowsPerChunk - 1) / rowsPerChunk, parallel, chunk =>
        {
            float* xs = (float*)xp, ys = (float*)yp;
            int end = Math.Min(Rows, (chunk + 1) * rowsPerChunk);
            for (int i = chunk * rowsPerChunk; i < end; i++)
                MultiplyRow(i, xs, xStride, ys + (long)i * yStride, width);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe void MultiplyRow(int i, float* x, int xStride, float* output, int width)
    {
        int c = 0;
        for (; c + 8 <= width; c += 8)
        {
            var acc = Vector256<float>.Zero;
            for (int e = RowStart[i]; e < RowStart[i + 1]; e++)
                acc += Vector256.Create(Values[e]) * Vector256.Load(x + (long)Columns[e] * xStride + c);
            acc.Store(output + c);
        }
        for (; c < width; c++)
        {
            float sum = 0;
            for (int e = RowStart[i]; e < RowStart[i + 1]; e++)
                sum += Values[e] * x[(long)Columns[e] * xStride + c];
            output[c] = sum;
        }
    }
}
