using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Google.Protobuf;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;
using NetQuantGen.Onnx.Proto;

namespace NetQuantGen.Import
{
    /// <summary>
    /// Reads a quantized ONNX model into the float model it describes plus the quantization it prescribes
    /// (<see cref="QdqModel"/>), so that the compiler honours the model's scales, zero-points and integer
    /// weights instead of calibrating.
    /// <list type="bullet">
    /// <item>QOperator nodes (QLinearConv, QLinearMatMul, com.microsoft QLinearAdd) are first expanded into
    /// their QDQ form: DequantizeLinear on every quantized input, the float operator, QuantizeLinear.</item>
    /// <item>A DequantizeLinear of a constant (weights, int32 bias) becomes a float initializer with the
    /// dequantized values; the integers are kept for the quantizer.</item>
    /// <item>ConvInteger/MatMulInteger become the float operator on operands dequantized with scale 1, its output
    /// an int32 accumulator.</item>
    /// <item>A QuantizeLinear → DequantizeLinear pair on an activation disappears; the tensor it quantizes
    /// gets its scale and zero-point (per tensor; or per axis, or computed at run time by a
    /// DynamicQuantizeLinear, which the integer path carries only from a graph input to graph outputs).</item>
    /// </list>
    /// Every parameter is checked first (positive finite scales, zero-points in range of their type, axis and
    /// per-axis lengths, Q/DQ pairs that agree): a model that would give wrong numbers gets a diagnostic.
    /// </summary>
    public static class QdqModelReader
    {
        private static readonly HashSet<string> QuantizedOperators = new(StringComparer.Ordinal)
        {
            "QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "QLinearAdd",
            "ConvInteger", "MatMulInteger", "DynamicQuantizeLinear",
        };

        /// <summary>The rewritten model, or null when the bytes hold no quantized operator (or no parsable graph: the importer reports that).</summary>
        public static QdqModel? Read(byte[] bytes, string model, ImportOptions? options = null)
        {
            ModelProto proto;
            try
            {
                proto = ModelProto.Parser.ParseFrom(bytes);
            }
            catch (Exception e) when (e is InvalidProtocolBufferException || e is InvalidOperationException)
            {
                return null;
            }
            if (proto.Graph == null || !proto.Graph.Node.Any(n => QuantizedOperators.Contains(n.OpType))) return null;
            return new Session(model, proto, options ?? new ImportOptions()).Run();
        }

        private sealed class Session
        {
            private readonly string _model;
            private readonly ModelProto _proto;
            private readonly GraphProto _graph;
            private readonly TensorReader _reader;
            private readonly Dictionary<string, TensorProto> _constants = new(StringComparer.Ordinal);
            private readonly Dictionary<string, (float Scale, int ZeroPoint)> _activations = new(StringComparer.Ordinal);
            private readonly Dictionary<string, QuantizedConstant> _quantized = new(StringComparer.Ordinal);
            private readonly SortedSet<string> _activationTypes = new(StringComparer.Ordinal);
            private readonly HashSet<string> _names = new(StringComparer.Ordinal);
            private readonly SortedSet<string> _accumulators = new(StringComparer.Ordinal);
            private readonly Dictionary<string, BoundaryQuantization> _boundary = new(StringComparer.Ordinal);

            /// <summary>The scale-1 DequantizeLinear of each ConvInteger/MatMulInteger activation operand, and that node.</summary>
            private readonly Dictionary<NodeProto, NodeProto> _integerOperands = new();

            public Session(string model, ModelProto proto, ImportOptions options)
            {
                _model = model;
                _proto = proto;
                _graph = proto.Graph;
                _reader = new TensorReader(model, options);
            }

