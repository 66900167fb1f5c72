using System.Collections.Generic;
using System.Linq;
using Google.Protobuf;
using NetQuantGen.Onnx.Proto;

namespace NetQuantGen.Tests
{
    /// <summary>Builds small ONNX models in memory for tests, through the same protobuf classes the importer reads.</summary>
    public sealed class OnnxBuilder
    {
        private readonly GraphProto _graph = new() { Name = "test" };
        private readonly int _opset;

        public OnnxBuilder(int opset = 13) => _opset = opset;

        public OnnxBuilder Input(string name, params long[] dims) => Input(name, dims.Select(d => (long?)d).ToArray());

        /// <summary>An input whose null dimensions are dynamic (dim_param "d{axis}").</summary>
        public OnnxBuilder Input(string name, long?[] dims)
        {
            _graph.Input.Add(ValueInfo(name, dims));
            return this;
        }

        public OnnxBuilder Output(string name) 
        {
            _graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
            return this;
        }

        public OnnxBuilder Initializer(string name, long[] dims, float[] values)
        {
            _graph.Initializer.Add(FloatTensor(name, dims, values));
            return this;
        }

        public OnnxBuilder Initializer(TensorProto tensor)
        {
            _graph.Initializer.Add(tensor);
            return this;
        }

        /// <summary>A UINT8 initializer whose raw_data is <paramref name="raw"/>, byte for byte.</summary>
        public OnnxBuilder ByteInitializer(string name, byte[] raw)
        {
            _graph.Initializer.Add(Uint8Tensor(name, new long[] { raw.Length }, raw));
            return this;
        }

        public OnnxBuilder IntInitializer(string name, long[] values)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
            t.Dims.Add(values.Length);
            t.Int64Data.AddRange(values);
            _graph.Initializer.Add(t);
            return this;
        }

        public OnnxBuilder Node(string opType, string[] inputs, string[] outputs, string? name = null, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = opType, Name = name ?? outputs[0] + "_node" };
            node.Input.AddRange(inputs);
            node.Output.AddRange(outputs);
            node.Attribute.AddRange(attributes);
            _graph.Node.Add(node);
            return this;
        }

        public ModelProto Model()
        {
            var model = new ModelProto { IrVersion = 8, ProducerName = "NetQuantGen.Tests", Graph = _graph.Clone() };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = _opset });
            return model;
        }

        public byte[] Bytes() => Model().ToByteArray();

        public static TensorProto FloatTensor(string name, long[] dims, float[] values)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            t.Dims.AddRange(dims);
            var raw = new byte[values.Length * 4];
            System.Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
            t.RawData = ByteString.CopyFrom(raw);
            return t;
        }

        public static TensorProto Uint8Tensor(string name, long[] dims, byte[] raw)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Uint8 };
            t.Dims.AddRange(dims);
            t.RawData = ByteString.CopyFrom(raw);
            return t;
        }

        public static AttributeProto Ints(string name, params long[] values)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.AddRange(values);
            return a;
        }

        public static AttributeProto Int(string name, long value) =>
            new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

        public static AttributeProto Float(string name, float value) =>
            new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

        private static ValueInfoProto ValueInfo(string name, IReadOnlyList<long?> dims)
        {
            var shape = new TensorShapeProto();
            for (int i = 0; i < dims.Count; i++)
                shape.Dim.Add(dims[i] is long d ? new TensorShapeProto.Types.Dimension { DimValue = d } : new TensorShapeProto.Types.Dimension { DimParam = $"d{i}" });
            return new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } },
            };
        }
    }
}
