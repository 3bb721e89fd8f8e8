using Microsoft.ML.DeepClustering.Runtime;
using Microsoft.ML.DeepClustering.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>The optimizers' single-pass update against their libtorch operations, and when each is taken.</summary>
public class SinglePassOptimizerTests
{
    // A tiny tensor, one whose size is no multiple of the vector width (the scalar tail), one large enough to be
    // shared among threads, and one that receives no gradient.
    private static Tensor[] Start() => new[] { randn(3), randn(37), randn(300, 700), randn(4, 4) };

    /// <summary>A loss whose gradient is random each step and spans six orders of magnitude between elements.</summary>
    private static Tensor Loss(Parameter[] p, Generator generator)
    {
        var loss = zeros(1);
        foreach (var parameter in p.Take(3))
        {
            var weights = randn(parameter.shape, generator: generator) * pow(10, rand(parameter.shape, generator: generator) * 6 - 4);
            loss = loss + (parameter * weights).sum() + 0.5 * parameter.pow(2).sum();
        }
        return loss;
    }

    private static void AssertClose(Tensor actual, Tensor expected, string what)
    {
        // Float rounding only: 1e-5 of each value, or 1e-6 of the tensor's largest where a value passes through zero.
        var tolerance = expected.abs() * 1e-5 + expected.abs().max() * 1e-6;
        var error = (actual - expected).abs();
        Assert.True((error <= tolerance).all().item<bool>(),
            $"{what} differs by up to {error.max().item<float>():E2}, {(error / tolerance).max().item<float>():F1}× the tolerance");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TheSinglePassAdamTakesTheStepsOfTheLibtorchOperations(int threads)
    {
        using var scope = NewDisposeScope();
        using var threadScope = TorchRuntime.UseThreads(threads);
        random.manual_seed(11);
        var start = Start();
        var fused = start.Select(t => new Parameter(t.clone())).ToArray();
        var reference = start.Select(t => new Parameter(t.clone())).ToArray();
        using var fusedAdam = new AllocationFreeAdam(fused, 0.01);
        using var referenceAdam = new AllocationFreeAdam(reference, 0.01, singlePass: false);
        for (int step = 0; step < 20; step++)
        {
            fusedAdam.ZeroGrad();
            Loss(fused, new Generator((ulong)step)).backward();
            fusedAdam.Step();
            referenceAdam.ZeroGrad();
            Loss(reference, new Generator((ulong)step)).backward();
            referenceAdam.Step();
            Assert.Equal(3, fusedAdam.SinglePassParameters);
            Assert.Equal(0, referenceAdam.SinglePassParameters);
        }
        for (int i = 0; i < 3; i++)
        {
            Assert.False(fused[i].allclose(start[i]), $"parameter {i} did not move");
            AssertClose(fused[i], reference[i], $"parameter {i}");
        }
        Assert.True(fused[3].equal(start[3]).all().item<bool>(), "the parameter without a gradient moved");
        for (int i = 0; i < fusedAdam.State.Count; i++)
            AssertClose(fusedAdam.State[i], referenceAdam.State[i], $"moment tensor {i}");
    }

    [Fact]
    public void ParametersTheSinglePassCannotReadTakeTheLibtorchOperations()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(12);
        var start = new[] { randn(5, 3, dtype: float64), randn(7, 5).t(), randn(6) };
        Assert.False(start[1].is_contiguous());
        var fused = start.Select(t => new Parameter(t.clone())).ToArray();
        var reference = start.Select(t => new Parameter(t.clone())).ToArray();
        Assert.False(fused[1].is_contiguous());
        using var fusedAdam = new AllocationFreeAdam(fused, 0.01);
        using var referenceAdam = new AllocationFreeAdam(reference, 0.01, singlePass: false);
        for (int step = 0; step < 5; step++)
        {
            fusedAdam.ZeroGrad();
            fused.Select(p => p.to(float64).pow(2).sum()).Aggregate((a, b) => a + b).backward();
            fusedAdam.Step();
            referenceAdam.ZeroGrad();
            reference.Select(p => p.to(float64).pow(2).sum()).Aggregate((a, b) => a + b).backward();
            referenceAdam.Step();
            // Only the contiguous float32 parameter goes through the single pass.
            Assert.Equal(1, fusedAdam.SinglePassParameters);
        }
        // The other two took the very operations of the reference: bit for bit the same.
        for (int i = 0; i < 2; i++)
        {
            Assert.False(fused[i].allclose(start[i]), $"parameter {i} did not move");
            Assert.True(fused[i].equal(reference[i]).all().item<bool>(), $"parameter {i} differs by {(fused[i] - reference[i]).abs().max().to(float64).item<double>()}");
        }
        AssertClose(fused[2], reference[2], "parameter 2");
    }

    [Fact]
    public void TheSinglePassReadsOnlyContiguousFloat32CpuTensorsOfOneSize()
    {
        using var scope = NewDisposeScope();
        var a = zeros(4, 6);
        Assert.True(SinglePassUpdate.Applies(a, zeros(4, 6), zeros(24)));
        Assert.False(SinglePassUpdate.Applies(a, zeros(6, 4).t()));
        Assert.False(SinglePassUpdate.Applies(a, zeros(4, 6, dtype: float64)));
        Assert.False(SinglePassUpdate.Applies(a, zeros(4, 6, dtype: bfloat16)));
        Assert.False(SinglePassUpdate.Applies(a, zeros(4, 5)));
    }
}
