namespace Microsoft.ML.DeepClustering.Samples.Input;

/// <summary>
/// The names of the ground-truth classes. The Label column holds numbers (ML.NET's evaluators want float or key);
/// this maps them back to what the user knows: a subfolder name, or the digit itself for MNIST.
/// </summary>
public sealed class LabelSet
{
    private readonly IReadOnlyDictionary<int, string> _names;

    public LabelSet(IReadOnlyDictionary<int, string> names) => _names = names;

    /// <summary>Labels whose name is their value (IDX files: the digit).</summary>
    public static LabelSet Numeric(IEnumerable<int> values) =>
        new(values.Distinct().Order().ToDictionary(v => v, v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>One label per name, numbered 0, 1, 2... in the given order (image subfolders).</summary>
    public static LabelSet FromNames(IReadOnlyList<string> names) =>
        new(Enumerable.Range(0, names.Count).ToDictionary(i => i, i => names[i]));

    /// <summary>Number of classes.</summary>
    public int Count => _names.Count;

    /// <summary>The name of a label value.</summary>
    public string NameOf(int value) => _names.TryGetValue(value, out var name) ? name : value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