            public QdqModel Run()
            {
                foreach (var init in _graph.Initializer) _constants[init.Name] = init;
                for (int i = 0; i < _graph.Node.Count; i++)
                    if (string.IsNullOrEmpty(_graph.Node[i].Name)) _graph.Node[i].Name = $"{_graph.Node[i].OpType}_{i.ToString(CultureInfo.InvariantCulture)}"; // as the importer labels them
                foreach (var node in _graph.Node)
                {
                    _names.UnionWith(node.Output);
                    _names.Add(node.Name);
                    var value = node.OpType == "Constant" ? node.Attribute.FirstOrDefault(a => a.Name == "value")?.T : null;
                    if (value != null && node.Output.Count == 1) _constants[node.Output[0]] = value;
                }
                _names.UnionWith(_constants.Keys);
                _names.UnionWith(_graph.Input.Select(i => i.Name));

                var nodes = _graph.Node.SelectMany(Expand).ToList();
                var floatNodes = new List<NodeProto>();
                foreach (var node in nodes)
                {
                    if (node.OpType == "DequantizeLinear" && _constants.ContainsKey(node.Input[0])) DequantizeConstant(node);
                    else floatNodes.Add(node);
                }

                // Each QuantizeLinear and the DequantizeLinear nodes reading its output vanish; readers of a
                // DequantizeLinear output read the float tensor the QuantizeLinear quantized.
                var replacement = new Dictionary<string, string>(StringComparer.Ordinal);
                var removed = new HashSet<NodeProto>();
                var graphOutputs = new HashSet<string>(_graph.Output.Select(o => o.Name), StringComparer.Ordinal);
                foreach (var q in floatNodes.Where(n => n.OpType == "DynamicQuantizeLinear").ToList())
                {
                    if (q.Output.Any(graphOutputs.Contains))
                        throw Unsupported(q, "one of its integer outputs is a graph output; model outputs must be float (end the graph with a DequantizeLinear)");
                    string x = q.Input[0];
                    if (_activations.ContainsKey(x) || _boundary.ContainsKey(x))
                        throw new ModelException(DiagnosticCatalog.InconsistentQuantization,
                            $"Model '{_model}': tensor '{x}' is quantized twice (node '{q.Name}' quantizes it at run time); quantize each activation once.");
                    _boundary[x] = new BoundaryQuantization(null);
                    _activationTypes.Add("uint8");
                    removed.Add(q);
                    foreach (var reader in floatNodes.Where(n => n.Input.Any(q.Output.Contains)))
                    {
                        if (reader.OpType != "DequantizeLinear" || q.Output.Count < 3 || !reader.Input.Take(3).SequenceEqual(q.Output.Take(3)))
                            throw Unsupported(_integerOperands.TryGetValue(reader, out var product) ? product : reader, $"it reads an output of the DynamicQuantizeLinear '{q.Name}'; a run-time quantization has no constant scale for integer arithmetic, so it may only go back to float through a DequantizeLinear of its own (y, y_scale, y_zero_point) (a DynamicQuantizeLinear feeding ConvInteger/MatMulInteger is dynamic quantization: quantize the model statically)");
                        replacement[reader.Output[0]] = x;
                        removed.Add(reader);
                    }
                }
                foreach (var q in floatNodes.Where(n => n.OpType == "QuantizeLinear").ToList())
                {
                    var parameters = Parameters(q, isConstant: false);
                    if (graphOutputs.Contains(q.Output[0]))
                        throw Unsupported(q, $"its integer output '{q.Output[0]}' is a graph output; model outputs must be float (end the graph with a DequantizeLinear)");
                    string x = q.Input[0];
                    Record(q, x, parameters);
                    removed.Add(q);
                    foreach (var reader in floatNodes.Where(n => n.Input.Contains(q.Output[0])))
                    {
                        if (reader.OpType != "DequantizeLinear")
                            throw Unsupported(reader, $"it reads the quantized tensor '{q.Output[0]}' of '{q.Name}'; only DequantizeLinear (or a QOperator) may read a QuantizeLinear output");
                        var dq = Parameters(reader, isConstant: false);
                        if (_integerOperands.TryGetValue(reader, out var product) && !parameters.Scales.SequenceEqual(dq.Scales))
                            throw Unsupported(product, $"it reads '{q.Output[0]}', which '{q.Name}' quantized with scale {parameters.Scales[0].ToString("R", CultureInfo.InvariantCulture)}; the integer path takes a {product.OpType} only as its int32 accumulators of operands quantized with scale 1 (rescaling them in float, e.g. Cast and Mul, is not supported): use QLinearConv/QLinearMatMul, or QuantizeLinear/DequantizeLinear around a float Conv/MatMul");
                        if (!Same(parameters, dq))
                            throw new ModelException(DiagnosticCatalog.InconsistentQuantization,
                                $"Model '{_model}': node '{reader.Name}' (DequantizeLinear) dequantizes '{q.Output[0]}' with {Describe(dq)}, but '{q.Name}' quantized it with {Describe(parameters)}; a QuantizeLinear/DequantizeLinear pair must use the same scale, zero-point and type (re-export the model).");
                        replacement[reader.Output[0]] = x;
                        removed.Add(reader);
                    }
                }
                var stray = floatNodes.FirstOrDefault(n => n.OpType == "DequantizeLinear" && !removed.Contains(n));
                if (stray != null)
                    throw Unsupported(stray, $"it dequantizes '{stray.Input[0]}', which is neither a constant nor the output of a QuantizeLinear");
                floatNodes.RemoveAll(removed.Contains);

                string Resolve(string name)
                {
                    while (replacement.TryGetValue(name, out var r)) name = r;
                    return name;
                }
                foreach (var node in floatNodes)
                    for (int i = 0; i < node.Input.Count; i++)
                        node.Input[i] = Resolve(node.Input[i]);
                RenameGraphOutputs(floatNodes, Resolve);
                PropagateThroughIdentities(floatNodes);

                _graph.Node.Clear();
                _graph.Node.AddRange(floatNodes);
                foreach (var output in _graph.Output.Where(o => _accumulators.Contains(o.Name) && o.Type?.TensorType != null))
                    output.Type.TensorType.ElemType = (int)TensorProto.Types.DataType.Float; // the float model computes the int32 exactly
                return new QdqModel(_proto.ToByteArray(), _activations, _quantized, _activationTypes.ToList(), _accumulators.ToList(), _boundary);
            }

