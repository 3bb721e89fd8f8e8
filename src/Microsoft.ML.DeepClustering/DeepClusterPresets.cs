namespace Microsoft.ML.DeepClustering;

/// <summary>
/// Named starting points for <see cref="DeepClusterOptions"/>. Each call returns a new instance to adjust freely.
/// The published methods are reproduced as their authors ran them; <see cref="Recommended"/> is what we measured
/// best for its cost (docs/benchmarks.md).
/// </summary>
public static class DeepClusterPresets
{
    /// <summary>DEC (Xie et al. 2016) as in DEC-Keras: dense autoencoder D-500-500-2000-10, 200 Adam epochs, k-means++ ×20, SGD self-training, T = 140, tol = 0.1%.</summary>
    public static DeepClusterOptions Dec() => new();

    /// <summary>The baseline DEC improves on: the same autoencoder, then k-means on its embedding, no self-training.</summary>
    public static DeepClusterOptions AutoencoderKMeans() => new() { MaxIterations = 0 };

    /// <summary>IDEC (Guo et al. 2017): DEC's network and pretraining, self-training with the decoder kept, MSE + 0.1·KL, Adam.</summary>
    public static DeepClusterOptions Idec() => new()
    {
        IdecGamma = 0.1f, SelfTrainingOptimizer = SelfTrainingOptimizer.Adam, SelfTrainingLearningRate = 0.001f,
    };

    /// <summary>
    /// DEC-DA with the dense network (FcDEC-DA, Guo et al. 2018), as its authors ran it: random ±10° rotations and
    /// ±10% shifts during pretraining and self-training; 500 pretraining epochs with SGD (learning rate 1, momentum 0.9);
    /// self-training with SGD (0.01, momentum 0.9), T = 140 (the authors use 30 on the 10k MNIST-test set), tol = 0.1%.
    /// </summary>
    public static DeepClusterOptions DecDa() => new()
    {
        Augment = true, PretrainEpochs = 500,
        PretrainOptimizer = PretrainingOptimizer.Sgd, PretrainLearningRate = 1f, PretrainMomentum = 0.9f,
        SelfTrainingOptimizer = SelfTrainingOptimizer.Sgd, SelfTrainingLearningRate = 0.01f, SelfTrainingMomentum = 0.9f,
    };

    /// <summary>DEC-DA seeded by spectral clustering of the embedding's neighbour graph (see <see cref="SeedingMethod.Spectral"/>).</summary>
    public static DeepClusterOptions DecDaSpectral()
    {
        var options = DecDa();
        options.Seeding = SeedingMethod.Spectral;
        return options;
    }

    /// <summary>
    /// DCEC (Guo et al. 2017) as in its authors' code: the convolutional autoencoder (conv 32-64-128, 10-d embedding),
    /// 200 Adam epochs, k-means++, then self-training that keeps the decoder, loss = MSE + 0.1·KL, Adam (learning rate
    /// 0.001), T = 140, tol = 0.1%. For images: the shape comes from the feature column (see <see cref="DeepClusterOptions.Architecture"/>).
    /// </summary>
    public static DeepClusterOptions Dcec() => new()
    {
        Architecture = AutoencoderArchitecture.Convolutional,
        IdecGamma = 0.1f, SelfTrainingOptimizer = SelfTrainingOptimizer.Adam, SelfTrainingLearningRate = 0.001f,
    };

    /// <summary>
    /// ConvDEC-DA (Guo et al. 2018) as in its authors' code: DCEC's convolutional autoencoder pretrained and
    /// self-trained on randomly rotated (±10°) and shifted (±10%) images; DEC's KL loss only, Adam (learning rate 0.001),
    /// 500 pretraining epochs with Adam, T = 140 (the authors use 30 on the 10k MNIST-test set), tol = 0.1%.
    /// </summary>
    public static DeepClusterOptions ConvDecDa() => new()
    {
        Architecture = AutoencoderArchitecture.Convolutional, PretrainEpochs = 500,
        Augment = true, SelfTrainingOptimizer = SelfTrainingOptimizer.Adam, SelfTrainingLearningRate = 0.001f,
    };

    /// <summary>The autoencoder + k-means baseline with DEC-DA's augmented pretraining.</summary>
    public static DeepClusterOptions AutoencoderKMeansDa() => new() { Augment = true, MaxIterations = 0 };

    /// <summary>
    /// For pretrained image features (MLNet.DeepClustering.ImageFeatures' <c>FeaturizeImages</c>: ResNet18's 512
    /// L2-normalised features, or your own backbone's): DEC-Keras' recipe for STL-10's VGG features, a dense
    /// 500-500-2000 autoencoder with a 10-d embedding, then k-means and DEC's self-training. Sized for hundreds to a
    /// few thousand photos: 300 pretraining epochs, the target updated every 30 steps, at most 3,000 steps.
    /// </summary>
    public static DeepClusterOptions ImageFeatures() => new() { PretrainEpochs = 300, UpdateInterval = 30, MaxIterations = 3000 };

