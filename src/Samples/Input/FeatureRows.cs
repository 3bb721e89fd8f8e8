using Microsoft.ML.Data;

namespace Microsoft.ML.DeepClustering.Samples.Input;

/// <summary>Photos' features held in memory as an IDataView: ImagePath, Label when known, and Features of a fixed size.</summary>
internal static class FeatureRows
{
    private sealed class Row
    {
        public string ImagePath { get; set; } = "";
        public float[] Features { get; set; } = [];
    }

    private sealed class LabelledRow
    {
        public string ImagePath { get; set; } = "";
        public float Label { get; set; }
        public float[] Features { get; set; } = [];
    }

    public static IDataView DataView(MLContext ml, IReadOnlyList<string> paths, IReadOnlyList<float>? labels, float[][] features)
    {
        int size = features.Length == 0 ? 0 : features[0].Length;
        if (labels is null)
        {
            var schema = SchemaDefinition.Create(typeof(Row));
            schema[SampleColumns.Features].ColumnType = new VectorDataViewType(NumberDataViewType.Single, size);
            return ml.Data.LoadFromEnumerable(paths.Select((p, i) => new Row { ImagePath = p, Features = features[i] }).ToList(), schema);
        }
        var labelled = SchemaDefinition.Create(typeof(LabelledRow));
        labelled[SampleColumns.Features].ColumnType = new VectorDataViewType(NumberDataViewType.Single, size);
        return ml.Data.LoadFromEnumerable(paths.Select((p, i) => new LabelledRow { ImagePath = p, Label = labels[i], Features = features[i] }).ToList(), labelled);
    }
}
