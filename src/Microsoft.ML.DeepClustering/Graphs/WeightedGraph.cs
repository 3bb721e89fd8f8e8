namespace Microsoft.ML.DeepClustering.Graphs;

/// <summary>An undirected weighted graph as a list of edges, each pair once.</summary>
internal sealed record WeightedGraph(int[] From, int[] To, float[] Weights)
{
    /// <summary>The edges whose weight satisfies <paramref name="predicate"/>.</summary>
    public WeightedGraph Keep(Func<float, bool> predicate)
    {
        var keep = Enumerable.Range(0, Weights.Length).Where(e => predicate(Weights[e])).ToArray();
        return new WeightedGraph(keep.Select(e => From[e]).ToArray(), keep.Select(e => To[e]).ToArray(), keep.Select(e => Weights[e]).ToArray());
    }
}
