using Microsoft.ML.Data;
using Microsoft.ML.DeepClustering.Optimizers;
using Microsoft.ML.DeepClustering.Networks;
using Microsoft.ML.DeepClustering.Runtime;
using Microsoft.ML.DeepClustering.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>The allocation-free Adam, bfloat16 products and how Auto resolves.</summary>
public class PrecisionAndOptimizerTests
{
    /// <summary>
    /// The libtorch path takes exactly optim.Adam's steps; the single pass takes them within float rounding
    /// (libtorch's square root is not always correctly rounded; SinglePassOptimizerTests has the details).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AllocationFreeAdamTakesTheStepsOfTorchSharpsAdam(bool singlePass)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        var start = new[] { randn(7, 5), randn(5), randn(3, 7) };
        var ours = start.Select(t => new Parameter(t.clone())).ToArray();
        var theirs = start.Select(t => new Parameter(t.clone())).ToArray();
        using var ourAdam = new AllocationFreeAdam(ours, 0.01, singlePass: singlePass);
        using var theirAdam = optim.Adam(theirs, lr: 0.01);
        for (int step = 0; step < 25; step++)
        {
            // The same loss on both copies: a different gradient each step, some of it large, some tiny.
            var input = randn(4, 5);
            ourAdam.ZeroGrad();
            Loss(ours, input).backward();
            ourAdam.Step();
            theirAdam.zero_grad();
            Loss(theirs, input).backward();
            theirAdam.step();
        }
        for (int i = 0; i < ours.Length; i++)
        {
            Assert.False(ours[i].allclose(start[i]), "the parameters did not move");
            var difference = (ours[i] - theirs[i]).abs();
            if (singlePass)
                Assert.True(difference.le(theirs[i].abs() * 1e-6 + 1e-7).all().item<bool>(), $"parameter {i} differs by {difference.max().item<float>()}");
            else
                Assert.True(ours[i].equal(theirs[i]).all().item<bool>(), $"parameter {i} differs by {difference.max().item<float>()}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ALearningRateChangedBetweenStepsIsTheOneTheNextStepUses(bool adam)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(5);
        var start = new[] { randn(7, 5), randn(5), randn(3, 7) };
        var scheduled = start.Select(t => new Parameter(t.clone())).ToArray();
        var fixedRate = start.Select(t => new Parameter(t.clone())).ToArray();
        IParameterOptimizer Make(Parameter[] p, double rate) => adam ? new AllocationFreeAdam(p, rate) : new MomentumSgd(p, rate, 0.9);
        using var changing = Make(scheduled, 0.05);
        using var constant = Make(fixedRate, 0.002);
        for (int step = 0; step < 10; step++)
        {
            var input = randn(4, 5);
            changing.ZeroGrad();
            Loss(scheduled, input).backward();
            changing.LearningRate = 0.002;
            changing.Step();
            constant.ZeroGrad();
            Loss(fixedRate, input).backward();
            constant.Step();
        }
        Assert.False(scheduled.Zip(start).All(pair => pair.First.allclose(pair.Second)), "the parameters did not move");
        for (int i = 0; i < start.Length; i++)
        {
            Assert.True(scheduled[i].equal(fixedRate[i]).all().item<bool>(), $"parameter {i} differs by {(scheduled[i] - fixedRate[i]).abs().max().item<float>()}");
        }
    }

    [Fact]
    public void TheCosineScheduleFallsFromTheFullRateToZeroAtTheCap()
    {
        Assert.Equal(0.01, LearningRateSchedules.Rate(LearningRateSchedule.Constant, 0.01, 7_000, 20_000));
        Assert.Equal(0.01, LearningRateSchedules.Rate(LearningRateSchedule.Cosine, 0.01, 0, 20_000), 15);
        Assert.Equal(0.005, LearningRateSchedules.Rate(LearningRateSchedule.Cosine, 0.01, 10_000, 20_000), 15);
        Assert.Equal(0.0, LearningRateSchedules.Rate(LearningRateSchedule.Cosine, 0.01, 20_000, 20_000), 15);
        var rates = Enumerable.Range(0, 101).Select(s => LearningRateSchedules.Rate(LearningRateSchedule.Cosine, 1, s * 200, 20_000)).ToArray();
        Assert.True(rates.Zip(rates.Skip(1)).All(pair => pair.Second < pair.First), "not strictly falling");
    }

    private static Tensor Loss(Parameter[] p, Tensor input) =>
        (nn.functional.relu(input.matmul(p[0].t()) + p[0].sum()).matmul(p[2].t())).pow(2).mean() + (p[1] * 0.001f).pow(2).sum();

    [Fact]
    public void BFloat16ProductsStayCloseToFloat32AndTrainTheFloat32Weights()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(5);
        using var net = new DenseAutoencoder(120, new[] { 48, 96 }, 4);
        var x = rand(32, 120);
        var z32 = net.Encode(x);
        var y32 = net.forward(x);
        net.BFloat16Products = true;
        var z16 = net.Encode(x);
        var y16 = net.forward(x);
        Assert.Equal(ScalarType.Float32, z16.dtype);
        Assert.Equal(ScalarType.Float32, y16.dtype);
        // bfloat16 keeps 8 bits of mantissa: outputs agree to a few per cent (relative Euclidean norm), not bit for bit.
        double zError = ((z16 - z32).norm() / z32.norm()).item<float>();
        double yError = ((y16 - y32).norm() / y32.norm()).item<float>();
        Assert.True(zError is > 1e-6 and < 0.03, $"embedding error {zError}, reconstruction error {yError}");
        Assert.True(yError is > 1e-6 and < 0.03, $"embedding error {zError}, reconstruction error {yError}");

        // Gradients reach the float32 weights through the casts, and stay float32.
        nn.functional.mse_loss(y16, x).backward();
        foreach (var parameter in net.parameters())
        {
            Assert.Equal(ScalarType.Float32, parameter.dtype);
            using var grad = parameter.grad;
            Assert.NotNull(grad);
            Assert.Equal(ScalarType.Float32, grad!.dtype);
            Assert.True(grad.abs().sum().item<float>() > 0);
        }
    }

