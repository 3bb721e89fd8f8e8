using System.Reflection;

namespace Microsoft.ML.DeepClustering;

/// <summary>
/// This package uses internals of MLNet.DeepClustering (the ONNX graph builder, the MLContext's settings), so it works
/// with exactly the library version it was built with: its package depends on <c>[x.y.z]</c>, and this check turns the
/// mismatch NuGet only warns about (NU1608, when an application references another MLNet.DeepClustering directly)
/// into one clear error at the first call, instead of a MissingMethodException in the middle of a Fit.
/// </summary>
internal static class LibraryVersion
{
    /// <summary>The key of the assembly metadata the build writes (the csproj's EmbedPinnedLibraryVersion target).</summary>
    public const string MetadataKey = "MLNet.DeepClustering.Version";

    private static readonly Lazy<string?> s_mismatch = new(() => Mismatch(Loaded(typeof(LibraryVersion).Assembly),
        Expected(typeof(LibraryVersion).Assembly), Loaded(typeof(DeepClusterOptions).Assembly), typeof(DeepClusterOptions).Assembly.Location));

    /// <summary>Throws <see cref="InvalidOperationException"/> when the loaded library is not the version this package was built with.</summary>
    public static void EnsureMatches()
    {
        if (s_mismatch.Value is string message)
            throw new InvalidOperationException(message);
    }

    /// <summary>The library version this assembly was built against.</summary>
    public static string Expected(Assembly imageFeatures) =>
        imageFeatures.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == MetadataKey)?.Value
        ?? throw new InvalidOperationException($"{imageFeatures.GetName().Name} carries no '{MetadataKey}' metadata; it was not built by its own project file.");

    /// <summary>An assembly's package version: its informational version without the source revision (+...).</summary>
    public static string Loaded(Assembly library)
    {
        string version = library.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? library.GetName().Version?.ToString() ?? "unknown";
        int plus = version.IndexOf('+');
        return plus < 0 ? version : version[..plus];
    }

    /// <summary>Null when the versions are the same; otherwise the message, naming both versions and the fix.</summary>
    public static string? Mismatch(string imageFeatures, string expected, string loaded, string libraryLocation) =>
        string.Equals(expected, loaded, StringComparison.OrdinalIgnoreCase) ? null :
        $"MLNet.DeepClustering.ImageFeatures {imageFeatures} works with MLNet.DeepClustering {expected} only, but MLNet.DeepClustering {loaded} is loaded" +
        $"{(string.IsNullOrEmpty(libraryLocation) ? "" : $" (from {libraryLocation})")}. The two packages ship together: reference the same version of " +
        $"both, MLNet.DeepClustering {expected} with this MLNet.DeepClustering.ImageFeatures, or MLNet.DeepClustering.ImageFeatures {loaded} with that " +
        $"MLNet.DeepClustering (NuGet warned of this mismatch at restore: NU1608).";
}