    /// <summary>A quick look in a minute or two on a laptop CPU: DEC's network, 20 epochs, 5 k-means restarts, at most 2,800 self-training steps.</summary>
    public static DeepClusterOptions Quick() => new() { PretrainEpochs = 20, KMeansInitializations = 5, MaxIterations = 2800 };

    /// <summary>
    /// What we recommend for images when nothing else is known: DCEC's convolutional autoencoder pretrained with
    /// DEC-DA's augmentation, a manifold step (spectral clustering of the embedding's neighbour graph) to partition the
    /// embedding, then self-training that carries that partition into the encoder, on a budget sized for 10,000 28×28
    /// images in about 10 minutes on 2 CPU cores:
    /// <list type="bullet">
    /// <item>160 pretraining epochs (Adam, random ±10° rotations and ±10% shifts), at most 11,200,000 rows seen
    ///   (<see cref="DeepClusterOptions.MaxPretrainSamples"/>: 160 epochs of 70,000 rows), so that a million rows
    ///   pretrain for 12 epochs rather than 160;</item>
    /// <item>spectral seeding (<see cref="SeedingMethod.Spectral"/>) of the embedding's 10-nearest-neighbour graph,
    ///   k-means on its K + ⌊K/5⌋ leading eigenvectors (<see cref="DeepClusterOptions.SpectralEigenvectors"/>): from the
    ///   same pretraining it beat UMAP seeding (<see cref="SeedingMethod.Umap"/>) on Fashion-MNIST and matched it on
    ///   MNIST, where K eigenvectors alone split a digit and merged two others;</item>
    /// <item>1,000 self-training steps on augmented images, all aiming at the seeding's partition
    ///   (<see cref="DeepClusterOptions.SeedingPartitionSteps"/>) rather than DEC's target P, which on Fashion-MNIST
    ///   tears apart classes that touch;</item>
    /// <item>the safeguard keeps the better model (<see cref="SelfTrainingSafeguard.KeepBetter"/>), judged against the
    ///   seeding's partition, which these steps barely move when they go well, so it acts only when self-training goes
    ///   wrong.</item>
    /// </list>
    /// The samples app uses it by default; docs/benchmarks.md has its figures. For data that are not images, use
    /// <see cref="DecDa"/> without augmentation or <see cref="Dec"/>.
    /// </summary>
    public static DeepClusterOptions Recommended()
    {
        var options = ConvDecDa();
        options.PretrainEpochs = 160;
        // 160 epochs of 70,000 rows, the largest budget measured (Fashion-MNIST): larger inputs get no more samples.
        options.MaxPretrainSamples = 160L * 70_000;
        options.Seeding = SeedingMethod.Spectral;
        options.UpdateInterval = 30;
        options.MaxIterations = 1000;
        options.SeedingPartitionSteps = options.MaxIterations;
        options.SelfTrainingSafeguard = SelfTrainingSafeguard.KeepBetter;
        return options;
    }

    /// <summary>
    /// <see cref="ConvDecDa"/>'s network and augmentation with 120 pretraining epochs, then spectral clustering of the
    /// embedding's nearest-neighbour graph (N2D's lever, <see cref="SeedingMethod.Spectral"/>) and at most 3,000 steps
    /// of IDEC's self-training, which keeps the decoder (MSE + 0.1·KL) and so preserves the local structure DEC's KL
    /// alone tears apart on classes that overlap. An alternative to <see cref="Recommended"/> for images whose classes
    /// overlap; docs/benchmarks.md has what it scores against it. Its self-training lowers the pretrained embedding's
    /// silhouette even where it helps, so its safeguard reports only.
    /// </summary>
    public static DeepClusterOptions ConvIdecSpectral()
    {
        var options = ConvDecDa();
        options.PretrainEpochs = 120;
        options.UpdateInterval = 30;
        options.MaxIterations = 3000;
        options.Seeding = SeedingMethod.Spectral;
        options.IdecGamma = 0.1f;
        return options;
    }

    /// <summary>Preset names for command lines, case-insensitive.</summary>
    public static IReadOnlyList<string> Names { get; } = new[] { "recommended", "dec", "idec", "dec-da", "dec-da-spectral", "ae-kmeans", "ae-kmeans-da", "dcec", "conv-dec-da", "quick", "image-features", "conv-idec-spectral" };

    /// <summary>The preset of that name (see <see cref="Names"/>).</summary>
    public static DeepClusterOptions Get(string name) => name?.Trim().ToLowerInvariant() switch
    {
        "recommended" => Recommended(),
        "dec" => Dec(),
        "ae-kmeans" => AutoencoderKMeans(),
        "idec" => Idec(),
        "dec-da" => DecDa(),
        "dec-da-spectral" => DecDaSpectral(),
        "ae-kmeans-da" => AutoencoderKMeansDa(),
        "dcec" => Dcec(),
        "conv-dec-da" => ConvDecDa(),
        "quick" => Quick(),
        "image-features" => ImageFeatures(),
        "conv-idec-spectral" => ConvIdecSpectral(),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, $"Unknown preset '{name}'; expected one of {string.Join(", ", Names)}."),
    };
}