    private const string NoBFloat16 = "fpu sse4_2 avx avx2 fma";
    private const string Avx512BFloat16 = "fpu avx2 fma avx512f avx512bw avx512_vnni avx512_bf16";
    private const string AmxBFloat16 = "fpu avx2 fma avx512f avx512_bf16 amx_bf16 amx_tile amx_int8";

    /// <summary>Auto on a CPU decides from the CPU's vendor, family, model and flags, injected here: no timing, no file.</summary>
    [Theory]
    [InlineData("AuthenticAMD", 26, 2, Avx512BFloat16, TrainingPrecision.BFloat16)]   // Zen 5: bfloat16 measured 1.43× float32 (2 threads)
    [InlineData("AuthenticAMD", 25, 0x11, Avx512BFloat16, TrainingPrecision.BFloat16)] // Zen 4: measured 1.3×
    [InlineData("AuthenticAMD", 25, 1, NoBFloat16, TrainingPrecision.Float32)]          // Zen 3: no AVX-512, bfloat16 emulated
    [InlineData("GenuineIntel", 6, 207, AmxBFloat16, TrainingPrecision.Float32)]        // Emerald Rapids: measured 0.5×
    [InlineData("GenuineIntel", 6, 143, AmxBFloat16, TrainingPrecision.Float32)]        // Sapphire Rapids: the same core
    [InlineData("GenuineIntel", 6, 85, Avx512BFloat16, TrainingPrecision.BFloat16)]     // Cooper Lake: native, not known slow
    [InlineData("AuthenticAMD", 26, 207, Avx512BFloat16, TrainingPrecision.BFloat16)]   // a model number is slow only with its vendor and family
    [InlineData("", -1, -1, "", TrainingPrecision.Float32)]                             // unreadable
    public void AutoOnACpuDecidesFromItsIdentityAlone(string vendor, int family, int model, string flags, TrainingPrecision expected)
    {
        var cpu = new CpuDescription(vendor, family, model, flags);
        var (precision, reason) = PrecisionChoice.Resolve(TrainingPrecision.Auto, AutoencoderArchitecture.Dense, DeviceType.CPU, cpu);
        Assert.Equal(expected, precision);
        Assert.StartsWith(expected == TrainingPrecision.BFloat16 ? "bfloat16: " : "float32: ", reason);
        Assert.Contains(cpu.ToString(), reason);
        // The same description gives the same answer every time, whatever else runs meanwhile.
        Assert.Equal((precision, reason), PrecisionChoice.Resolve(TrainingPrecision.Auto, AutoencoderArchitecture.Dense, DeviceType.CPU, cpu with { }));
    }

    [Theory]
    [InlineData(TrainingPrecision.Auto, DeviceType.CUDA, TrainingPrecision.Float32)]
    [InlineData(TrainingPrecision.Float32, DeviceType.CPU, TrainingPrecision.Float32)]
    [InlineData(TrainingPrecision.BFloat16, DeviceType.CPU, TrainingPrecision.BFloat16)]
    [InlineData(TrainingPrecision.BFloat16, DeviceType.CUDA, TrainingPrecision.BFloat16)]
    public void AnExplicitPrecisionOrAGpuIgnoresTheCpu(TrainingPrecision requested, DeviceType device, TrainingPrecision expected)
    {
        foreach (var cpu in new[] { new CpuDescription("AuthenticAMD", 26, 2, Avx512BFloat16), new CpuDescription("AuthenticAMD", 25, 1, NoBFloat16) })
            Assert.Equal(expected, PrecisionChoice.Resolve(requested, AutoencoderArchitecture.Dense, device, cpu).Precision);
    }