            /// <summary>
            /// A graph output that was a DequantizeLinear's output keeps its name: the float tensor the pair
            /// quantized is renamed to it, or, when that tensor is a graph input or already an output, an Identity computes it.
            /// </summary>
            private void RenameGraphOutputs(List<NodeProto> nodes, Func<string, string> resolve)
            {
                var inputs = new HashSet<string>(_graph.Input.Select(i => i.Name), StringComparer.Ordinal);
                var outputNames = _graph.Output.Select(o => o.Name).ToList();
                foreach (var output in outputNames)
                {
                    string source = resolve(output);
                    if (source == output) continue;
                    var producer = nodes.FirstOrDefault(n => n.Output.Contains(source));
                    bool boundary = _boundary.TryGetValue(source, out var boundaryParameters);
                    var parameters = boundary ? default : _activations[source];
                    if (producer == null || inputs.Contains(source) || outputNames.Contains(source))
                    {
                        nodes.Add(new NodeProto { OpType = "Identity", Name = Fresh(output + "_Identity"), Input = { source }, Output = { output } });
                    }
                    else
                    {
                        producer.Output[producer.Output.IndexOf(source)] = output;
                        foreach (var node in nodes)
                            for (int i = 0; i < node.Input.Count; i++)
                                if (node.Input[i] == source) node.Input[i] = output;
                        _activations.Remove(source);
                        _boundary.Remove(source);
                    }
                    if (boundary) _boundary[output] = boundaryParameters!;
                    else _activations[output] = parameters;
                }
            }

            /// <summary>An Identity keeps scale and zero-point, so its output (e.g. a renamed graph output) gets its input's.</summary>
            private void PropagateThroughIdentities(List<NodeProto> nodes)
            {
                foreach (var node in nodes.Where(n => n.OpType == "Identity"))
                {
                    if (_activations.TryGetValue(node.Input[0], out var p) && !_activations.ContainsKey(node.Output[0]))
                        _activations[node.Output[0]] = p;
                    if (_boundary.TryGetValue(node.Input[0], out var b) && !_boundary.ContainsKey(node.Output[0]))
                        _boundary[node.Output[0]] = b;
                }
            }

