using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Google.Protobuf;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using NetQuantGen.Onnx.Proto;

namespace NetQuantGen.Export
{
    /// <summary>What one QDQ export produced: the ONNX bytes (null when an error stopped it), the lowering it came from, and every diagnostic.</summary>
    public sealed class QdqExportResult
    {
        public QdqExportResult(byte[]? model, Lowering? lowering, QdqExportSummary? summary, IReadOnlyList<ModelDiagnostic> diagnostics)
        {
            Model = model;
            Lowering = lowering;
            Summary = summary;
            Diagnostics = diagnostics;
        }

        /// <summary>The serialized QDQ ModelProto (opset 13), or null.</summary>
        public byte[]? Model { get; }

        /// <summary>The float graph after passes and the integer graph whose scales, zero-points and weights the export carries.</summary>
        public Lowering? Lowering { get; }

        public QdqExportSummary? Summary { get; }

        public IReadOnlyList<ModelDiagnostic> Diagnostics { get; }

        public bool Succeeded => Model != null;
    }

    /// <summary>Counts of what the QDQ model holds, for the tool's one-line report.</summary>
    public sealed record QdqExportSummary(int QuantizedActivations, int QuantizeNodes, int DequantizeNodes, int QuantizedWeights, IReadOnlyList<KeyValuePair<string, int>> FloatOperators)
    {
        public string Describe() =>
            $"{QuantizedActivations} activation tensors with QuantizeLinear/DequantizeLinear pairs, {QuantizedWeights} int8 weight tensors; " +
            $"float operators: {string.Join(", ", FloatOperators.Select(p => $"{p.Value} {p.Key}"))}";
    }

    /// <summary>The element type of the exported activations.</summary>
    public enum QdqActivationType
    {
        /// <summary>int8 with our zero-points, exactly as the integer graph holds them (the default).</summary>
        Int8,

        /// <summary>
        /// uint8 with zero-point + 128: the same real values, rounding and saturation, one to one (q + 128).
        /// ONNX Runtime on x86 computes int8 QDQ models as uint8 × int8 anyway and converts a Q/DQ pair itself
        /// only when the tensor has a single consumer; exporting uint8 lets it fuse residual networks entirely.
        /// </summary>
        UInt8,
    }

    /// <summary>How to export.</summary>
    public sealed record QdqExportOptions
    {
        public QdqActivationType Activations { get; init; } = QdqActivationType.Int8;

        /// <summary>The producer_name written into the model.</summary>
        public string Producer { get; init; } = "NetQuantGen";
    }

    /// <summary>Provenance written into the exported model's doc string and metadata.</summary>
    public sealed record QdqExportInfo(string ModelFileName, string ModelSha256, string? StatisticsFileName, string Quantization, string Producer);

    /// <summary>
    /// Writes the quantized model as a QDQ ONNX model (opset 13) that ONNX Runtime runs and fuses into
    /// QLinearConv / QGemm / QLinearAdd / ...: every activation tensor of the integer graph gets a
    /// QuantizeLinear → DequantizeLinear pair with exactly its int8 scale and zero-point; conv and gemm
    /// weights are the compiler's int8 weights (symmetric, zero-point 0, per output channel on axis 0)
    /// behind a DequantizeLinear; biases are the compiler's int32 biases with scale s_in·s_w[c]. Between the
    /// pairs stand the float operators of the graph after the float passes, a fused Relu/Clip again as its
    /// own node after the Conv/Gemm/Add it was folded into (ONNX Runtime removes it into the following
    /// QuantizeLinear when it is a no-op there, which it is whenever the integer clamp is).
    /// Activations are int8 by default; <see cref="QdqActivationType.UInt8"/> writes the same quantization as
    /// uint8 (zero-point + 128), the form ONNX Runtime's x86 kernels run and fuse everywhere.
    /// Pure: bytes in, bytes out, no file I/O; never throws out of <see cref="Export(ModelInput, QdqExportOptions)"/>.
    /// </summary>
    public static class QdqExporter
    {
        public const int Opset = 13;

