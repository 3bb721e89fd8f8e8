using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.DeepClustering.Onnx.Proto;

namespace Microsoft.ML.DeepClustering.Onnx;

/// <summary>
/// A small builder for ONNX graphs: named values, constant initializers and nodes, written as a ModelProto.
/// Opset 17 keeps ReduceSumSquare's axes an attribute (opset 18 made it an input) and is served by every
/// ONNX Runtime since 1.14.
/// </summary>
internal sealed class OnnxGraph
{
    public const int OpsetVersion = 17;
    private const long IrVersion = 8;

    private readonly GraphProto _graph = new();
    private int _nextName;

    public OnnxGraph(string name) => _graph.Name = name;

    /// <summary>A float input [batch, dims...]; the batch dimension is symbolic so that any number of rows can be scored at once.</summary>
    public string FloatInput(string name, params long[] dims)
    {
        _graph.Input.Add(ValueInfo(name, TensorProto.Types.DataType.Float, dims));
        return name;
    }

    /// <summary>Declares <paramref name="value"/> a graph output of the given element type and per-row dims.</summary>
    public void Output(string value, TensorProto.Types.DataType type, params long[] dims) =>
        _graph.Output.Add(ValueInfo(value, type, dims));

    public string FloatConstant(string hint, float[] values, params long[] dims)
    {
        var tensor = new TensorProto { Name = Fresh(hint), DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        // raw_data is little-endian by the ONNX spec, as is every platform .NET and ONNX Runtime run on together.
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    public string FloatScalar(string hint, float value) => FloatConstant(hint, new[] { value });

    public string Int64Constant(string hint, params long[] values)
    {
        var tensor = new TensorProto { Name = Fresh(hint), DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds a node with one output. <paramref name="output"/> names it (a graph output); otherwise a fresh name is made.</summary>
    public string Node(string opType, string[] inputs, string? output = null, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = Fresh(opType) };
        node.Input.AddRange(inputs);
        string result = output ?? Fresh(opType.ToLowerInvariant());
        node.Output.Add(result);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return result;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    public byte[] ToModelBytes(string docString, IReadOnlyDictionary<string, string> metadata)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "Microsoft.ML.DeepClustering",
            ProducerVersion = typeof(OnnxGraph).Assembly.GetName().Version?.ToString() ?? "",
            DocString = docString,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        foreach (var (key, value) in metadata)
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model.ToByteArray();
    }

    private string Fresh(string hint) => $"dc_{hint}_{_nextName++}";

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        foreach (long d in dims)
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