            private void Record(NodeProto q, string tensor, GivenQuantization p)
            {
                if (p.Type != ElementType.Int8 && p.Type != ElementType.UInt8)
                    throw Unsupported(q, $"it quantizes activation '{tensor}' to {TypeName(p.Type)}; activations must be int8 or uint8");
                if (p.PerAxis || _boundary.ContainsKey(tensor))
                {
                    if (_activations.ContainsKey(tensor) || _boundary.TryGetValue(tensor, out var other) && (other.PerAxis == null || !Same(other.PerAxis, p)))
                        throw new ModelException(DiagnosticCatalog.InconsistentQuantization,
                            $"Model '{_model}': tensor '{tensor}' is quantized twice with different parameters (node '{q.Name}' uses {Describe(p)}); quantize each activation once.");
                    _boundary[tensor] = new BoundaryQuantization(p);
                    _activationTypes.Add(TypeName(p.Type));
                    return;
                }
                int zeroPoint = (int)p.ZeroPoints[0] - (p.Type == ElementType.UInt8 ? 128 : 0);
                var given = (p.Scales[0], zeroPoint);
                if (_activations.TryGetValue(tensor, out var earlier) && earlier != given)
                    throw new ModelException(DiagnosticCatalog.InconsistentQuantization,
                        $"Model '{_model}': tensor '{tensor}' is quantized twice with different parameters (node '{q.Name}' uses {Describe(p)}); quantize each activation once.");
                _activations[tensor] = given;
                _activationTypes.Add(TypeName(p.Type));
            }

            /// <summary>DequantizeLinear(constant) → a float initializer named as its output; the integers are kept.</summary>
            private void DequantizeConstant(NodeProto dq)
            {
                var p = Parameters(dq, isConstant: true);
                var data = _reader.Read(_constants[dq.Input[0]], $"the input '{dq.Input[0]}' of node '{dq.Name}'");
                var values = data.Integers!;
                var floats = new float[values.Length];
                int inner = 1, channels = 1;
                if (p.PerAxis)
                {
                    channels = data.Shape[p.Axis];
                    for (int d = p.Axis + 1; d < data.Shape.Length; d++) inner *= data.Shape[d];
                }
                for (int i = 0; i < values.Length; i++)
                {
                    int c = p.PerAxis ? i / inner % channels : 0;
                    floats[i] = (float)(values[i] - p.ZeroPoints[c]) * p.Scales[c]; // ONNX: (x − zero_point) · scale in float32
                }
                var tensor = new TensorProto { Name = dq.Output[0], DataType = (int)TensorProto.Types.DataType.Float };
                tensor.Dims.AddRange(data.Shape.Select(d => (long)d));
                var raw = new byte[4 * floats.Length];
                Buffer.BlockCopy(floats, 0, raw, 0, raw.Length);
                tensor.RawData = ByteString.CopyFrom(raw);
                _graph.Initializer.Add(tensor);
                _constants[tensor.Name] = tensor;
                _quantized[tensor.Name] = new QuantizedConstant(tensor.Name, data.Shape, values, p);
            }

