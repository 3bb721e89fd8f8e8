using Microsoft.ML.DeepClustering.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Tests;

/// <summary>
/// DEC's q, P and KL(P‖Q) (<see cref="Dec"/>) on a case small enough to work out by hand: two one-dimensional
/// embeddings z = 0 and z = 2, two centroids μ = 0 and μ = 1, α = 1.
/// </summary>
public class DecTests
{
    private const double Precision = 1e-5;

    // ‖z − μ‖²: row 1 [0, 1], row 2 [4, 1].
    private static readonly float[,] Z = { { 0f }, { 2f } };
    private static readonly float[,] Mu = { { 0f }, { 1f } };

    // q_ij ∝ (1 + d²/α)^(−(α+1)/2) = 1/(1 + d²) for α = 1:
    //   row 1: [1, 1/2] / 1.5 = [2/3, 1/3];  row 2: [1/5, 1/2] / 0.7 = [2/7, 5/7].
    private static readonly double[,] ExpectedQ = { { 2.0 / 3, 1.0 / 3 }, { 2.0 / 7, 5.0 / 7 } };

    // f = Σ_i q_ij = [2/3 + 2/7, 1/3 + 5/7] = [20/21, 22/21].
    // row 1: q²/f = [(4/9)(21/20), (1/9)(21/22)] = [7/15, 7/66], sum 63/110 → p = [22/27, 5/27];
    // row 2: q²/f = [(4/49)(21/20), (25/49)(21/22)] = [3/35, 75/154], sum 63/110 → p = [22/147, 125/147].
    private static readonly double[,] ExpectedP = { { 22.0 / 27, 5.0 / 27 }, { 22.0 / 147, 125.0 / 147 } };

    // KL row 1 = (22/27) ln((22/27)/(2/3)) + (5/27) ln((5/27)/(1/3)) = (22/27) ln(11/9) + (5/27) ln(5/9) = 0.0546601;
    // KL row 2 = (22/147) ln((22/147)/(2/7)) + (125/147) ln((125/147)/(5/7)) = (22/147) ln(11/21) + (125/147) ln(25/21) = 0.0514855;
    // the loss averages over the batch's 2 rows: 0.0530728.
    private const double ExpectedLoss = 0.0530728;

    [Fact]
    public void SoftAssignmentIsTheStudentTKernelNormalisedPerRow()
    {
        using var scope = NewDisposeScope();
        var q = Dec.SoftAssignment(Dec.SquaredDistances(tensor(Z), tensor(Mu)), alpha: 1f);
        AssertMatrix(ExpectedQ, q);
    }

    [Fact]
    public void SquaredDistancesAreExactForHandValues()
    {
        using var scope = NewDisposeScope();
        AssertMatrix(new double[,] { { 0, 1 }, { 4, 1 } }, Dec.SquaredDistances(tensor(Z), tensor(Mu)));
    }

    [Fact]
    public void SquaredDistancesInBlocksOfRowsAreTheWholeTensorsBitForBit()
    {
        // 64 centres of 2,048 values: a block holds 64 rows, so 300 rows run as five blocks, the last one short.
        using var scope = NewDisposeScope();
        using var generator = new TorchSharp.torch.Generator(7);
        var z = randn(new long[] { 300, 2048 }, generator: generator);
        var centres = randn(new long[] { 64, 2048 }, generator: generator);
        Assert.Equal(64, Graphs.Distances.BlockValues / (64 * 2048));
        var whole = (z.unsqueeze(1) - centres.unsqueeze(0)).square().sum(dim: 2);
        var blocked = Graphs.Distances.Squared(z, centres);
        Assert.Equal(new long[] { 300, 64 }, blocked.shape);
        Assert.Equal(whole.data<float>().ToArray(), blocked.data<float>().ToArray());
    }

    [Fact]
    public void TargetDistributionSquaresQAndDividesByClusterFrequency()
    {
        using var scope = NewDisposeScope();
        AssertMatrix(ExpectedP, Dec.TargetDistribution(tensor(ToFloat(ExpectedQ))));
    }

    [Fact]
    public void KLDivergenceIsTheBatchMeanOfPLogPOverQ()
    {
        using var scope = NewDisposeScope();
        var loss = Dec.KLDivergence(tensor(ToFloat(ExpectedQ)), tensor(ToFloat(ExpectedP)));
        Assert.Equal(ExpectedLoss, loss.item<float>(), Precision);
        // KL(P‖P) = 0: the loss vanishes once q has reached its target.
        Assert.Equal(0.0, Dec.KLDivergence(tensor(ToFloat(ExpectedP)), tensor(ToFloat(ExpectedP))).item<float>(), Precision);
    }

    [Fact]
    public void AlphaChangesTheKernelsExponent()
    {
        using var scope = NewDisposeScope();
        // α = 2, row 1: (1 + 0/2)^(−3/2) = 1 and (1 + 1/2)^(−3/2) = 0.5443311; q = [1, 0.5443311] / 1.5443311.
        var q = Dec.SoftAssignment(tensor(new float[,] { { 0f, 1f } }), alpha: 2f);
        AssertMatrix(new[,] { { 1 / 1.5443311, 0.5443311 / 1.5443311 } }, q);
    }

    private static void AssertMatrix(double[,] expected, Tensor actual)
    {
        Assert.Equal(new long[] { expected.GetLength(0), expected.GetLength(1) }, actual.shape);
        for (int i = 0; i < expected.GetLength(0); i++)
            for (int j = 0; j < expected.GetLength(1); j++)
                Assert.Equal(expected[i, j], actual[i, j].item<float>(), Precision);
    }

    private static float[,] ToFloat(double[,] values)
    {
        var result = new float[values.GetLength(0), values.GetLength(1)];
        for (int i = 0; i < values.GetLength(0); i++)
            for (int j = 0; j < values.GetLength(1); j++)
                result[i, j] = (float)values[i, j];
        return result;
    }
}
