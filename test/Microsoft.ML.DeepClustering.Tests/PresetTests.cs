namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>Presets reproduce the published settings they name.</summary>
public class PresetTests
{
    [Fact]
    public void DecDaIsFcDecDaAsItsAuthorsRanIt()
    {
        var o = DeepClusterPresets.DecDa();
        Assert.True(o.Augment);
        Assert.Equal((10f, 0.1f), (o.AugmentationRotationDegrees, o.AugmentationShift));
        Assert.Equal(500, o.PretrainEpochs);
        Assert.Equal((PretrainingOptimizer.Sgd, 1f, 0.9f), (o.PretrainOptimizer, o.PretrainLearningRate, o.PretrainMomentum));
        Assert.Equal((SelfTrainingOptimizer.Sgd, 0.01f, 0.9f), (o.SelfTrainingOptimizer, o.SelfTrainingLearningRate, o.SelfTrainingMomentum));
        Assert.Equal((140, 0.001f, 20000, 256), (o.UpdateInterval, o.Tolerance, o.MaxIterations, o.BatchSize));
        Assert.Equal(SeedingMethod.KMeans, o.Seeding);
        Assert.Equal(new[] { 500, 500, 2000 }, o.HiddenLayers);
    }

    [Fact]
    public void RecommendedAimsAtSpectralSeedingsPartitionAndConvIdecSpectralSelfTrainsWithIdec()
    {
        var recommended = DeepClusterPresets.Recommended();
        Assert.Equal(SelfTrainingSafeguard.KeepBetter, recommended.SelfTrainingSafeguard);
        Assert.Equal((AutoencoderArchitecture.Convolutional, true, 160, 30, 1000), (recommended.Architecture, recommended.Augment, recommended.PretrainEpochs, recommended.UpdateInterval, recommended.MaxIterations));
        // Every self-training step aims at spectral seeding's partition, made on K + K/5 eigenvectors.
        Assert.Equal((SeedingMethod.Spectral, 0, recommended.MaxIterations, 0f),
            (recommended.Seeding, recommended.SpectralEigenvectors, recommended.SeedingPartitionSteps, recommended.IdecGamma));

        var manifold = DeepClusterPresets.ConvIdecSpectral();
        Assert.Equal((SeedingMethod.Spectral, 0, 0.1f, SelfTrainingSafeguard.Report), (manifold.Seeding, manifold.SeedingPartitionSteps, manifold.IdecGamma, manifold.SelfTrainingSafeguard));
        Assert.Equal((recommended.Architecture, recommended.Augment, 120, recommended.UpdateInterval, 3000),
            (manifold.Architecture, manifold.Augment, manifold.PretrainEpochs, manifold.UpdateInterval, manifold.MaxIterations));
    }

    [Fact]
    public void EveryNamedPresetIsAFreshInstance()
    {
        foreach (var name in DeepClusterPresets.Names)
        {
            var a = DeepClusterPresets.Get(name);
            var b = DeepClusterPresets.Get(name.ToUpperInvariant());
            Assert.NotSame(a, b);
            a.HiddenLayers[0] = 1;
            Assert.NotEqual(1, b.HiddenLayers[0]);
        }
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => DeepClusterPresets.Get("dcec-typo"));
        Assert.Contains("recommended", e.Message);
    }
}
