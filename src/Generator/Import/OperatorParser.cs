using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;
using NetQuantGen.Onnx.Proto;

namespace NetQuantGen.Import
{
    /// <summary>What the parser makes of one NodeProto: a typed operator and its inputs, or a constant.</summary>
    internal sealed class ParsedNode
    {
        public Operator? Operator { get; set; }

        public List<Value?> Inputs { get; set; } = new();

        /// <summary>How many of the node's outputs the operator computes.</summary>
        public int OutputCount { get; set; } = 1;

        /// <summary>Set for Constant nodes, which become constant values.</summary>
        public TensorData? Constant { get; set; }
    }

    /// <summary>
    /// Parses ONNX operator attributes into typed IR operators for every opset from 1 to 21, and lifts
    /// inputs that must be constant (shapes, pads, axes) into operator fields.
    /// </summary>
    internal sealed class OperatorParser
    {
        private readonly string _model;
        private readonly int _opset;

        public OperatorParser(string model, int opset)
        {
            _model = model;
            _opset = opset;
        }

        /// <summary>The operator types the importer claims.</summary>
        public static IReadOnlyCollection<string> SupportedOperators { get; } = new[]
        {
            "Conv", "BatchNormalization", "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish",
            "Add", "Sub", "Mul", "Div", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool", "Gemm", "MatMul",
            "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Pad", "Identity", "Dropout", "Softmax", "Constant",
        };

