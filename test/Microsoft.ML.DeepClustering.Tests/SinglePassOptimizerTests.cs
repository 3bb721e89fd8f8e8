using Microsoft.ML.DeepClustering.Optimizers;
using Microsoft.ML.DeepClustering.Runtime;
using Microsoft.ML.DeepClustering.Training;
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
        var (fused, reference) = TakeSteps(threads, p => new AllocationFreeAdam(p, 0.01), p => new AllocationFreeAdam(p, 0.01, singlePass: false));
        for (int i = 0; i < fused.Parameters.Length; i++)
            AssertClose(fused.Parameters[i], reference.Parameters[i], $"parameter {i}");
        for (int i = 0; i < fused.Optimizer.State.Count; i++)
            AssertClose(fused.Optimizer.State[i], reference.Optimizer.State[i], $"moment tensor {i}");
        fused.Optimizer.Dispose();
        reference.Optimizer.Dispose();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TheSinglePassSgdTakesTheStepsOfTheLibtorchOperations(int threads)
    {
        using var scope = NewDisposeScope();
        var (fused, reference) = TakeSteps(threads, p => new MomentumSgd(p, 0.01, 0.9), p => new MomentumSgd(p, 0.01, 0.9, singlePass: false));
        // With a hardware FMA every rounding is libtorch's: the same bits.
        for (int i = 0; i < fused.Parameters.Length; i++)
        {
            if (SinglePassUpdate.HardwareFma)
                Assert.True(fused.Parameters[i].equal(reference.Parameters[i]).all().item<bool>(), $"parameter {i} differs by {(fused.Parameters[i] - reference.Parameters[i]).abs().max().item<float>():E2}");
            else
                AssertClose(fused.Parameters[i], reference.Parameters[i], $"parameter {i}");
        }
        for (int i = 0; i < fused.Optimizer.State.Count; i++)
            AssertClose(fused.Optimizer.State[i], reference.Optimizer.State[i], $"momentum tensor {i}");
        fused.Optimizer.Dispose();
        reference.Optimizer.Dispose();
    }

    private sealed record Run(Parameter[] Parameters, IParameterOptimizer Optimizer);

    /// <summary>
    /// Twenty steps of the single pass and of the libtorch operations from the same start with the same gradients;
    /// checks on the way that each took its path, that the parameters moved and that the one without a gradient did not.
    /// </summary>
    private static (Run Fused, Run Reference) TakeSteps(int threads, Func<Parameter[], IParameterOptimizer> makeFused, Func<Parameter[], IParameterOptimizer> makeReference)
    {
        using var threadScope = TorchRuntime.UseThreads(threads);
        random.manual_seed(11);
        var start = Start();
        var fusedParameters = start.Select(t => new Parameter(t.clone())).ToArray();
        var referenceParameters = start.Select(t => new Parameter(t.clone())).ToArray();
        var fused = new Run(fusedParameters, makeFused(fusedParameters));
        var reference = new Run(referenceParameters, makeReference(referenceParameters));
        for (int step = 0; step < 20; step++)
        {
            foreach (var run in new[] { fused, reference })
            {
                run.Optimizer.ZeroGrad();
                using var generator = new Generator((ulong)step);
                Loss(run.Parameters, generator).backward();
                run.Optimizer.Step();
            }
            Assert.Equal(3, SinglePassParameters(fused.Optimizer));
            Assert.Equal(0, SinglePassParameters(reference.Optimizer));
        }
        for (int i = 0; i < 3; i++)
            Assert.False(fused.Parameters[i].allclose(start[i]), $"parameter {i} did not move");
        Assert.True(fused.Parameters[3].equal(start[3]).all().item<bool>(), "the parameter without a gradient moved");
        return (fused, reference);
    }

    private static int SinglePassParameters(IParameterOptimizer optimizer) => optimizer switch
    {
        AllocationFreeAdam adam => adam.SinglePassParameters,
        MomentumSgd sgd => sgd.SinglePassParameters,
        _ => throw new ArgumentException(optimizer.GetType().Name),
    };

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
