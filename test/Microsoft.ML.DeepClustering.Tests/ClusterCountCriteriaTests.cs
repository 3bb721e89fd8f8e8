using Microsoft.ML.DeepClustering.Graphs;
using Microsoft.ML.DeepClustering.Seeding;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>The criteria for choosing K, on four points of a line computed by hand: {0, 1} and {10, 11}.</summary>
public class ClusterCountCriteriaTests
{
    private static readonly float[][] Rows = [[0f], [1f], [10f], [11f]];
    private static readonly int[] Labels = [0, 0, 1, 1];
    private static readonly float[][] Centroids = [[0.5f], [10.5f]];

    [Fact]
    public void SilhouetteOfTwoTightPairs()
    {
        // a = 1 for every point; b = 10.5 for the outer points (0 and 11), 9.5 for the inner ones (1 and 10):
        // the mean of 9.5/10.5 and 8.5/9.5 = 0.899749.
        Assert.Equal(0.899749, ClusterCountCriteria.Silhouette(Rows, Labels, 2, [0, 1, 2, 3]), 6);
    }

    [Fact]
    public void SilhouetteOnASampleUsesDistancesWithinTheSample()
    {
        // Sample {0, 1, 2}: point 2 is alone in its cluster (0); points 0 and 1 have a = 1, b = 10 and 9.
        Assert.Equal((0.9 + 8.0 / 9) / 3, ClusterCountCriteria.Silhouette(Rows, Labels, 2, [0, 1, 2]), 6);
    }

    [Fact]
    public void CalinskiHarabaszAndDaviesBouldin()
    {
        // Mean 5.5: between = 2·25 + 2·25 = 100 over K − 1 = 1; within = 4 · 0.25 = 1 over N − K = 2: CH = 200.
        Assert.Equal(200, ClusterCountCriteria.CalinskiHarabasz(Rows, Labels, Centroids), 6);
        // Scatter 0.5 in each cluster, centroids 10 apart: (0.5 + 0.5) / 10 = 0.1.
        Assert.Equal(0.1, ClusterCountCriteria.DaviesBouldin(Rows, Labels, Centroids), 6);
        Assert.Equal(1, ClusterCountCriteria.Inertia(Rows, Labels, Centroids), 6);
    }

    [Fact]
    public void TheTrueSplitScoresBetterThanAWrongOne()
    {
        int[] wrong = [0, 1, 1, 1];
        float[][] wrongCentroids = [[0f], [22f / 3]];
        Assert.True(ClusterCountCriteria.Silhouette(Rows, Labels, 2, [0, 1, 2, 3]) > ClusterCountCriteria.Silhouette(Rows, wrong, 2, [0, 1, 2, 3]));
        Assert.True(ClusterCountCriteria.CalinskiHarabasz(Rows, Labels, Centroids) > ClusterCountCriteria.CalinskiHarabasz(Rows, wrong, wrongCentroids));
        Assert.True(ClusterCountCriteria.DaviesBouldin(Rows, Labels, Centroids) < ClusterCountCriteria.DaviesBouldin(Rows, wrong, wrongCentroids));
    }

    [Fact]
    public void ModularityOfTwoTrianglesJoinedByOneEdge()
    {
        // Triangles 0-1-2 and 3-4-5 and the edge 2-3, unit weights: W = 7, each triangle's degrees sum to 7.
        // Split into the triangles: 6/7 inside, less 2·(7/14)² expected = 5/14. All in one cluster: 1 − 1 = 0.
        var graph = new WeightedGraph([0, 0, 1, 3, 3, 4, 2], [1, 2, 2, 4, 5, 5, 3], [1, 1, 1, 1, 1, 1, 1]);
        Assert.Equal(5.0 / 14, Modularity.Of(graph, [0, 0, 0, 1, 1, 1], 2), 12);
        Assert.Equal(0.0, Modularity.Of(graph, [0, 0, 0, 0, 0, 0], 1), 12);
        // A cut through a triangle: {0, 1} against the rest keeps 5 of 7 edges inside, degrees 4 and 10: 5/7 − (4² + 10²)/14².
        Assert.Equal(5.0 / 7 - 116.0 / 196, Modularity.Of(graph, [0, 0, 1, 1, 1, 1], 2), 12);
    }

    [Fact]
    public void NormalisedModularityIsOneForCleanEqualCommunities()
    {
        // Two disconnected triangles: modularity 1 − 2·(1/2)² = 1/2 = 1 − 1/K, so the share is 1.
        var graph = new WeightedGraph([0, 0, 1, 3, 3, 4], [1, 2, 2, 4, 5, 5], [1, 1, 1, 1, 1, 1]);
        Assert.Equal(1.0, Modularity.Normalised(graph, [0, 0, 0, 1, 1, 1], 2), 12);
        // Joined by the edge 2–3: (5/14) / (1/2).
        var joined = new WeightedGraph([0, 0, 1, 3, 3, 4, 2], [1, 2, 2, 4, 5, 5, 3], [1, 1, 1, 1, 1, 1, 1]);
        Assert.Equal(5.0 / 7, Modularity.Normalised(joined, [0, 0, 0, 1, 1, 1], 2), 12);
    }

    [Fact]
    public void TiesGoToTheSmallerKExceptForModularity()
    {
        // K = 2..5. Highest wins for silhouette and modularity, lowest for Davies–Bouldin.
        double[] scores = [0.8, 0.95, 0.95, 0.9];
        Assert.Equal(1, ClusterCountChoice.Choose(ClusterCountCriterion.Silhouette, scores));
        Assert.Equal(2, ClusterCountChoice.Choose(ClusterCountCriterion.Modularity, scores));
        Assert.Equal(1, ClusterCountChoice.Choose(ClusterCountCriterion.DaviesBouldin, [1.3, 1.1, 1.1, 1.2]));
        Assert.Equal(0, ClusterCountChoice.Choose(ClusterCountCriterion.Modularity, [0.97, 0.96]));
    }
}