        public ParsedNode Parse(NodeProto node, string name, List<Value?> inputs)
        {
            if (node.Domain != "" && node.Domain != "ai.onnx")
                throw new ModelException(DiagnosticCatalog.UnsupportedOperator,
                    $"Model '{_model}': node '{name}' uses operator '{node.OpType}' of domain '{node.Domain}'; only the default ONNX domain is supported.");
            var a = new Attributes(_model, name, node);
            var result = new ParsedNode { Inputs = inputs };
            switch (node.OpType)
            {
                case "Conv":
                    a.Allow("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides");
                    Arity(node, name, inputs, 2, 3);
                    result.Operator = new Conv(ReadWindow(a, ceilMode: false), (int)a.Int("group", 1));
                    break;
                case "BatchNormalization":
                    a.Allow("epsilon", "momentum", "spatial", "is_test", "training_mode", "consumed_inputs");
                    Arity(node, name, inputs, 5, 5);
                    if (a.Int("spatial", 1) != 1) throw a.Unsupported("spatial", "only spatial=1 is supported");
                    if (a.Int("training_mode", 0) != 0) throw a.Unsupported("training_mode", "only inference mode is supported");
                    if (_opset < 7 && a.Int("is_test", 0) == 0) throw a.Unsupported("is_test", "before opset 7 is_test defaults to 0 (training mode); only inference mode is supported");
                    result.Operator = new BatchNormalization(a.Float("epsilon", 1e-5f));
                    break;
                case "Relu":
                case "Sigmoid":
                case "HardSwish":
                    a.Allow("consumed_inputs");
                    Arity(node, name, inputs, 1, 1);
                    result.Operator = new Activation((ActivationKind)Enum.Parse(typeof(ActivationKind), node.OpType));
                    break;
                case "LeakyRelu":
                    a.Allow("alpha", "consumed_inputs");
                    Arity(node, name, inputs, 1, 1);
                    result.Operator = new Activation(ActivationKind.LeakyRelu, a.Float("alpha", 0.01f));
                    break;
                case "HardSigmoid":
                    a.Allow("alpha", "beta", "consumed_inputs");
                    Arity(node, name, inputs, 1, 1);
                    result.Operator = new Activation(ActivationKind.HardSigmoid, a.Float("alpha", 0.2f), a.Float("beta", 0.5f));
                    break;
                case "Clip":
                    ParseClip(node, name, a, result);
                    break;
                case "Add":
                case "Sub":
                case "Mul":
                case "Div":
                    a.Allow("broadcast", "axis", "consumed_inputs");
                    Arity(node, name, inputs, 2, 2);
                    int? legacyAxis = _opset < 7 && a.Int("broadcast", 0) == 1 && a.Has("axis") ? (int)a.Int("axis", 0) : null;
                    result.Operator = new Binary((BinaryKind)Enum.Parse(typeof(BinaryKind), node.OpType), legacyAxis);
                    break;
                case "Concat":
                    a.Allow("axis");
                    Arity(node, name, inputs, 1, int.MaxValue);
                    result.Operator = new Concat((int)a.RequiredInt("axis"));
                    break;
                case "MaxPool":
                    a.Allow("auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides");
                    Arity(node, name, inputs, 1, 1);
                    if (!a.Has("kernel_shape")) throw a.Unsupported("kernel_shape", "kernel_shape is required");
                    result.Operator = new MaxPool(ReadWindow(a, a.Int("ceil_mode", 0) != 0));
                    break;
                case "AveragePool":
                    a.Allow("auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides");
                    Arity(node, name, inputs, 1, 1);
                    if (!a.Has("kernel_shape")) throw a.Unsupported("kernel_shape", "kernel_shape is required");
                    result.Operator = new AveragePool(ReadWindow(a, a.Int("ceil_mode", 0) != 0), a.Int("count_include_pad", 0) != 0);
                    break;
                case "GlobalAveragePool":
                    a.Allow();
                    Arity(node, name, inputs, 1, 1);
                    result.Operator = new GlobalAveragePool();
                    break;
                case "Gemm":
                    a.Allow("alpha", "beta", "transA", "transB", "broadcast");
                    Arity(node, name, inputs, 2, 3);
                    result.Operator = new Gemm(a.Float("alpha", 1f), a.Float("beta", 1f), a.Int("transA", 0) != 0, a.Int("transB", 0) != 0);
                    break;
                case "MatMul":
                    a.Allow();
                    Arity(node, name, inputs, 2, 2);
                    result.Operator = new MatMul();
                    break;
                case "Flatten":
                    a.Allow("axis");
                    Arity(node, name, inputs, 1, 1);
                    result.Operator = new Flatten((int)a.Int("axis", 1));
                    break;
                case "Reshape":
                    a.Allow("allowzero");
                    Arity(node, name, inputs, 2, 2);
                    result.Operator = new Reshape(ConstantIntegers(node, name, inputs[1]!, "shape"), a.Int("allowzero", 0) != 0);
                    result.Inputs = inputs.Take(1).ToList();
                    break;
                case "Transpose":
                    a.Allow("perm");
                    Arity(node, name, inputs, 1, 1);
                    result.Operator = new Transpose(a.Has("perm") ? a.Ints("perm").Select(p => (int)p).ToArray() : null);
                    break;
                case "Squeeze":
                case "Unsqueeze":
                    ParseSqueeze(node, name, a, result);
                    break;
                case "Pad":
                    ParsePad(node, name, a, result);
                    break;
                case "Identity":
                    a.Allow();
                    Arity(node, name, inputs, 1, 1);
                    result.Operator = new Identity();
                    break;
                case "Dropout":
                    a.Allow("ratio", "is_test", "seed", "consumed_inputs");
                    Arity(node, name, inputs, 1, 3);
                    if (_opset < 7 && a.Int("is_test", 0) == 0) throw a.Unsupported("is_test", "before opset 7 is_test defaults to 0 (training mode); only inference mode is supported");
                    if (inputs.Count > 2 && inputs[2] != null && ConstantIntegers(node, name, inputs[2]!, "training_mode").Any(v => v != 0))
                        throw a.Unsupported("training_mode", "only inference mode is supported");
                    result.Operator = new Identity();
                    result.Inputs = inputs.Take(1).ToList();
                    break;
                case "Softmax":
                    a.Allow("axis");
                    Arity(node, name, inputs, 1, 1);
                    result.Operator = _opset < 13 ? new Softmax((int)a.Int("axis", 1), Coerce2D: true) : new Softmax((int)a.Int("axis", -1), Coerce2D: false);
                    break;
                case "Constant":
                    result.Constant = ParseConstant(a);
                    break;
                default:
                    throw new ModelException(DiagnosticCatalog.UnsupportedOperator,
                        $"Model '{_model}': node '{name}' uses operator '{node.OpType}', which NetQuantGen does not support (supported: {string.Join(", ", SupportedOperators)}).");
            }
            return result;
        }