    [Theory]
    [InlineData(TrainingPrecision.Auto)]
    [InlineData(TrainingPrecision.BFloat16)]
    [InlineData(TrainingPrecision.Float32)]
    public void TheConvolutionalNetworkAlwaysTrainsInFloat32(TrainingPrecision requested) =>
        Assert.Equal(TrainingPrecision.Float32, PrecisionChoice.Resolve(requested, AutoencoderArchitecture.Convolutional, DeviceType.CPU,
            new CpuDescription("AuthenticAMD", 26, 2, Avx512BFloat16)).Precision);

    [Fact]
    public void TheProbeMeasuresBothProductsOncePerThreadCount()
    {
        using var threads = TorchRuntime.UseThreads(1);
        var first = PrecisionProbe.Measure();
        Assert.Equal(1, first.Threads);
        Assert.True(first.Float32Gflops > 0.1 && double.IsFinite(first.Float32Gflops), $"float32 {first.Float32Gflops} GFLOP/s");
        Assert.True(first.BFloat16Gflops > 0.01 && double.IsFinite(first.BFloat16Gflops), $"bfloat16 {first.BFloat16Gflops} GFLOP/s");
        Assert.Same(first, PrecisionProbe.Measure());
    }

    [Fact]
    public void TheHistorySaysWhichPrecisionWasUsedAndWhy()
    {
        var ml = new MLContext(seed: 1);
        var options = new DeepClusterOptions { NumberOfClusters = 3, HiddenLayers = [16], EmbeddingDimension = 2, PretrainEpochs = 1, MaxIterations = 0, BatchSize = 32 };
        using var model = ml.Transforms.DeepCluster(options).Fit(ml.Data.LoadFromEnumerable(SmallRows()));
        var history = model.History;
        Assert.Equal(PrecisionChoice.Resolve(TrainingPrecision.Auto, AutoencoderArchitecture.Dense, DeviceType.CPU, CpuInfo.Current), (history.Precision, history.PrecisionReason));
        Assert.Contains(CpuInfo.Current.ToString(), history.PrecisionReason);
    }

    /// <summary>
    /// Two runs from the same seed give the same clusters, with Auto (what this CPU resolves to) and with each precision
    /// Auto can resolve to elsewhere; since Auto reads no timing, a busy machine takes the same branch.
    /// </summary>
    [Theory]
    [InlineData(TrainingPrecision.Auto)]
    [InlineData(TrainingPrecision.Float32)]
    [InlineData(TrainingPrecision.BFloat16)]
    public void TwoRunsFromTheSameSeedGiveTheSameClusters(TrainingPrecision precision)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SmallRows());
        (uint[] Ids, float[][] Centroids, string Reason) Run()
        {
            var options = new DeepClusterOptions { NumberOfClusters = 3, HiddenLayers = [16, 16], EmbeddingDimension = 2, PretrainEpochs = 3, MaxIterations = 40, UpdateInterval = 10, BatchSize = 16, Seed = 7, Precision = precision };
            using var model = ml.Transforms.DeepCluster(options).Fit(data);
            return (TestData.KeyColumn(model.Transform(data), "PredictedClusterId"), model.Centroids, model.History.PrecisionReason);
        }
        var first = Run();
        var second = Run();
        Assert.Equal(first.Reason, second.Reason);
        Assert.Equal(first.Ids, second.Ids);
        Assert.Equal(first.Centroids, second.Centroids);
    }

    private static IEnumerable<DenseRow> SmallRows() =>
        Enumerable.Range(0, 60).Select(i => new DenseRow { Features = Enumerable.Range(0, 8).Select(j => (float)((i % 3) * 2 + Math.Sin(i * 7 + j))).ToArray() });

    private sealed class DenseRow
    {
        [VectorType(8)]
        public float[] Features { get; set; } = [];
    }

    [Theory]
    [InlineData(" fpu avx2 avx512f avx512_bf16 clzero", true)]
    [InlineData(" fpu avx2 amx_bf16 amx_tile", true)]
    [InlineData(" fpu avx2 avx512f avx512_vnni", false)]
    [InlineData("", false)]
    public void CpuFlagsAreReadWordByWord(string flags, bool expected) =>
        Assert.Equal(expected, TorchRuntime.CpuFlagsHaveBFloat16(flags));
}

