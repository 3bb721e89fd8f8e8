using Microsoft.ML.DeepClustering.Model;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Training;

/// <summary>
/// DEC-DA's data augmentation (Guo et al. 2018): every mini-batch is seen through a fresh random rotation and shift
/// per image (and, if asked, a mirror), applied on the fly on the training device with an affine sampling grid
/// (bilinear, zeros outside).
/// The network then has to map an image and its small distortions to the same place, which is what makes the
/// embedding cluster digits rather than pixel positions.
/// </summary>
internal sealed class Augmentation
{
    private readonly float _maxRadians;
    private readonly float _maxShift;
    private readonly bool _horizontalFlips;
    private readonly long[] _imageShape; // [C, H, W]

    public Augmentation(ImageShape shape, float maxRotationDegrees, float maxShiftFraction, bool horizontalFlips = false)
    {
        _horizontalFlips = horizontalFlips;
        _imageShape = new long[] { shape.Channels, shape.Height, shape.Width };
        _maxRadians = maxRotationDegrees * MathF.PI / 180f;
        // affine_grid works in coordinates spanning [-1, 1], so a shift of a fraction f of the width is 2f there.
        _maxShift = 2f * maxShiftFraction;
    }

    /// <summary>A randomly rotated and shifted (and mirrored) copy of each row of <paramref name="batch"/> [B, C·H·W].</summary>
    public Tensor Apply(Tensor batch, Generator generator)
    {
        long b = batch.shape[0];
        using var scope = NewDisposeScope();
        // Draws on the CPU from our generator (reproducible on any device), then moved.
        var draws = (rand(new long[] { b, 3 }, generator: generator) * 2 - 1).to(batch.device);
        var angle = draws[.., 0] * _maxRadians;
        var shiftX = draws[.., 1] * _maxShift;
        var shiftY = draws[.., 2] * _maxShift;
        var cos = angle.cos();
        var sin = angle.sin();
        // θ maps output coordinates to input coordinates: [[cos, −sin, tx], [sin, cos, ty]]. A mirror before the
        // rotation negates its first column. Its draws come after the others, so that without mirrors the stream, and
        // every result, is what it was.
        var (firstX, firstY) = (cos, sin);
        if (_horizontalFlips)
        {
            var mirror = ((rand(new long[] { b }, generator: generator) < 0.5f).to_type(ScalarType.Float32) * -2 + 1).to(batch.device);
            (firstX, firstY) = (cos * mirror, sin * mirror);
        }
        var theta = stack(new[] { firstX, -sin, shiftX, firstY, cos, shiftY }, dim: 1).view(b, 2, 3);
        var images = batch.view(new[] { b }.Concat(_imageShape).ToArray());
        var grid = nn.functional.affine_grid(theta, images.shape, align_corners: false);
        var moved = nn.functional.grid_sample(images, grid, align_corners: false);
        return moved.view(b, -1).MoveToOuterDisposeScope();
    }
}