            /// <summary>Scale, zero-point, type and axis of a QuantizeLinear/DequantizeLinear, checked.</summary>
            private GivenQuantization Parameters(NodeProto node, bool isConstant)
            {
                var blockSize = node.Attribute.FirstOrDefault(a => a.Name == "block_size");
                if (blockSize != null && blockSize.I != 0)
                    throw Unsupported(node, $"it uses blocked quantization (block_size {blockSize.I}, opset 21); only per-tensor and per-axis quantization are supported");
                if (node.Input.Count < 2 || node.Input[1].Length == 0)
                    throw Invalid(node, "it has no scale input");
                var scaleProto = ConstantProto(node, node.Input[1], "scale");
                if (scaleProto.DataType != (int)TensorProto.Types.DataType.Float)
                    throw Unsupported(node, $"its scale '{node.Input[1]}' is {(TensorProto.Types.DataType)scaleProto.DataType}; scales must be float32");
                var scaleData = _reader.Read(scaleProto, $"the scale '{node.Input[1]}' of node '{node.Name}'");
                var scales = scaleData.Floats!;
                if (scaleData.Shape.Length > 1 || scales.Length == 0)
                    throw Invalid(node, $"its scale '{node.Input[1]}' has shape {Shapes.Format(scaleData.Shape)}; it must be a scalar or a 1-D tensor (per axis)");
                for (int i = 0; i < scales.Length; i++)
                    if (!(scales[i] > 0) || float.IsInfinity(scales[i]))
                        throw Invalid(node, $"scale{(scales.Length > 1 ? $"[{i}]" : "")} of '{node.Input[1]}' is {scales[i].ToString("R", CultureInfo.InvariantCulture)}; a scale must be a positive, finite float32");

                ElementType type;
                long[] zeroPoints;
                bool hasZeroPoint = node.Input.Count > 2 && node.Input[2].Length > 0;
                if (hasZeroPoint)
                {
                    var zpProto = ConstantProto(node, node.Input[2], "zero-point");
                    type = IntegerType(node, zpProto.DataType, $"zero-point '{node.Input[2]}'");
                    var zpData = _reader.Read(zpProto, $"the zero-point '{node.Input[2]}' of node '{node.Name}'");
                    zeroPoints = zpData.Integers!;
                    if (zeroPoints.Length != scales.Length || zpData.Shape.Length != scaleData.Shape.Length)
                        throw Invalid(node, $"its zero-point '{node.Input[2]}' has shape {Shapes.Format(zpData.Shape)} but its scale has shape {Shapes.Format(scaleData.Shape)}; they must match");
                }
                else
                {
                    type = node.OpType == "DequantizeLinear" && isConstant
                        ? IntegerType(node, _constants[node.Input[0]].DataType, $"input '{node.Input[0]}'")
                        : ElementType.UInt8; // ONNX: without a zero-point, QuantizeLinear produces uint8 with zero-point 0
                    zeroPoints = new long[scales.Length];
                }
                if (isConstant && _constants[node.Input[0]].DataType != (int)type)
                    throw Invalid(node, $"its input '{node.Input[0]}' is {(TensorProto.Types.DataType)_constants[node.Input[0]].DataType} but its zero-point is {TypeName(type)}; they must have the same type");
                var (min, max) = Range(type);
                for (int i = 0; i < zeroPoints.Length; i++)
                    if (zeroPoints[i] < min || zeroPoints[i] > max)
                        throw Invalid(node, $"zero-point{(zeroPoints.Length > 1 ? $"[{i}]" : "")} {zeroPoints[i]} of '{node.Input[2]}' is out of range for {TypeName(type)} [{min}, {max}]");
                if (type == ElementType.Int32 && !(node.OpType == "DequantizeLinear" && isConstant))
                    throw Unsupported(node, "int32 quantization is only supported for constant biases behind a DequantizeLinear");
                if (type == ElementType.Int32 && zeroPoints.Any(z => z != 0))
                    throw Unsupported(node, "an int32 bias must have zero-point 0");

                var axisAttribute = node.Attribute.FirstOrDefault(a => a.Name == "axis");
                bool perAxis = scaleData.Shape.Length == 1 && scales.Length > 1;
                int axis = -1;
                if (perAxis)
                {
                    long given = axisAttribute?.I ?? 1;
                    if (!isConstant) return new GivenQuantization(scales, zeroPoints, (int)given, type); // an activation's rank is known after shape inference: QdqLowering checks the axis
                    int rank = _constants[node.Input[0]].Dims.Count;
                    if (given < -rank || given >= rank)
                        throw Invalid(node, $"axis {given} is out of range for its rank-{rank} input '{node.Input[0]}'");
                    axis = (int)(given < 0 ? given + rank : given);
                    long dim = _constants[node.Input[0]].Dims[axis];
                    if (dim != scales.Length)
                        throw Invalid(node, $"it has {scales.Length} scales along axis {axis}, but '{node.Input[0]}' has {dim} elements on that axis; per-axis scales and zero-points need one entry per slice");
                }
                return new GivenQuantization(scales, zeroPoints, axis, type);
            }

            private TensorProto ConstantProto(NodeProto node, string name, string what) =>
                _constants.TryGetValue(name, out var t) ? t
                    : throw Unsupported(node, $"its {what} '{name}' is computed at run time; quantization parameters must be constants (initializers)");

            private ElementType IntegerType(NodeProto node, int onnxType, string what) => (TensorProto.Types.DataType)onnxType switch
            {
                TensorProto.Types.DataType.Int8 => ElementType.Int8,
                TensorProto.Types.DataType.Uint8 => ElementType.UInt8,
                TensorProto.Types.DataType.Int32 => ElementType.Int32,
                var other => throw Unsupported(node, $"its {what} is {other}; NetQuantGen takes int8 and uint8 quantization (int32 for biases)"),
            };

            private static (long Min, long Max) Range(ElementType type) => type switch
            {
                ElementType.Int8 => (-128, 127),
                ElementType.UInt8 => (0, 255),
                _ => (int.MinValue, int.MaxValue),
            };

