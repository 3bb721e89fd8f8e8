using Microsoft.ML;
using Microsoft.ML.DeepClustering.Model;
using Microsoft.ML.DeepClustering.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.DeepClustering.Tests;

public class AugmentationTests
{
    private static Tensor Image(int height, int width, Func<int, int, float> pixel)
    {
        var values = new float[height * width];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                values[y * width + x] = pixel(y, x);
        return tensor(values, new long[] { 1, height * width });
    }

    [Fact]
    public void ZeroRangesLeaveImagesUnchanged()
    {
        using var image = Image(6, 5, (y, x) => y * 5 + x);
        var augmentation = new Augmentation(new ImageShape(1, 6, 5), maxRotationDegrees: 0, maxShiftFraction: 0);
        using var generator = new Generator(1);
        using var moved = augmentation.Apply(image, generator);
        Assert.Equal(image.data<float>().ToArray(), moved.data<float>().ToArray().Select(v => MathF.Round(v, 4)));
    }

    [Fact]
    public void ShiftsMoveWholePixelsAndRotationsKeepTheCentre()
    {
        // A single bright pixel in the middle of a 9×9 image: rotations about the centre leave it where it is;
        // shifts of up to one pixel (1/9 of the width) move it by at most one pixel, with bilinear weights.
        using var image = Image(9, 9, (y, x) => y == 4 && x == 4 ? 1f : 0f);
        var rotation = new Augmentation(new ImageShape(1, 9, 9), maxRotationDegrees: 30, maxShiftFraction: 0);
        var shift = new Augmentation(new ImageShape(1, 9, 9), maxRotationDegrees: 0, maxShiftFraction: 1f / 9);
        using var generator = new Generator(3);
        using var batch = image.repeat(16, 1);
        using var rotated = rotation.Apply(batch, generator);
        Assert.All(Enumerable.Range(0, 16), i => Assert.Equal(1f, rotated[i, 4 * 9 + 4].item<float>(), 3));

        using var shifted = shift.Apply(batch, generator);
        var values = shifted.data<float>().ToArray();
        for (int i = 0; i < 16; i++)
        {
            var row = values.AsSpan(i * 81, 81).ToArray();
            Assert.Equal(1f, row.Sum(), 3);                       // nothing lost at this distance from the border
            int brightest = Array.IndexOf(row, row.Max());
            Assert.InRange(Math.Abs(brightest / 9 - 4), 0, 1);    // within one pixel of the centre
            Assert.InRange(Math.Abs(brightest % 9 - 4), 0, 1);
        }
        Assert.True(values.Distinct().Count() > 3, "the shifts differ from image to image");
    }

    [Fact]
    public void HorizontalFlipsMirrorAboutHalfTheImagesAndLeaveTheStreamOtherwiseAlone()
    {
        // An image that differs from its mirror: with zero ranges, each copy is either the image or its mirror.
        using var image = Image(4, 5, (y, x) => y * 5 + x);
        var mirrorOfImage = Enumerable.Range(0, 20).Select(i => (float)(i / 5 * 5 + 4 - i % 5)).ToArray();
        var flips = new Augmentation(new ImageShape(1, 4, 5), maxRotationDegrees: 0, maxShiftFraction: 0, horizontalFlips: true);
        using var batch = image.repeat(200, 1);
        using var generator = new Generator(7);
        using var flipped = flips.Apply(batch, generator);
        var values = flipped.data<float>().ToArray().Select(v => MathF.Round(v, 4)).ToArray();
        int mirrored = 0;
        for (int i = 0; i < 200; i++)
        {
            var row = values.AsSpan(i * 20, 20).ToArray();
            bool isMirror = row.SequenceEqual(mirrorOfImage);
            Assert.True(isMirror || row.SequenceEqual(image.data<float>().ToArray()), $"copy {i} is neither the image nor its mirror");
            mirrored += isMirror ? 1 : 0;
        }
        Assert.InRange(mirrored, 70, 130);   // a fair coin per image: 100 ± 4 standard deviations

        // Without flips, the rotations and shifts drawn from the same generator state are the ones drawn before the option
        // existed: the flips' draws come after them.
        var plain = new Augmentation(new ImageShape(1, 4, 5), maxRotationDegrees: 20, maxShiftFraction: 0.1f);
        var withFlips = new Augmentation(new ImageShape(1, 4, 5), maxRotationDegrees: 20, maxShiftFraction: 0.1f, horizontalFlips: true);
        using var first = new Generator(11);
        using var second = new Generator(11);
        using var a = plain.Apply(batch, first);
        using var b = withFlips.Apply(batch, second);
        var plainRows = a.data<float>().ToArray();
        var flipRows = b.data<float>().ToArray();
        int same = Enumerable.Range(0, 200).Count(i => plainRows.AsSpan(i * 20, 20).SequenceEqual(flipRows.AsSpan(i * 20, 20)));
        Assert.InRange(same, 70, 130);       // the unmirrored copies are moved exactly as without the option
    }

    [Fact]
    public void ImageShapeComesFromOptionsThenDimensionsThenASquare()
    {
        var options = new DeepClusterOptions();
        Assert.Equal(new ImageShape(3, 8, 10), ImageShape.Infer(new[] { 3, 8, 10 }, 240, options.ImageHeight, options.ImageWidth, options.ImageChannels));
        Assert.Equal(new ImageShape(1, 8, 10), ImageShape.Infer(new[] { 8, 10 }, 80, options.ImageHeight, options.ImageWidth, options.ImageChannels));
        Assert.Equal(new ImageShape(1, 28, 28), ImageShape.Infer(new[] { 784 }, 784, options.ImageHeight, options.ImageWidth, options.ImageChannels));
        Assert.Null(ImageShape.Infer(new[] { 785 }, 785, options.ImageHeight, options.ImageWidth, options.ImageChannels));
        options.ImageHeight = 5;
        options.ImageWidth = 157;
        Assert.Equal(new ImageShape(1, 5, 157), ImageShape.Infer(new[] { 785 }, 785, options.ImageHeight, options.ImageWidth, options.ImageChannels));
    }

    [Fact]
    public void AugmentWithoutAnImageShapeIsRejected()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 10).Select(i => new Row { Features = Enumerable.Range(0, 5).Select(j => (float)(i * j)).ToArray() });
        var options = TestData.TinyOptions();
        options.EmbeddingDimension = 2;
        options.Augment = true;
        var e = Assert.Throws<ArgumentException>(() => ml.Transforms.DeepCluster(options).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("'Features'", e.Message);
        Assert.Contains("ImageHeight", e.Message);
    }

    [Fact]
    public void AugmentedIdecTrainsAndScores()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.Cache(TestData.Mnist(ml, 300));
        var options = TestData.TinyOptions();
        options.Augment = true;
        options.IdecGamma = 0.1f;
        options.SelfTrainingOptimizer = SelfTrainingOptimizer.Adam;
        options.SelfTrainingLearningRate = 0.001f;
        using var model = ml.Transforms.DeepCluster(options).Fit(data);
        Assert.Equal(300, model.History.ClusterSizes.Sum());
        Assert.True(model.History.SelfTrainingSteps > 0);
        Assert.All(TestData.Column(model.Transform(data), "Score").SelectMany(s => s), v => Assert.True(float.IsFinite(v)));
    }

    private sealed class Row
    {
        [Microsoft.ML.Data.VectorType(5)] public float[] Features { get; set; } = Array.Empty<float>();
    }
}
