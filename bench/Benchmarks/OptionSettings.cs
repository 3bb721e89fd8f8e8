using System.Globalization;
using System.Reflection;

namespace Microsoft.ML.DeepClustering.Benchmarks;

/// <summary>
/// <c>--set IdecGamma=0.1,UpdateInterval=60</c>: any public field of <see cref="DeepClusterOptions"/> by name, so a
/// variant can be measured without a new switch per option. Numbers, booleans, enums and comma-free int lists (<c>500;500</c>).
/// </summary>
internal static class OptionSettings
{
    public static void Apply(DeepClusterOptions options, string? settings)
    {
        if (string.IsNullOrWhiteSpace(settings))
            return;
        foreach (var pair in settings.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split('=', 2);
            var field = typeof(DeepClusterOptions).GetField(parts[0].Trim(), BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)
                ?? throw new ArgumentException($"--set: DeepClusterOptions has no field '{parts[0]}'.");
            if (parts.Length != 2)
                throw new ArgumentException($"--set {pair}: expected Option=value.");
            field.SetValue(options, Parse(field.FieldType, parts[1].Trim()));
        }
    }

    private static object? Parse(Type type, string text)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (underlying.IsEnum)
            return Enum.Parse(underlying, text, ignoreCase: true);
        if (underlying == typeof(int[]))
            return text.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        return Convert.ChangeType(text, underlying, CultureInfo.InvariantCulture);
    }
}