/// <summary>The OpenMP wait policy is in the native environment before libtorch reads it, and the switch that turns native tuning off.</summary>
public class NativeEnvironmentTests
{
    [Fact]
    public void PassiveOpenMPWaitsUnlessTheUserChoseAPolicy()
    {
        // Touching any of the library's types has run its module initializer.
        var chosen = NativeEnvironment.ChosenWaitPolicy;
        var native = System.Runtime.InteropServices.Marshal.PtrToStringAnsi(getenv("OMP_WAIT_POLICY"));
        if (NativeEnvironment.TuningEnabled)
            Assert.NotNull(native);
        else
            Assert.Null(chosen);
        if (chosen is not null)
            Assert.Equal("PASSIVE", native);
        // libtorch is loaded by now (other tests, or this call) and still sees the same value.
        Assert.True(torch.get_num_threads() >= 1);
        Assert.Equal(native, System.Runtime.InteropServices.Marshal.PtrToStringAnsi(getenv("OMP_WAIT_POLICY")));
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("", true)]
    [InlineData("1", true)]
    [InlineData("true", true)]
    [InlineData("0", false)]
    [InlineData(" 0 ", false)]
    [InlineData("false", false)]
    [InlineData("OFF", false)]
    [InlineData("No", false)]
    public void TheSwitchVariableTurnsNativeTuningOff(string? value, bool enabled) =>
        Assert.Equal(enabled, NativeEnvironment.IsTuningEnabled(value));

    [Fact]
    public void TheLogSaysWhatChangedAndHowToTurnItOff()
    {
        Assert.Null(NativeEnvironment.Describe(chosenWaitPolicy: null, mklDispatchLoaded: false, allocatorTuned: false));
        var all = NativeEnvironment.Describe("PASSIVE", mklDispatchLoaded: true, allocatorTuned: true)!;
        Assert.Contains("OMP_WAIT_POLICY=PASSIVE", all);
        Assert.Contains("libDeepClusteringMklDispatch.so (MKL takes its AVX-512 float32 kernels on this AMD CPU)", all);
        Assert.Contains("mmap threshold to 32 MB", all);
        Assert.Contains("DEEPCLUSTERING_NATIVE_TUNING=0", all);
        var allocatorOnly = NativeEnvironment.Describe(null, mklDispatchLoaded: false, allocatorTuned: true)!;
        Assert.DoesNotContain("OMP_WAIT_POLICY", allocatorOnly);
        Assert.DoesNotContain("MKL", allocatorOnly);
    }

    [Theory]
    [InlineData("AuthenticAMD", " fpu avx2 avx512f avx512_bf16", true)]     // Zen 4, Zen 5
    [InlineData(" AuthenticAMD", "fpu avx2 fma", false)]                     // Zen 2, Zen 3: MKL's AVX2 kernels are its best there anyway
    [InlineData("GenuineIntel", " fpu avx2 avx512f", false)]                 // MKL chooses well on Intel's CPUs
    [InlineData("AuthenticAMD", " avx512fx avx512_bf16", false)]             // flags are read word by word
    [InlineData("", "", false)]
    public void MklIsToldToChooseByInstructionSetOnlyOnAmdCpusWithAvx512(string vendor, string flags, bool expected) =>
        Assert.Equal(expected, NativeEnvironment.ShouldLetMklUseAvx512(vendor, flags));

    [Fact]
    public void TheMklDispatchLibraryShipsBesideTheAssemblyAndLoadsOnThisMachine()
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
            return;
        string? path = NativeEnvironment.FindMklDispatchLibrary();
        Assert.NotNull(path);
        // The one function it exports answers MKL's vendor question with yes.
        var library = System.Runtime.InteropServices.NativeLibrary.Load(path!);
        try
        {
            var answer = System.Runtime.InteropServices.Marshal.GetDelegateForFunctionPointer<IntAnswer>(
                System.Runtime.InteropServices.NativeLibrary.GetExport(library, "mkl_serv_intel_cpu_true"));
            Assert.Equal(1, answer());
        }
        finally { System.Runtime.InteropServices.NativeLibrary.Free(library); }
        // On this machine the module initializer loaded it exactly when the CPU asks for it and tuning is on.
        string cpuinfo = File.Exists("/proc/cpuinfo") ? File.ReadAllText("/proc/cpuinfo") : "";
        string vendor = cpuinfo.Split('\n').FirstOrDefault(l => l.StartsWith("vendor_id"))?.Split(':', 2)[1] ?? "";
        string flags = cpuinfo.Split('\n').FirstOrDefault(l => l.StartsWith("flags"))?.Split(':', 2)[1] ?? "";
        Assert.Equal(NativeEnvironment.TuningEnabled && NativeEnvironment.ShouldLetMklUseAvx512(vendor, flags), NativeEnvironment.MklDispatchLoaded);
    }

    private delegate int IntAnswer();

    [System.Runtime.InteropServices.DllImport("libc.so.6")]
    private static extern IntPtr getenv(string name);
}
