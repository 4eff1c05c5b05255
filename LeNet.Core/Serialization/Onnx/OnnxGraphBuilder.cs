using LeNet.Core.Serialization.Onnx.Schema;

namespace LeNet.Core.Serialization.Onnx;

/// <summary>Appends nodes, weights (as initializers) and typed inputs/outputs to an ONNX graph.</summary>
internal sealed class OnnxGraphBuilder(string name)
{
    public GraphProto Graph { get; } = new() { Name = name };

    /// <summary>Stores the tensor's values as a float initializer; returns its name.</summary>
    public string Initializer(string name, Tensor tensor)
    {
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        foreach (var size in tensor.Shape) proto.Dims.Add(size);
        // float_data rather than raw_data: protobuf fixes its byte order, so the file is the same on any machine.
        proto.FloatData.AddRange(tensor.ToArray());
        Graph.Initializer.Add(proto);
        return name;
    }

    /// <summary>Appends a node; an optional input left out is "". Returns the output's name.</summary>
    public string Node(string opType, string name, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return output;
    }

    public void Input(string name, IReadOnlyList<object> dimensions) => Graph.Input.Add(FloatValue(name, dimensions));
    public void Output(string name, IReadOnlyList<object> dimensions) => Graph.Output.Add(FloatValue(name, dimensions));

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>A float tensor's name and shape; each dimension is a size (int) or a symbolic name (string).</summary>
    private static ValueInfoProto FloatValue(string name, IReadOnlyList<object> dimensions)
    {
        var shape = new TensorShapeProto();
        foreach (var dimension in dimensions)
            shape.Dim.Add(dimension switch
            {
                int size => new TensorShapeProto.Types.Dimension { DimValue = size },
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                _ => throw new ArgumentException($"A dimension is a size or a name, not {dimension}.",
                    nameof(dimensions)),
            });
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape };
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }
}