        private Window ReadWindow(Attributes a, bool ceilMode)
        {
            var autoPad = a.String("auto_pad", "NOTSET") switch
            {
                "NOTSET" => AutoPad.NotSet,
                "SAME_UPPER" => AutoPad.SameUpper,
                "SAME_LOWER" => AutoPad.SameLower,
                "VALID" => AutoPad.Valid,
                var other => throw a.Unsupported("auto_pad", $"'{other}' is not an auto_pad value"),
            };
            int[] Ints(string key) => a.Has(key) ? a.Ints(key).Select(CheckedInt).ToArray() : Array.Empty<int>();
            int CheckedInt(long v) => v < 0 || v > int.MaxValue ? throw a.Unsupported("window", $"value {v} is out of range") : (int)v;
            return new Window(Ints("kernel_shape"), Ints("strides"), Ints("dilations"), Ints("pads"), autoPad, ceilMode);
        }

        private void ParseClip(NodeProto node, string name, Attributes a, ParsedNode result)
        {
            result.Operator = new Clip();
            if (_opset < 11)
            {
                // Attribute form: min and max become constant scalar inputs.
                a.Allow("min", "max", "consumed_inputs");
                Arity(node, name, result.Inputs, 1, 1);
                Value Scalar(string key, float v) => new($"{name}__{key}", ElementType.Float32, Array.Empty<int>(), TensorData.FromFloats(Array.Empty<int>(), new[] { v }));
                result.Inputs = new List<Value?>
                {
                    result.Inputs[0],
                    a.Has("min") ? Scalar("min", a.Float("min", 0)) : null,
                    a.Has("max") ? Scalar("max", a.Float("max", 0)) : null,
                };
                return;
            }
            a.Allow();
            Arity(node, name, result.Inputs, 1, 3);
        }

        private void ParseSqueeze(NodeProto node, string name, Attributes a, ParsedNode result)
        {
            long[]? axes;
            if (_opset < 13)
            {
                a.Allow("axes");
                Arity(node, name, result.Inputs, 1, 1);
                axes = a.Has("axes") ? a.Ints("axes") : null;
            }
            else
            {
                a.Allow();
                Arity(node, name, result.Inputs, 1, 2);
                var axesInput = result.Inputs.Count > 1 ? result.Inputs[1] : null;
                axes = axesInput == null ? null : ConstantIntegers(node, name, axesInput, "axes");
                result.Inputs = result.Inputs.Take(1).ToList();
            }
            if (node.OpType == "Squeeze")
                result.Operator = new Squeeze(axes);
            else
                result.Operator = new Unsqueeze(axes ?? throw a.Unsupported("axes", "Unsqueeze needs axes"));
        }

        private void ParsePad(NodeProto node, string name, Attributes a, ParsedNode result)
        {
            string modeName = a.String("mode", "constant");
            var mode = modeName switch
            {
                "constant" => PadMode.Constant,
                "reflect" => PadMode.Reflect,
                "edge" => PadMode.Edge,
                "wrap" when _opset >= 19 => PadMode.Wrap,
                _ => throw a.Unsupported("mode", $"pad mode '{modeName}' is not supported"),
            };
            if (_opset < 11)
            {
                a.Allow("mode", "pads", "value", "paddings");
                Arity(node, name, result.Inputs, 1, 1);
                var pads = a.Has("pads") ? a.Ints("pads") : a.Ints("paddings");
                result.Operator = new Pad(mode, pads, a.Float("value", 0f));
                return;
            }
            a.Allow("mode");
            Arity(node, name, result.Inputs, 2, 4);
            var given = ConstantIntegers(node, name, result.Inputs[1]!, "pads");
            float value = 0f;
            if (result.Inputs.Count > 2 && result.Inputs[2] != null)
            {
                var v = result.Inputs[2]!;
                if (v.Constant == null) throw NotConstant(node, name, v, "constant_value");
                value = v.Constant.ToFloats().FirstOrDefault();
            }
            long[] padsAll = given;
            if (result.Inputs.Count > 3 && result.Inputs[3] != null)
            {
                // opset 18+: pads cover only the listed axes; expand to every axis of the data input.
                var axes = ConstantIntegers(node, name, result.Inputs[3]!, "axes");
                int rank = result.Inputs[0]!.Shape.Length;
                if (given.Length != 2 * axes.Length) throw a.Unsupported("pads", $"{given.Length} pads for {axes.Length} axes");
                padsAll = new long[2 * rank];
                for (int i = 0; i < axes.Length; i++)
                {
                    int axis = Shapes.NormalizeAxis(axes[i], rank);
                    if (axis < 0) throw a.Unsupported("axes", $"axis {axes[i]} is out of range for rank {rank}");
                    padsAll[axis] = given[i];
                    padsAll[rank + axis] = given[axes.Length + i];
                }
            }
            result.Operator = new Pad(mode, padsAll, value);
            result.Inputs = result.Inputs.Take(1).ToList();
        }