            private static bool Same(GivenQuantization a, GivenQuantization b) =>
                a.Type == b.Type && a.Axis == b.Axis && a.Scales.SequenceEqual(b.Scales) && a.ZeroPoints.SequenceEqual(b.ZeroPoints);

            private static string TypeName(ElementType type) => type.ToString().ToLowerInvariant();

            private static string Describe(GivenQuantization p) =>
                $"scale {string.Join(",", p.Scales.Select(s => s.ToString("R", CultureInfo.InvariantCulture)))}, zero-point {string.Join(",", p.ZeroPoints)} ({TypeName(p.Type)})";

            /// <summary>A QOperator node as its QDQ equivalent; every other node as it is.</summary>
            private IEnumerable<NodeProto> Expand(NodeProto node)
            {
                switch (node.OpType)
                {
                    case "QLinearConv":
                        return ExpandQLinear(node, "Conv", new (int, int, int, int?)[] { (0, 1, 2, null), (3, 4, 5, 0) }, 6, biasInput: 8);
                    case "QLinearMatMul":
                        return ExpandQLinear(node, "MatMul", new (int, int, int, int?)[] { (0, 1, 2, null), (3, 4, 5, -1) }, 6, biasInput: -1);
                    case "QLinearAdd" when node.Domain == "com.microsoft":
                        return ExpandQLinear(node, "Add", new (int, int, int, int?)[] { (0, 1, 2, null), (3, 4, 5, null) }, 6, biasInput: -1);
                    case "ConvInteger":
                        return ExpandInteger(node, "Conv", weightAxis: 0);
                    case "MatMulInteger":
                        return ExpandInteger(node, "MatMul", weightAxis: -1);
                    default:
                        return new[] { node };
                }
            }

            /// <summary>
            /// DequantizeLinear on each (input, scale, zero-point) triple, the float operator, and a QuantizeLinear with the
            /// output scale and zero-point. A QLinearConv bias is int32 at scale x_scale·w_scale[c] (zero-point 0).
            /// </summary>
            private IEnumerable<NodeProto> ExpandQLinear(NodeProto node, string floatOp, (int X, int Scale, int ZeroPoint, int? Axis)[] inputs, int outputScale, int biasInput)
            {
                if (node.Input.Count < outputScale + 2)
                    throw Invalid(node, $"it has {node.Input.Count} inputs; {node.OpType} needs at least {outputScale + 2}");
                var nodes = new List<NodeProto>();
                var floatInputs = new List<string>();
                foreach (var (x, scale, zeroPoint, axis) in inputs)
                {
                    string name = Fresh(node.Input[x] + "_dequantized");
                    var dq = Dequantize(node, node.Input[x], node.Input[scale], node.Input[zeroPoint], axis, name);
                    Parameters(dq, _constants.ContainsKey(node.Input[x])); // checked before the bias scale is derived from them
                    nodes.Add(dq);
                    floatInputs.Add(name);
                }
                if (biasInput >= 0 && node.Input.Count > biasInput && node.Input[biasInput].Length > 0)
                {
                    var xScale = _reader.Read(ConstantProto(node, node.Input[1], "x_scale"), "x_scale").Floats!;
                    var wScale = _reader.Read(ConstantProto(node, node.Input[4], "w_scale"), "w_scale").Floats!;
                    var biasScale = wScale.Select(s => xScale[0] * s).ToArray();
                    string scaleName = Fresh(node.Name + "_bias_scale"), zeroName = Fresh(node.Name + "_bias_zero_point");
                    AddInitializer(scaleName, TensorProto.Types.DataType.Float, biasScale.Length > 1 ? new long[] { biasScale.Length } : Array.Empty<long>(), FloatBytes(biasScale));
                    AddInitializer(zeroName, TensorProto.Types.DataType.Int32, biasScale.Length > 1 ? new long[] { biasScale.Length } : Array.Empty<long>(), new byte[4 * biasScale.Length]);
                    string name = Fresh(node.Input[biasInput] + "_dequantized");
                    var dq = new NodeProto { OpType = "DequantizeLinear", Name = Fresh(node.Name + "_bias_DequantizeLinear"), Input = { node.Input[biasInput], scaleName, zeroName }, Output = { name } };
                    if (biasScale.Length > 1) dq.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
                    nodes.Add(dq);
                    floatInputs.Add(name);
                }
                string floatOutput = Fresh(node.Output[0] + "_float");
                var op = new NodeProto { OpType = floatOp, Name = node.Name, Output = { floatOutput } };
                op.Input.AddRange(floatInputs);
                op.Attribute.AddRange(node.Attribute);
                nodes.Add(op);
                nodes.Add(new NodeProto { OpType = "QuantizeLinear", Name = Fresh(node.Name + "_QuantizeLinear"), Input = { floatOutput, node.Input[outputScale], node.Input[outputScale + 1] }, Output = { node.Output[0] } });
                return nodes;
            }