        /// <summary>IR version 7 is the one that goes with opset 13.</summary>
        public const long IrVersion = 7;

        /// <summary>Lowers the model exactly as the generator does (same options, same statistics) and exports it.</summary>
        public static QdqExportResult Export(ModelInput input, QdqExportOptions? options = null)
        {
            options ??= new QdqExportOptions();
            var diagnostics = new List<ModelDiagnostic>();
            if (input.StatisticsBytes == null)
            {
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.InvalidOption,
                    $"Model '{input.ModelFileName}': a QDQ export needs calibration statistics, since its scales and zero-points come from them. {ModelCompiler.HowToCalibrate(input)}"));
                return new QdqExportResult(null, null, null, diagnostics);
            }
            var lowering = ModelCompiler.Lower(input);
            diagnostics.AddRange(lowering.Diagnostics);
            if (lowering.FloatGraph == null || lowering.IntegerGraph == null || diagnostics.Any(d => d.Kind.Level == DiagnosticLevel.Error))
                return new QdqExportResult(null, lowering, null, diagnostics);
            try
            {
                var info = new QdqExportInfo(input.ModelFileName, lowering.ModelSha256, input.StatisticsFileName, ModelCompiler.Describe(input.Options), options.Producer);
                var model = Build(lowering.FloatGraph, lowering.IntegerGraph, info, options.Activations);
                return new QdqExportResult(model.ToByteArray(), lowering, Summarize(model), diagnostics);
            }
            catch (ModelException e)
            {
                diagnostics.Add(e.ToDiagnostic());
            }
            catch (Exception e)
            {
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.InternalError,
                    $"Model '{input.ModelFileName}': the QDQ export failed unexpectedly ({e.GetType().Name}: {e.Message}). Please report this with the model."));
            }
            return new QdqExportResult(null, lowering, null, diagnostics);
        }

        /// <summary>
        /// The QDQ model of a lowering. <paramref name="floatGraph"/> must be the graph the integer graph was
        /// quantized from (one integer operation per float node, in the same order). Throws
        /// <see cref="ModelException"/> for what has no opset-13 form.
        /// </summary>
        public static ModelProto Build(Graph floatGraph, IntegerGraph integerGraph, QdqExportInfo info, QdqActivationType activations = QdqActivationType.Int8)
        {
            if (floatGraph.Nodes.Count != integerGraph.Operations.Count)
                throw new ModelException(DiagnosticCatalog.InternalError,
                    $"Model '{info.ModelFileName}': the integer graph has {integerGraph.Operations.Count} operations for {floatGraph.Nodes.Count} float nodes; the QDQ export needs one per node.");
            var writer = new Writer(floatGraph, integerGraph, info, activations);
            return writer.Write();
        }

        public static QdqExportSummary Summarize(ModelProto model)
        {
            var nodes = model.Graph.Node;
            int q = nodes.Count(n => n.OpType == "QuantizeLinear");
            int dq = nodes.Count(n => n.OpType == "DequantizeLinear");
            var weightNames = new HashSet<string>(model.Graph.Initializer.Where(t => t.DataType == (int)TensorProto.Types.DataType.Int8 && t.Dims.Count >= 2).Select(t => t.Name));
            int weights = nodes.Count(n => n.OpType == "DequantizeLinear" && weightNames.Contains(n.Input[0]));
            var floatOps = nodes.Where(n => n.OpType != "QuantizeLinear" && n.OpType != "DequantizeLinear")
                .GroupBy(n => n.OpType).Select(g => new KeyValuePair<string, int>(g.Key, g.Count())).OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).ToList();
            return new QdqExportSummary(q, q, dq, weights, floatOps);
        }

        private sealed class Writer
        {
            private readonly Graph _floatGraph;
            private readonly IntegerGraph _integerGraph;
            private readonly QdqExportInfo _info;
            private readonly GraphProto _graph = new();
            private readonly HashSet<string> _reserved = new(StringComparer.Ordinal);
            private readonly HashSet<string> _used = new(StringComparer.Ordinal);
            private readonly Dictionary<QTensor, string> _dequantized = new();
            private readonly HashSet<string> _graphOutputs;
            private readonly QdqActivationType _activations;

            public Writer(Graph floatGraph, IntegerGraph integerGraph, QdqExportInfo info, QdqActivationType activations)
            {
                _activations = activations;
                _floatGraph = floatGraph;
                _integerGraph = integerGraph;
                _info = info;
                foreach (var v in floatGraph.Values()) _reserved.Add(v.Name);
                foreach (var n in floatGraph.Nodes) _reserved.Add(n.Name);
                _graphOutputs = new HashSet<string>(integerGraph.Outputs.Select(o => o.OutputName), StringComparer.Ordinal);
            }

            public ModelProto Write()
            {
                _graph.Name = string.IsNullOrEmpty(_floatGraph.ModelName) ? "model" : _floatGraph.ModelName;
                _graph.DocString = _activations == QdqActivationType.UInt8
                    ? "Quantized by NetQuantGen: int8 activations (per tensor) stored as uint8 with zero-point + 128, int8 weights (symmetric, per output channel), int32 biases."
                    : "Quantized by NetQuantGen: int8 activations (per tensor), int8 weights (symmetric, per output channel), int32 biases.";

                foreach (var input in _integerGraph.Inputs)
                {
                    var value = _floatGraph.Inputs.First(v => v.Name == input.InputName);
                    _graph.Input.Add(FloatValueInfo(Claim(value.Name), value.Shape));
                    QuantizeDequantize(input.Output, value.Name);
                }

                for (int i = 0; i < _floatGraph.Nodes.Count; i++)
                {
                    var node = _floatGraph.Nodes[i];
                    var op = _integerGraph.Operations[i];
                    if (op.Source != node.Name)
                        throw new ModelException(DiagnosticCatalog.InternalError,
                            $"Model '{_info.ModelFileName}': integer operation {i} comes from '{op.Source}', float node {i} is '{node.Name}'; the QDQ export needs them in the same order.");
                    string floatOutput = OutputNameFor(op.Output);
                    EmitNode(node, op, floatOutput);
                    QuantizeDequantize(op.Output, floatOutput);
                }

                foreach (var output in _integerGraph.Outputs)
                {
                    if (!_dequantized.TryGetValue(output.Input, out var name) || name != output.OutputName)
                    {
                        // An output that is also a graph input, or one tensor feeding two outputs: an Identity names it.
                        var source = _dequantized[output.Input];
                        Claim(output.OutputName);
                        _graph.Node.Add(Node("Identity", Unique(output.OutputName + "_Identity"), new[] { source }, output.OutputName));
                    }
                    var value = _floatGraph.Outputs.First(v => v.Name == output.OutputName);
                    _graph.Output.Add(FloatValueInfo(output.OutputName, value.Shape));
                }

                var model = new ModelProto
                {
                    IrVersion = IrVersion,
                    ProducerName = _info.Producer,
                    ProducerVersion = typeof(QdqExporter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
                    Domain = "",
                    ModelVersion = 1,
                    DocString = $"QDQ export of {_info.ModelFileName} (sha256 {_info.ModelSha256}) with statistics {_info.StatisticsFileName ?? "(none)"}: {_info.Quantization}" +
                        (_activations == QdqActivationType.UInt8 ? "; activations as uint8 (zero-point + 128)." : "."),
                    Graph = _graph,
                };
                model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
                model.MetadataProps.Add(new StringStringEntryProto { Key = "netquantgen.source_model", Value = _info.ModelFileName });
                model.MetadataProps.Add(new StringStringEntryProto { Key = "netquantgen.source_sha256", Value = _info.ModelSha256 });
                if (_info.StatisticsFileName != null)
                    model.MetadataProps.Add(new StringStringEntryProto { Key = "netquantgen.statistics", Value = _info.StatisticsFileName });
                model.MetadataProps.Add(new StringStringEntryProto { Key = "netquantgen.quantization", Value = _info.Quantization });
                model.MetadataProps.Add(new StringStringEntryProto { Key = "netquantgen.activations", Value = _activations == QdqActivationType.UInt8 ? "uint8 (zero-point + 128)" : "int8" });
                return model;
            }

            /// <summary>The name the float operator writes for <paramref name="tensor"/>: its own name, unless that name belongs to the graph output (then the DequantizeLinear writes it).</summary>
            private string OutputNameFor(QTensor tensor) =>
                _graphOutputs.Contains(tensor.Name) ? Unique(tensor.Name + "_float") : Claim(tensor.Name);

            private void EmitNode(Node node, QOperation op, string output)
            {
                switch (op)
                {
                    case QConvolution conv when !conv.FromGemm:
                        EmitConvolution(node, conv, output);
                        break;
                    case QConvolution gemm:
                        EmitGemm(node, gemm, output);
                        break;
                    case QAdd add:
                        var fusedAdd = (node.Op as Binary)?.Fused;
                        string sum = fusedAdd != null ? Unique(output + "_pre_" + ClampName(fusedAdd)) : output;
                        _graph.Node.Add(Node("Add", node.Name, new[] { _dequantized[add.Inputs[0]], _dequantized[add.Inputs[1]] }, sum));
                        if (fusedAdd != null) EmitClamp(node, fusedAdd, sum, output);
                        break;
                    case QPool pool:
                        EmitPool(node, pool, output);
                        break;
                    case QConcat concat:
                        _graph.Node.Add(Node("Concat", node.Name, concat.Inputs.Select(t => _dequantized[t]).ToArray(), output, Int("axis", concat.Axis)));
                        break;
                    case QMove move:
                        EmitMove(node, move, output);
                        break;
                    case QPad pad:
                        EmitPad(node, pad, output);
                        break;
                    case QLookup lookup:
                        EmitElementwise(node, lookup, output);
                        break;
                    default:
                        throw Unsupported(node, $"the integer operation {op.Kind} has no QDQ form");
                }
            }

            private void EmitConvolution(Node node, QConvolution conv, string output)
            {
                var c = node.Op as Conv ?? throw Unsupported(node, "expected a Conv");
                var inputs = new List<string> { _dequantized[conv.Input], DequantizeWeights(node, conv, conv.WeightShape) };
                if (node.OptionalInput(2) != null) inputs.Add(DequantizeBias(node, conv));
                var w = conv.Window;
                string result = c.Fused != null ? Unique(output + "_pre_" + ClampName(c.Fused)) : output;
                _graph.Node.Add(Node("Conv", node.Name, inputs.ToArray(), result,
                    Ints("kernel_shape", conv.KernelHeight, conv.KernelWidth),
                    Ints("strides", w.Strides),
                    Ints("pads", w.Pads),
                    Ints("dilations", w.Dilations),
                    Int("group", conv.Group)));
                if (c.Fused != null) EmitClamp(node, c.Fused, result, output);
            }

            private void EmitGemm(Node node, QConvolution gemm, string output)
            {
                // The integer lowering folded alpha into the weights and beta into the bias, and laid B out as
                // [N, K]: Gemm with transB = 1, per-channel scales on axis 0 (what ONNX Runtime's QGemm takes).
                var fused = (node.Op as Gemm)?.Fused;
                var inputs = new List<string> { _dequantized[gemm.Input], DequantizeWeights(node, gemm, new[] { gemm.WeightShape[0], gemm.WeightShape[1] }) };
                if (node.Op is Gemm && node.OptionalInput(2) != null) inputs.Add(DequantizeBias(node, gemm));
                string result = fused != null ? Unique(output + "_pre_" + ClampName(fused)) : output;
                _graph.Node.Add(Node("Gemm", node.Name, inputs.ToArray(), result, Int("transB", 1)));
                if (fused != null) EmitClamp(node, fused, result, output);
            }

            private void EmitPool(Node node, QPool pool, string output)
            {
                string x = _dequantized[pool.Input];
                switch (node.Op)
                {
                    case GlobalAveragePool:
                        _graph.Node.Add(Node("GlobalAveragePool", node.Name, new[] { x }, output));
                        break;
                    case MaxPool max:
                        _graph.Node.Add(Node("MaxPool", node.Name, new[] { x }, output,
                            Ints("kernel_shape", max.Window.KernelShape), Ints("strides", max.Window.Strides), Ints("pads", max.Window.Pads),
                            Ints("dilations", max.Window.Dilations), Int("ceil_mode", max.Window.CeilMode ? 1 : 0)));
                        break;
                    case AveragePool average:
                        if (average.Window.Dilations.Any(d => d != 1)) throw Unsupported(node, "AveragePool has no dilations before opset 19");
                        _graph.Node.Add(Node("AveragePool", node.Name, new[] { x }, output,
                            Ints("kernel_shape", average.Window.KernelShape), Ints("strides", average.Window.Strides), Ints("pads", average.Window.Pads),
                            Int("ceil_mode", average.Window.CeilMode ? 1 : 0), Int("count_include_pad", average.CountIncludePad ? 1 : 0)));
                        break;
                    default:
                        throw Unsupported(node, "expected a pooling operator");
                }
            }

            private void EmitMove(Node node, QMove move, string output)
            {
                string x = _dequantized[move.Input];
                switch (node.Op)
                {
                    case Flatten flatten:
                        _graph.Node.Add(Node("Flatten", node.Name, new[] { x }, output, Int("axis", flatten.Axis)));
                        break;
                    case Transpose transpose:
                        _graph.Node.Add(transpose.Perm == null
                            ? Node("Transpose", node.Name, new[] { x }, output)
                            : Node("Transpose", node.Name, new[] { x }, output, Ints("perm", transpose.Perm)));
                        break;
                    case Squeeze squeeze:
                        _graph.Node.Add(squeeze.Axes == null
                            ? Node("Squeeze", node.Name, new[] { x }, output)
                            : Node("Squeeze", node.Name, new[] { x, Int64Initializer(node.Name + ".axes", squeeze.Axes) }, output));
                        break;
                    case Unsqueeze unsqueeze:
                        _graph.Node.Add(Node("Unsqueeze", node.Name, new[] { x, Int64Initializer(node.Name + ".axes", unsqueeze.Axes) }, output));
                        break;
                    case Reshape:
                        // Shapes are static here: the resolved output shape says the same as the original target, without 0/-1.
                        _graph.Node.Add(Node("Reshape", node.Name, new[] { x, Int64Initializer(node.Name + ".shape", move.Output.Shape.Select(d => (long)d).ToArray()) }, output));
                        break;
                    default:
                        _graph.Node.Add(Node("Identity", node.Name, new[] { x }, output));
                        break;
                }
            }

            private void EmitPad(Node node, QPad pad, string output)
            {
                var p = node.Op as Pad ?? throw Unsupported(node, "expected a Pad");
                _graph.Node.Add(Node("Pad", node.Name,
                    new[] { _dequantized[pad.Input], Int64Initializer(node.Name + ".pads", p.Pads), FloatScalar(node.Name + ".constant_value", p.ConstantValue) },
                    output, Str("mode", "constant")));
            }

            private void EmitElementwise(Node node, QLookup lookup, string output)
            {
                string x = _dequantized[lookup.Input];
                switch (node.Op)
                {
                    case Activation { Kind: ActivationKind.Relu }:
                        _graph.Node.Add(Node("Relu", node.Name, new[] { x }, output));
                        break;
                    case Activation { Kind: ActivationKind.Sigmoid }:
                        _graph.Node.Add(Node("Sigmoid", node.Name, new[] { x }, output));
                        break;
                    case Activation { Kind: ActivationKind.LeakyRelu } leaky:
                        _graph.Node.Add(Node("LeakyRelu", node.Name, new[] { x }, output, Float("alpha", leaky.Alpha)));
                        break;
                    case Activation { Kind: ActivationKind.HardSigmoid } hard:
                        _graph.Node.Add(Node("HardSigmoid", node.Name, new[] { x }, output, Float("alpha", hard.Alpha), Float("beta", hard.Beta)));
                        break;
                    case Activation { Kind: ActivationKind.HardSwish }:
                        // HardSwish arrives in opset 14; in opset 13 it is x · HardSigmoid(x; 1/6, 1/2).
                        string gate = Unique(output + "_gate");
                        _graph.Node.Add(Node("HardSigmoid", Unique(node.Name + "_HardSigmoid"), new[] { x }, gate, Float("alpha", 1f / 6), Float("beta", 0.5f)));
                        _graph.Node.Add(Node("Mul", node.Name, new[] { x, gate }, output));
                        break;
                    case Clip:
                        var min = node.OptionalInput(1)?.Constant?.ToFloats()[0] ?? float.NegativeInfinity;
                        var max = node.OptionalInput(2)?.Constant?.ToFloats()[0] ?? float.PositiveInfinity;
                        _graph.Node.Add(ClipNode(node.Name, x, output, min, max));
                        break;
                    default:
                        throw Unsupported(node, $"the element-wise function {lookup.Kind} has no opset-13 form here");
                }
            }

            /// <summary>A Relu or Clip folded into a Conv/Gemm/Add, back as its own node after it.</summary>
            private void EmitClamp(Node node, FusedClamp clamp, string input, string output)
            {
                string name = Unique(node.Name + "_" + (IsRelu(clamp) ? "Relu" : "Clip"));
                _graph.Node.Add(IsRelu(clamp) ? Node("Relu", name, new[] { input }, output) : ClipNode(name, input, output, clamp.Min, clamp.Max));
            }

            private NodeProto ClipNode(string name, string input, string output, float min, float max)
            {
                var inputs = new List<string> { input };
                inputs.Add(float.IsNegativeInfinity(min) ? "" : FloatScalar(name + ".min", min));
                if (!float.IsPositiveInfinity(max)) inputs.Add(FloatScalar(name + ".max", max));
                while (inputs[inputs.Count - 1].Length == 0) inputs.RemoveAt(inputs.Count - 1);
                return Node("Clip", name, inputs.ToArray(), output);
            }

            private static bool IsRelu(FusedClamp clamp) => clamp.Min == 0f && float.IsPositiveInfinity(clamp.Max);

            private static string ClampName(FusedClamp clamp) => IsRelu(clamp) ? "relu" : "clip";

            /// <summary>Adds QuantizeLinear and DequantizeLinear for the tensor; consumers read the dequantized name.</summary>
            private void QuantizeDequantize(QTensor tensor, string floatName)
            {
                string scale = FloatScalar(tensor.Name + "_scale", tensor.Scale);
                string zeroPoint = _activations == QdqActivationType.UInt8
                    ? AddInitializer(tensor.Name + "_zero_point", TensorProto.Types.DataType.Uint8, Array.Empty<long>(), new[] { (byte)(tensor.ZeroPoint + 128) })
                    : Int8Scalar(tensor.Name + "_zero_point", tensor.ZeroPoint);
                string quantized = Unique(tensor.Name + "_quantized");
                string dequantized = _graphOutputs.Contains(tensor.Name) && !_dequantized.Values.Contains(tensor.Name) ? Claim(tensor.Name) : Unique(tensor.Name + "_dequantized");
                _graph.Node.Add(Node("QuantizeLinear", Unique(tensor.Name + "_QuantizeLinear"), new[] { floatName, scale, zeroPoint }, quantized));
                _graph.Node.Add(Node("DequantizeLinear", Unique(tensor.Name + "_DequantizeLinear"), new[] { quantized, scale, zeroPoint }, dequantized));
                _dequantized[tensor] = dequantized;
            }

            /// <summary>int8 weights (zero-point 0) and their scales, per output channel on axis 0 (one scalar when they all agree).</summary>
            private string DequantizeWeights(Node node, QConvolution conv, int[] shape)
            {
                string baseName = node.Name + ".weight";
                var weights = new TensorProto { Name = Unique(baseName + "_quantized"), DataType = (int)TensorProto.Types.DataType.Int8 };
                weights.Dims.AddRange(shape.Select(d => (long)d));
                var raw = new byte[conv.Weights.Length];
                Buffer.BlockCopy(conv.Weights, 0, raw, 0, raw.Length);
                weights.RawData = ByteString.CopyFrom(raw);
                _graph.Initializer.Add(weights);

                bool perTensor = conv.WeightScales.All(s => s == conv.WeightScales[0]);
                string scale, zeroPoint;
                if (perTensor)
                {
                    scale = FloatScalar(baseName + "_scale", conv.WeightScales[0]);
                    zeroPoint = Int8Scalar(baseName + "_zero_point", 0);
                }
                else
                {
                    scale = FloatVector(baseName + "_scale", conv.WeightScales);
                    zeroPoint = AddInitializer(baseName + "_zero_point", TensorProto.Types.DataType.Int8, new long[] { conv.WeightScales.Length }, new byte[conv.WeightScales.Length]);
                }
                string output = Unique(baseName);
                var dq = Node("DequantizeLinear", Unique(baseName + "_DequantizeLinear"), new[] { weights.Name, scale, zeroPoint }, output);
                if (!perTensor) dq.Attribute.Add(Int("axis", 0));
                _graph.Node.Add(dq);
                return output;
            }

            /// <summary>The int32 bias with scale s_in·s_w[c] (as float32, what QLinearConv's requantization sees), zero-point 0.</summary>
            private string DequantizeBias(Node node, QConvolution conv)
            {
                string baseName = node.Name + ".bias";
                var raw = new byte[conv.Bias.Length * 4];
                for (int c = 0; c < conv.Bias.Length; c++) WriteInt32(raw, 4 * c, conv.Bias[c]);
                string bias = AddInitializer(baseName + "_quantized", TensorProto.Types.DataType.Int32, new long[] { conv.Bias.Length }, raw);
                var scales = conv.WeightScales.Select(s => (float)((double)conv.Input.Scale * s)).ToArray();
                bool perTensor = scales.All(s => s == scales[0]);
                string output = Unique(baseName);
                NodeProto dq;
                if (perTensor)
                {
                    dq = Node("DequantizeLinear", Unique(baseName + "_DequantizeLinear"),
                        new[] { bias, FloatScalar(baseName + "_scale", scales[0]), AddInitializer(baseName + "_zero_point", TensorProto.Types.DataType.Int32, Array.Empty<long>(), new byte[4]) }, output);
                }
                else
                {
                    dq = Node("DequantizeLinear", Unique(baseName + "_DequantizeLinear"),
                        new[] { bias, FloatVector(baseName + "_scale", scales), AddInitializer(baseName + "_zero_point", TensorProto.Types.DataType.Int32, new long[] { scales.Length }, new byte[4 * scales.Length]) }, output,
                        Int("axis", 0));
                }
                _graph.Node.Add(dq);
                return output;
            }

            private string FloatScalar(string name, float value)
            {
                var raw = new byte[4];
                WriteInt32(raw, 0, SingleToInt32Bits(value));
                return AddInitializer(name, TensorProto.Types.DataType.Float, Array.Empty<long>(), raw);
            }

            private string FloatVector(string name, float[] values)
            {
                var raw = new byte[4 * values.Length];
                for (int i = 0; i < values.Length; i++) WriteInt32(raw, 4 * i, SingleToInt32Bits(values[i]));
                return AddInitializer(name, TensorProto.Types.DataType.Float, new long[] { values.Length }, raw);
            }

            private string Int8Scalar(string name, int value) =>
                AddInitializer(name, TensorProto.Types.DataType.Int8, Array.Empty<long>(), new[] { unchecked((byte)(sbyte)value) });

            private string Int64Initializer(string name, long[] values)
            {
                var raw = new byte[8 * values.Length];
                for (int i = 0; i < values.Length; i++)
                {
                    WriteInt32(raw, 8 * i, unchecked((int)values[i]));
                    WriteInt32(raw, 8 * i + 4, unchecked((int)(values[i] >> 32)));
                }
                return AddInitializer(name, TensorProto.Types.DataType.Int64, new long[] { values.Length }, raw);
            }

            private string AddInitializer(string name, TensorProto.Types.DataType type, long[] dims, byte[] raw)
            {
                var tensor = new TensorProto { Name = Unique(name), DataType = (int)type, RawData = ByteString.CopyFrom(raw) };
                tensor.Dims.AddRange(dims);
                _graph.Initializer.Add(tensor);
                return tensor.Name;
            }

            /// <summary>Takes a name of the float graph (or a new one) for this export; each name is written once.</summary>
            private string Claim(string name)
            {
                if (!_used.Add(name))
                    throw new ModelException(DiagnosticCatalog.InternalError, $"Model '{_info.ModelFileName}': the QDQ export would define '{name}' twice.");
                return name;
            }

            /// <summary>A new name based on <paramref name="name"/> that clashes with no name of the float graph and none written so far.</summary>
            private string Unique(string name)
            {
                string candidate = name;
                for (int i = 1; _reserved.Contains(candidate) || _used.Contains(candidate); i++)
                    candidate = name + "_" + i.ToString(CultureInfo.InvariantCulture);
                _used.Add(candidate);
                return candidate;
            }

            private ModelException Unsupported(Node node, string why) =>
                new(DiagnosticCatalog.UnsupportedOperator, $"Model '{_info.ModelFileName}': node '{node.Name}' ({node.Op.OpType}) cannot be exported as QDQ: {why}.");

            private static ValueInfoProto FloatValueInfo(string name, int[] shape)
            {
                var tensorShape = new TensorShapeProto();
                foreach (int d in shape) tensorShape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
                return new ValueInfoProto
                {
                    Name = name,
                    Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = tensorShape } },
                };
            }

            private static NodeProto Node(string opType, string name, string[] inputs, string output, params AttributeProto[] attributes)
            {
                var node = new NodeProto { OpType = opType, Name = name };
                node.Input.AddRange(inputs);
                node.Output.Add(output);
                node.Attribute.AddRange(attributes);
                return node;
            }

            private static AttributeProto Int(string name, long value) =>
                new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

            private static AttributeProto Float(string name, float value) =>
                new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

            private static AttributeProto Str(string name, string value) =>
                new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

            private static AttributeProto Ints(string name, params int[] values)
            {
                var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
                a.Ints.AddRange(values.Select(v => (long)v));
                return a;
            }

            private static void WriteInt32(byte[] buffer, int offset, int value)
            {
                buffer[offset] = (byte)value;
                buffer[offset + 1] = (byte)(value >> 8);
                buffer[offset + 2] = (byte)(value >> 16);
                buffer[offset + 3] = (byte)(value >> 24);
            }

            private static unsafe int SingleToInt32Bits(float value) => *(int*)&value;
        }
    }
}
