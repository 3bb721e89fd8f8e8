namespace Microsoft.ML.DeepClustering.Samples.Input;

/// <summary>Column names shared by the loaders, the training pipeline, saved models and the report.</summary>
public static class SampleColumns
{
    /// <summary>The pixel vector the model clusters, float[channels × height × width] in [0, 1].</summary>
    public const string Features = MnistIdx.FeaturesColumnName;

    /// <summary>The ground-truth class (float), only when the input has labels.</summary>
    public const string Label = MnistIdx.LabelColumnName;

    /// <summary>Absolute path of an image file; a model trained on a folder reads this column.</summary>
    public const string ImagePath = "ImagePath";

    /// <summary>The decoded image between LoadImages and ExtractPixels.</summary>
    public const string Image = "Image";

    /// <summary>The model's outputs (DeepClusterOptions' default names, which the app keeps).</summary>
    public const string PredictedClusterId = "PredictedClusterId";
    public const string SoftAssignment = "SoftAssignment";
    public const string Embedding = "Embedding";
    public const string Score = "Score";
}
