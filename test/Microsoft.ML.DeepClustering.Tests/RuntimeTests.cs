using Microsoft.ML;
using Microsoft.ML.DeepClustering.Runtime;
using Microsoft.ML.DeepClustering.Training;
using TorchSharp;
using Microsoft.ML.DeepClustering.Model;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>Device choice, the reach into ML.NET's catalog, seeds, cancellation and temporary files.</summary>
public class RuntimeTests
{
    [Fact]
    public void CpuUnlessAGpuIsAskedFor()
    {
        Assert.Equal((DeviceType.CPU, -1), TorchRuntime.ChooseDevice(null, fallbackToCpu: false, cudaDeviceCount: 0));
        Assert.Equal((DeviceType.CPU, -1), TorchRuntime.ChooseDevice(null, fallbackToCpu: false, cudaDeviceCount: 2));
    }

    [Fact]
    public void TheRequestedGpuIsUsedWhenLibtorchSeesIt()
    {
        Assert.Equal((DeviceType.CUDA, 0), TorchRuntime.ChooseDevice(0, fallbackToCpu: false, cudaDeviceCount: 1));
        Assert.Equal((DeviceType.CUDA, 1), TorchRuntime.ChooseDevice(1, fallbackToCpu: true, cudaDeviceCount: 2));
    }

    [Fact]
    public void WithoutCudaTheGpuRequestFallsBackOnlyWhenAllowed()
    {
        Assert.Equal((DeviceType.CPU, -1), TorchRuntime.ChooseDevice(0, fallbackToCpu: true, cudaDeviceCount: 0));
        var e = Assert.Throws<InvalidOperationException>(() => TorchRuntime.ChooseDevice(0, fallbackToCpu: false, cudaDeviceCount: 0));
        Assert.Contains("GpuDeviceId is 0", e.Message);
        Assert.Contains("TorchSharp-cuda", e.Message);
        Assert.Contains("FallbackToCpu", e.Message);
        var tooHigh = Assert.Throws<InvalidOperationException>(() => TorchRuntime.ChooseDevice(3, fallbackToCpu: false, cudaDeviceCount: 2));
        Assert.Contains("0..1", tooHigh.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchRuntime.ChooseDevice(-1, fallbackToCpu: true, cudaDeviceCount: 1));
    }

    [Fact]
    public void FitOnThisCpuOnlyMachineHonoursTheContextsGpuSettings()
    {
        var data = TestData.Mnist(new MLContext(), 100);
        var options = TestData.TinyOptions();
        var strict = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = false };
        var e = Assert.Throws<InvalidOperationException>(() => strict.Transforms.DeepCluster(options).Fit(data));
        Assert.Contains("GpuDeviceId is 0", e.Message);