            /// <summary>
            /// ConvInteger/MatMulInteger: both operands dequantized with scale 1 (so the float operator computes the int32
            /// Σ (x − z_x)·(w − z_w) exactly), the float operator, and its output recorded as an int32 accumulator.
            /// </summary>
            private IEnumerable<NodeProto> ExpandInteger(NodeProto node, string floatOp, int weightAxis)
            {
                if (node.Input.Count < 2)
                    throw Invalid(node, $"it has {node.Input.Count} inputs; {node.OpType} needs at least 2");
                var nodes = new List<NodeProto>();
                var floatInputs = new List<string>();
                for (int i = 0; i < 2; i++)
                {
                    string zeroPoint = node.Input.Count > i + 2 ? node.Input[i + 2] : "";
                    // One unit scale per zero-point, in the zero-point's shape (per tensor or per output channel).
                    var dims = zeroPoint.Length > 0 && _constants.TryGetValue(zeroPoint, out var zp) ? zp.Dims.ToArray() : Array.Empty<long>();
                    int entries = dims.Length == 1 ? (int)dims[0] : 1;
                    string scale = Fresh(node.Name + "_unit_scale");
                    AddInitializer(scale, TensorProto.Types.DataType.Float, dims, FloatBytes(Enumerable.Repeat(1f, entries).ToArray()));
                    string name = Fresh(node.Input[i] + "_dequantized");
                    var dq = Dequantize(node, node.Input[i], scale, zeroPoint, i == 1 && entries > 1 ? weightAxis : null, name);
                    _integerOperands[dq] = node;
                    nodes.Add(dq);
                    floatInputs.Add(name);
                }
                var op = new NodeProto { OpType = floatOp, Name = node.Name, Output = { node.Output[0] } };
                op.Input.AddRange(floatInputs);
                op.Attribute.AddRange(node.Attribute);
                nodes.Add(op);
                _accumulators.Add(node.Output[0]);
                return nodes;
            }

            private NodeProto Dequantize(NodeProto node, string x, string scale, string zeroPoint, int? axis, string output)
            {
                var dq = new NodeProto { OpType = "DequantizeLinear", Name = Fresh(node.Name + "_DequantizeLinear"), Input = { x, scale }, Output = { output } };
                if (zeroPoint.Length > 0) dq.Input.Add(zeroPoint);
                if (axis != null) dq.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = axis.Value });
                return dq;
            }

            private void AddInitializer(string name, TensorProto.Types.DataType type, long[] dims, byte[] raw)
            {
                var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(raw) };
                tensor.Dims.AddRange(dims);
                _graph.Initializer.Add(tensor);
                _constants[name] = tensor;
            }

            private static byte[] FloatBytes(float[] values)
            {
                var raw = new byte[4 * values.Length];
                Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
                return raw;
            }

            private string Fresh(string name)
            {
                string candidate = name;
                for (int i = 1; _names.Contains(candidate); i++) candidate = name + "_" + i.ToString(CultureInfo.InvariantCulture);
                _names.Add(candidate);
                return candidate;
            }

            private ModelException Invalid(NodeProto node, string why) =>
                new(DiagnosticCatalog.InvalidQuantizationParameters, $"Model '{_model}': node '{node.Name}' ({node.OpType}): {why}.");

            private ModelException Unsupported(NodeProto node, string why) =>
                new(DiagnosticCatalog.UnsupportedQuantization, $"Model '{_model}': node '{node.Name}' ({node.OpType}) cannot be compiled: {why}.");
        }
    }
}
