namespace Microsoft.ML.DeepClustering.Model;

/// <summary>
/// Whether a model's centroids can be told apart where it is scored. ML.NET's k-means, which holds the centroids of a
/// saved model, computes squared distances in float32 as ‖x‖² + ‖c‖² − 2x·c, whose rounding grows with the norms. Two
/// centroids closer than <see cref="IndistinctShare"/> of ‖a‖² + ‖b‖² are one cluster there: the rows between them
/// go to either by rounding, and ML.NET's k-means++ cannot even build the model ("Not enough distinct instances").
/// Self-training treats such a pair as a collapse, like a cluster that lost all its rows; the scoring chain refuses it.
/// </summary>
internal static class CentroidSeparation
{
    /// <summary>About a hundred times float32's rounding of ‖a‖² + ‖b‖², so that a pair that passes stays apart in ML.NET's arithmetic.</summary>
    public const double IndistinctShare = 1e-5;

    /// <summary>The first pair (in row order) too close to be told apart, with its squared distance and the sum of its squared norms; null when every pair is apart.</summary>
    public static (int First, int Second, double SquaredDistance, double SquaredNorms)? IndistinctPair(IReadOnlyList<float[]> centroids)
    {
        var norms = centroids.Select(SquaredNorm).ToArray();
        for (int i = 0; i < centroids.Count; i++)
            for (int j = i + 1; j < centroids.Count; j++)
            {
                double distance = SquaredDistance(centroids[i], centroids[j]);
                double both = norms[i] + norms[j];
                if (distance <= Math.Max(1e-10, IndistinctShare * both))
                    return (i, j, distance, both);
            }
        return null;
    }

    /// <summary>‖a − b‖², summed in float64.</summary>
    public static double SquaredDistance(float[] a, float[] b)
    {
        double sum = 0;
        for (int t = 0; t < a.Length; t++)
        {
            double d = (double)a[t] - b[t];
            sum += d * d;
        }
        return sum;
    }

    /// <summary>‖a‖², summed in float64.</summary>
    public static double SquaredNorm(float[] a) => a.Sum(v => (double)v * v);
}