        private TensorData ParseConstant(Attributes a)
        {
            a.Allow("value", "value_float", "value_floats", "value_int", "value_ints", "sparse_value", "value_string", "value_strings");
            if (a.Has("value")) return a.Tensor("value");
            if (a.Has("value_float")) return TensorData.FromFloats(Array.Empty<int>(), new[] { a.Float("value_float", 0) });
            if (a.Has("value_floats")) { var f = a.Floats("value_floats"); return TensorData.FromFloats(new[] { f.Length }, f); }
            if (a.Has("value_int")) return TensorData.FromIntegers(ElementType.Int64, Array.Empty<int>(), new[] { a.Int("value_int", 0) });
            if (a.Has("value_ints")) { var v = a.Ints("value_ints"); return TensorData.FromIntegers(ElementType.Int64, new[] { v.Length }, v); }
            throw a.Unsupported("value", "a Constant needs a dense numeric value (sparse and string constants are not supported)");
        }

        private void Arity(NodeProto node, string name, List<Value?> inputs, int min, int max)
        {
            int count = inputs.Count;
            while (count > 0 && inputs[count - 1] == null) count--;
            bool missingRequired = inputs.Take(min).Any(v => v == null);
            if (count < min || count > max || missingRequired)
                throw new ModelException(DiagnosticCatalog.MalformedModel,
                    $"Model '{_model}': node '{name}' ({node.OpType}) has {count} inputs; it takes {(min == max ? min.ToString() : max == int.MaxValue ? $"at least {min}" : $"{min} to {max}")}.");
        }

        private long[] ConstantIntegers(NodeProto node, string name, Value input, string what)
        {
            if (input.Constant == null) throw NotConstant(node, name, input, what);
            return input.Constant.ToIntegers();
        }

        private ModelException NotConstant(NodeProto node, string name, Value input, string what) =>
            new(DiagnosticCatalog.UnsupportedAttribute,
                $"Model '{_model}': node '{name}' ({node.OpType}) takes its {what} from '{input.Name}', which is computed at run time; NetQuantGen needs it constant (an initializer or a Constant node) so shapes are static.");
    }

    /// <summary>Typed access to a node's attributes, with errors that name the model, node and attribute.</summary>
    internal sealed class Attributes
    {
        private readonly string _model;
        private readonly string _node;
        private readonly string _opType;
        private readonly Dictionary<string, AttributeProto> _byName = new(StringComparer.Ordinal);

        public Attributes(string model, string node, NodeProto proto)
        {
            _model = model;
            _node = node;
            _opType = proto.OpType;
            foreach (var attr in proto.Attribute) _byName[attr.Name] = attr;
        }

        /// <summary>Rejects any attribute not in <paramref name="names"/>: an unknown attribute may change the meaning.</summary>
        public void Allow(params string[] names)
        {
            foreach (var key in _byName.Keys)
                if (Array.IndexOf(names, key) < 0)
                    throw Unsupported(key, "this attribute is not supported for this operator");
        }

        public bool Has(string name) => _byName.ContainsKey(name);

        public long Int(string name, long fallback) => _byName.TryGetValue(name, out var a) ? a.I : fallback;

        public long RequiredInt(string name) => _byName.TryGetValue(name, out var a) ? a.I : throw Unsupported(name, "the attribute is required");

        public float Float(string name, float fallback) => _byName.TryGetValue(name, out var a) ? a.F : fallback;

        public string String(string name, string fallback) => _byName.TryGetValue(name, out var a) ? a.S.ToStringUtf8() : fallback;

        public long[] Ints(string name) => _byName[name].Ints.ToArray();

        public float[] Floats(string name) => _byName[name].Floats.ToArray();

        public TensorData Tensor(string name) =>
            new TensorReader(_model, new ImportOptions()).Read(_byName[name].T, $"attribute '{name}' of node '{_node}'");

        public ModelException Unsupported(string attribute, string why) =>
            new(DiagnosticCatalog.UnsupportedAttribute, $"Model '{_model}': node '{_node}' ({_opType}), attribute '{attribute}': {why}.");
    }
}
