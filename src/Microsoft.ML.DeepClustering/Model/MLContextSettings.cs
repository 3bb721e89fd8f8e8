namespace Microsoft.ML.DeepClustering.Model;

/// <summary>
/// The few <see cref="MLContext"/> settings training and scoring read (CatalogEnvironment reads them from ML.NET).
/// In Model because both stages share them; Runtime, below Model, takes the two it needs as values.
/// </summary>
internal sealed record MLContextSettings(int? GpuDeviceId, bool FallbackToCpu, string TempFilePath);
