using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

// Usage: ModelLoadProbe model.zip features.bin rows columns
//        ModelLoadProbe model.zip --images path...
// Reads float32 rows from features.bin (or takes image paths, for a pipeline that starts with LoadImages from an
// "ImagePath" column), scores them with the loaded model through a PredictionEngine-free cursor, and prints one line
// per row: the cluster id, then the Score values.
if (args.Length >= 3 && args[1] == "--images")
    return ScoreImages(args[0], args[2..]);
if (args.Length != 4)
{
    Console.Error.WriteLine("usage: ModelLoadProbe model.zip features.bin rows columns | ModelLoadProbe model.zip --images path...");
    return 2;
}
int rows = int.Parse(args[2], CultureInfo.InvariantCulture), columns = int.Parse(args[3], CultureInfo.InvariantCulture);
var bytes = File.ReadAllBytes(args[1]);
var values = new float[rows * columns];
Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);

var mlContext = new MLContext();
var model = mlContext.Model.Load(args[0], out var inputSchema);
var definition = SchemaDefinition.Create(typeof(Row));
definition[nameof(Row.Features)].ColumnType = inputSchema["Features"].Type;
var data = mlContext.Data.LoadFromEnumerable(
    Enumerable.Range(0, rows).Select(r => new Row { Features = values.AsSpan(r * columns, columns).ToArray() }), definition);
return Print(model, data, rows);

static int ScoreImages(string modelPath, string[] paths)
{
    var mlContext = new MLContext();
    var model = mlContext.Model.Load(modelPath, out _);
    var data = mlContext.Data.LoadFromEnumerable(paths.Select(p => new ImageRow { ImagePath = p }));
    return Print(model, data, paths.Length);
}

static int Print(ITransformer model, IDataView data, int rows)
{
    var scored = model.Transform(data);
    Console.WriteLine($"# {model.GetType().Name}: PredictedClusterId {scored.Schema["PredictedClusterId"].Type}, Score {scored.Schema["Score"].Type}");
    var ids = scored.GetColumn<uint>("PredictedClusterId").ToArray();
    var scores = scored.GetColumn<float[]>("Score").ToArray();
    for (int i = 0; i < rows; i++)
        Console.WriteLine(ids[i].ToString(CultureInfo.InvariantCulture) + " " + string.Join(" ", scores[i].Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
    if (model is IDisposable disposable)
        disposable.Dispose();
    return 0;
}

internal sealed class Row
{
    public float[] Features { get; set; } = Array.Empty<float>();
}

internal sealed class ImageRow
{
    public string ImagePath { get; set; } = "";
}
