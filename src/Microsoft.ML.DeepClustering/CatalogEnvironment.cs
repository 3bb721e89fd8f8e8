using System.Reflection;
using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.DeepClustering;

/// <summary>
/// The one place we reach into ML.NET: <see cref="TransformsCatalog"/> keeps its environment (the
/// <see cref="MLContext"/>'s seed, log, temp path and GPU settings) behind an internal interface. A test
/// (RuntimeTests.TheCatalogsEnvironmentIsTheContexts) fails loudly if a new ML.NET moves it.
/// </summary>
internal static class CatalogEnvironment
{
    private const string InterfaceName = "Microsoft.ML.Data.IInternalCatalog";
    private const string SettingsInterfaceName = "Microsoft.ML.Runtime.IHostEnvironmentInternal";

    public static IHostEnvironment From(TransformsCatalog catalog) => FromCatalog(catalog);

    /// <summary>The same for <see cref="ModelOperationsCatalog"/>, which keeps its environment behind the same interface.</summary>
    public static IHostEnvironment From(ModelOperationsCatalog catalog) => FromCatalog(catalog);

    private static IHostEnvironment FromCatalog(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var property = catalog.GetType().GetInterface(InterfaceName)?.GetProperty("Environment")
            ?? throw new NotSupportedException(
                $"This version of ML.NET ({typeof(TransformsCatalog).Assembly.GetName().Version}) no longer exposes {InterfaceName}.Environment on {catalog.GetType().Name}; " +
                "Microsoft.ML.DeepClustering needs an update for it.");
        return (IHostEnvironment)(property.GetValue(catalog)
            ?? throw new NotSupportedException($"{catalog.GetType().Name} returned no environment."));
    }

    public static MLContextSettings Settings(IHostEnvironment env)
    {
        // The MLContext's settings live on the environment behind another internal interface, IHostEnvironmentInternal.
        var inner = env.GetType().GetInterface(SettingsInterfaceName)
            ?? throw new NotSupportedException($"This version of ML.NET no longer implements {SettingsInterfaceName}; Microsoft.ML.DeepClustering needs an update for it.");
        object? Read(string name) => (inner.GetProperty(name)
            ?? throw new NotSupportedException($"{SettingsInterfaceName}.{name} is gone from this version of ML.NET; Microsoft.ML.DeepClustering needs an update for it.")).GetValue(env);
        return new MLContextSettings((int?)Read("GpuDeviceId"), (bool)Read("FallbackToCpu")!, (string?)Read("TempFilePath") ?? Path.GetTempPath());
    }
}