        var lenient = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = true };
        using var model = lenient.Transforms.DeepCluster(options).Fit(data);
        Assert.Equal("CPU", model.History.Device.ToUpperInvariant());
    }

    [Fact]
    public void TheCatalogsEnvironmentIsTheContexts()
    {
        // If a new ML.NET moves TransformsCatalog's environment, this fails first and says where.
        var ml = new MLContext(seed: 1) { TempFilePath = "/tmp/deep-clustering-probe", GpuDeviceId = 3, FallbackToCpu = true };
        var env = CatalogEnvironment.From(ml.Transforms);
        var settings = CatalogEnvironment.Settings(env);
        Assert.Equal(new MLContextSettings(3, true, "/tmp/deep-clustering-probe"), settings);

        var messages = new List<string>();
        ml.Log += (_, e) => messages.Add(e.Message);
        using (var channel = env.Register("probe").Start("probe"))
            channel.Info(Microsoft.ML.Runtime.MessageSensitivity.None, "hello from the catalog");
        Assert.Contains(messages, m => m.Contains("hello from the catalog"));
    }

    [Fact]
    public void SelfTrainingFollowsTheCosineScheduleFromItsSecondStep()
    {
        var data = new MLContext().Data.Cache(TestData.Mnist(new MLContext(), 300));
        float[][] Train(LearningRateSchedule schedule, int steps)
        {
            var options = TestData.TinyOptions();
            options.MaxIterations = steps;
            options.SelfTrainingLearningRateSchedule = schedule;
            using var model = new MLContext(seed: 1).Transforms.DeepCluster(options).Fit(data);
            return model.Centroids;
        }
        // Step 0 takes the full rate under both schedules; over a cap of 2, step 1 takes half of it under Cosine.
        Assert.Equal(Train(LearningRateSchedule.Constant, 1), Train(LearningRateSchedule.Cosine, 1));
        Assert.NotEqual(Train(LearningRateSchedule.Constant, 2), Train(LearningRateSchedule.Cosine, 2));
    }

    [Fact]
    public void TheContextsSeedFixesTheRunAndOtherSeedsChangeIt()
    {
        var data = new MLContext().Data.Cache(TestData.Mnist(new MLContext(), 300));
        float[][] Train(int contextSeed, int? optionSeed)
        {
            var options = TestData.TinyOptions();
            options.Seed = optionSeed;
            using var model = new MLContext(seed: contextSeed).Transforms.DeepCluster(options).Fit(data);
            return model.Centroids;
        }
        var a = Train(5, null);
        Assert.Equal(a, Train(5, null));
        Assert.NotEqual(a, Train(6, null));
        Assert.Equal(Train(1, 42), Train(2, 42));
    }

    [Fact]
    public void CancellationStopsTrainingAndLeavesNoFilesBehind()
    {
        string temp = TestData.NewTempDirectory();
        try
        {
            var ml = new MLContext(seed: 1) { TempFilePath = temp };
            var data = ml.Data.Cache(TestData.Mnist(ml, 500));
            using var cancellation = new CancellationTokenSource();
            var options = TestData.TinyOptions();
            options.PretrainEpochs = 1000;
            options.Progress = new SynchronousProgress<DeepClusterProgress>(p =>
            {
                if (p.Stage == DeepClusterStage.Pretraining && p.Step == 2)
                    cancellation.Cancel();
            });
            var started = DateTime.UtcNow;
            Assert.ThrowsAny<OperationCanceledException>(() => ml.Transforms.DeepCluster(options).Fit(data, cancellation.Token));
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(60));
            Assert.Empty(Directory.GetFileSystemEntries(temp));
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    [Fact]
    public void DisposingTheModelRemovesItsTemporaryFiles()
    {
        string temp = TestData.NewTempDirectory();
        try
        {
            var ml = new MLContext(seed: 1) { TempFilePath = temp };
            var data = TestData.Mnist(ml, 100);
            var model = ml.Transforms.DeepCluster(TestData.TinyOptions()).Fit(data);
            Assert.NotEmpty(Directory.GetFiles(temp));
            string zip = Path.Combine(temp, "..", Path.GetFileName(temp) + ".zip");
            ml.Model.Save(model, data.Schema, zip);
            model.Dispose();
            Assert.Throws<ObjectDisposedException>(() => model.Transform(data));
            var loaded = ml.Model.Load(zip, out _);
            (loaded as IDisposable)?.Dispose();
            File.Delete(zip);
            Assert.Empty(Directory.GetFileSystemEntries(temp));
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    [Fact]
    public void PlainAutoencoderAndKMeansWhenSelfTrainingIsOff()
    {
        var data = TestData.Mnist(new MLContext(), 200);
        var options = TestData.TinyOptions();
        options.MaxIterations = 0;
        using var model = new MLContext(seed: 1).Transforms.DeepCluster(options).Fit(data);
        Assert.Equal(SelfTrainingStopReason.Skipped, model.History.StopReason);
        Assert.Empty(model.History.SelfTrainingUpdates);
        Assert.Equal(0, model.History.SelfTrainingSteps);
    }
}
