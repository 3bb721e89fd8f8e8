namespace Microsoft.ML.DeepClustering.Samples.Report;

/// <summary>
/// Principal component analysis down to two dimensions, in managed code: the covariance of the embedding
/// (E × E, E is small: 10 by default), its eigenvectors by Jacobi rotations, the two largest kept.
/// </summary>
public sealed class Pca2D
{
    private readonly double[] _mean;
    private readonly double[] _first;
    private readonly double[] _second;

    private Pca2D(double[] mean, double[] first, double[] second, double explainedFirst, double explainedSecond)
    {
        _mean = mean;
        _first = first;
        _second = second;
        ExplainedFirst = explainedFirst;
        ExplainedSecond = explainedSecond;
    }

    /// <summary>Share of the total variance along the first component.</summary>
    public double ExplainedFirst { get; }

    /// <summary>Share of the total variance along the second component.</summary>
    public double ExplainedSecond { get; }

    public static Pca2D Fit(IReadOnlyList<float[]> points)
    {
        if (points.Count == 0)
            throw new ArgumentException("PCA needs at least one point.", nameof(points));
        int d = points[0].Length;
        var mean = new double[d];
        foreach (var p in points)
            for (int j = 0; j < d; j++)
                mean[j] += p[j];
        for (int j = 0; j < d; j++)
            mean[j] /= points.Count;

        var cov = new double[d, d];
        foreach (var p in points)
            for (int a = 0; a < d; a++)
            {
                double da = p[a] - mean[a];
                for (int b = a; b < d; b++)
                    cov[a, b] += da * (p[b] - mean[b]);
            }
        for (int a = 0; a < d; a++)
            for (int b = a; b < d; b++)
            {
                cov[a, b] /= Math.Max(1, points.Count - 1);
                cov[b, a] = cov[a, b];
            }

        var (values, vectors) = Jacobi(cov);
        var order = Enumerable.Range(0, d).OrderByDescending(i => values[i]).ToArray();
        double total = values.Sum(v => Math.Max(0, v));
        double[] Column(int c) => Enumerable.Range(0, d).Select(r => vectors[r, c]).ToArray();
        var first = Column(order[0]);
        var second = d > 1 ? Column(order[1]) : new double[d];
        double e1 = total > 0 ? Math.Max(0, values[order[0]]) / total : 0;
        double e2 = total > 0 && d > 1 ? Math.Max(0, values[order[1]]) / total : 0;
        return new Pca2D(mean, first, second, e1, e2);
    }

    public (double X, double Y) Project(float[] point)
    {
        double x = 0, y = 0;
        for (int j = 0; j < _mean.Length; j++)
        {
            double c = point[j] - _mean[j];
            x += c * _first[j];
            y += c * _second[j];
        }
        return (x, y);
    }

    /// <summary>Eigenvalues and eigenvectors (columns) of a symmetric matrix by cyclic Jacobi rotations.</summary>
    private static (double[] Values, double[,] Vectors) Jacobi(double[,] matrix)
    {
        int n = matrix.GetLength(0);
        var a = (double[,])matrix.Clone();
        var v = new double[n, n];
        for (int i = 0; i < n; i++)
            v[i, i] = 1;
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++)
                    off += a[p, q] * a[p, q];
            if (off < 1e-22)
                break;
            for (int p = 0; p < n; p++)
            {
                for (int q = p + 1; q < n; q++)
                {
                    if (Math.Abs(a[p, q]) < 1e-300)
                        continue;
                    double theta = (a[q, q] - a[p, p]) / (2 * a[p, q]);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0)
                        t = 1;
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double akp = a[k, p], akq = a[k, q];
                        a[k, p] = c * akp - s * akq;
                        a[k, q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double apk = a[p, k], aqk = a[q, k];
                        a[p, k] = c * apk - s * aqk;
                        a[q, k] = s * apk + c * aqk;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double vkp = v[k, p], vkq = v[k, q];
                        v[k, p] = c * vkp - s * vkq;
                        v[k, q] = s * vkp + c * vkq;
                    }
                }
            }
        }
        var values = new double[n];
        for (int i = 0; i < n; i++)
            values[i] = a[i, i];
        return (values, v);
    }
}
