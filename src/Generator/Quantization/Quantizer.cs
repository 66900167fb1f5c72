using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;

namespace NetQuantGen.Quantization
{
    /// <summary>
    /// Lowers a float graph (after the float passes) to the integer IR of DESIGN §3: int8 asymmetric
    /// activations from calibrated ranges, symmetric int8 weights, int32 biases, fixed-point multipliers,
    /// activations folded into clamps, and a proof per layer that no int32 accumulator can overflow. With
    /// <see cref="RequantizationArithmetic.Float"/> convolutions, adds and global averages also carry the float32
    /// constants ONNX Runtime requantizes with.
    /// </summary>
    public sealed class Quantizer
    {
        private readonly Graph _graph;
        private readonly QuantizationSettings _settings;
        private readonly Dictionary<Value, QTensor> _tensors = new();
        private readonly List<QOperation> _operations = new();

        private Quantizer(Graph graph, QuantizationSettings settings)
        {
            _graph = graph;
            _settings = settings;
        }

        public static IntegerGraph Run(Graph graph, QuantizationSettings settings) => new Quantizer(graph, settings).Lower();

        private IntegerGraph Lower()
        {
            var inputs = _graph.Inputs.Select(v => new QuantizeInput(v.Name, _tensors[v] = FromRange(v, null))).ToList();
            foreach (var node in _graph.Nodes) _operations.Add(LowerNode(node));
            var outputs = _graph.Outputs.Select(v => new DequantizeOutput(TensorOf(v, null), v.Name)).ToList();
            return new IntegerGraph(_graph.ModelName, inputs, outputs, _operations);
        }

        private QOperation LowerNode(Node node)
        {
            if (_settings.GivenOperation?.Invoke(node, v => TensorOf(v, node)) is QOperation given)
            {
                _tensors[node.Output] = given.Output;
                return given;
            }
            switch (node.Op)
            {
                case Conv conv:
                    return LowerConvolution(node, node.Input(1).Constant, node.OptionalInput(2)?.Constant, conv.Window, conv.Group, conv.Fused, fromGemm: false);
                case Gemm gemm:
                    return LowerGemm(node, gemm);
                case MatMul:
                    return LowerMatMul(node);
                case Binary { Kind: BinaryKind.Add } add when !node.Input(0).IsConstant && !node.Input(1).IsConstant:
                    return LowerAdd(node, add);
                case MaxPool pool:
                    return new QPool(node.Name, TensorOf(node.Input(0), node), SameParameters(node), PoolKind.Max, Check2D(node, pool.Window), false);
                case AveragePool pool:
                    return CheckAverageSum(node, new QPool(node.Name, TensorOf(node.Input(0), node), SameParameters(node), PoolKind.Average, Check2D(node, pool.Window), pool.CountIncludePad));
                case GlobalAveragePool:
                    var x = node.Input(0).Shape;
                    if (x.Length != 4) throw Unsupported(node, "only 2-D global pooling has an integer implementation");
                    var whole = new Window(new[] { x[2], x[3] }, new[] { 1, 1 }, new[] { 1, 1 }, new int[4], AutoPad.NotSet, false);
                    var pooled = TensorOf(node.Input(0), node);
                    var average = SameParameters(node);
                    float? averageScale = _settings.Arithmetic == RequantizationArithmetic.Float
                        ? FloatRequantization.GlobalAverageScale(pooled.Scale, average.Scale, x[2] * x[3]) : null;
                    return CheckAverageSum(node, new QPool(node.Name, pooled, average, PoolKind.Average, whole, false, averageScale));
                case Flatten:
                case Reshape:
                case Squeeze:
                case Unsqueeze:
                case Identity:
                    return new QMove(node.Name, node.Op.OpType, TensorOf(node.Input(0), node), SameParameters(node), null);
                case Transpose transpose:
                    return new QMove(node.Name, "Transpose", TensorOf(node.Input(0), node), SameParameters(node), transpose.Perm);
                case Pad { Mode: PadMode.Constant } pad:
                    var input = TensorOf(node.Input(0), node);
                    var value = FixedPoint.Quantize(pad.ConstantValue, input.Scale, input.ZeroPoint, input.QMin, input.QMax);
                    return new QPad(node.Name, input, SameParameters(node), pad.Pads.Select(p => (int)p).ToArray(), value);
                case Concat concat:
                    return LowerConcat(node, concat);
                case Activation activation:
                    return LowerLookup(node, activation.Kind.ToString(), v => Activate(activation, v));
                case Clip:
                    var min = BoundOf(node, 1, float.NegativeInfinity);
                    var max = BoundOf(node, 2, float.PositiveInfinity);
                    return LowerLookup(node, "Clip", v => Math.Min(max, Math.Max(min, v)));
                default:
                    throw Unsupported(node, "it has no integer implementation yet");
            }
        }

        private QConvolution LowerConvolution(Node node, TensorData? weightData, TensorData? biasData, Window window, int group, FusedClamp? fused, bool fromGemm)
        {
            if (weightData == null) throw Unsupported(node, "its weights are computed at run time; the integer path needs constant weights");
            if (weightData.Shape.Length != 4) throw Unsupported(node, "only 2-D convolutions have an integer implementation");
            var input = TensorOf(node.Input(0), node);
            var output = FromRange(node.Output, node);
            int m = weightData.Shape[0];
            var given = _settings.GivenWeights?.Invoke(node, input);
            var (weights, weightScales) = given != null ? (given.Values, given.Scales)
                : _settings.WeightOverride?.Invoke(node.Name, weightData.Floats!, m)
                  ?? WeightQuantizer.Quantize(weightData.Floats!, m, _settings.WeightBitsOf(node.Name), _settings.Granularity, _settings.WeightRange);
            if (weights.Length != weightData.Floats!.Length || weightScales.Length != m)
                throw new ModelException(DiagnosticCatalog.SavedWeightsMismatch,
                    $"Model '{_graph.ModelName}': the saved integer weights of node '{node.Name}' hold {weights.Length} values and {weightScales.Length} scales, but the node has {weightData.Floats!.Length} weights in {m} output channels; re-run netquant optimize on this model.");
            var floatBias = (float[])(biasData?.ToFloats() ?? new float[m]).Clone();
            if (_settings.ExpectedValue?.Invoke(node.Input(0).Name) is double[] expected)
                floatBias = AnalyticBiasCorrection.Corrected(floatBias, weightData, weights, weightScales, group, expected);
            var correction = _settings.BiasCorrectionOf?.Invoke(node.Name);
            if (correction != null)
            {
                if (correction.Length != m)
                    throw new ModelException(DiagnosticCatalog.SavedWeightsMismatch,
                        $"Model '{_graph.ModelName}': the saved bias correction of node '{node.Name}' has {correction.Length} channels, but the node has {m}; re-run netquant optimize on this model.");
                for (int c = 0; c < m; c++) floatBias[c] -= correction[c];
            }
            var bias = new int[m];
            var requantization = new Requantization[m];
            for (int c = 0; c < m; c++)
            {
                double accumulatorScale = (double)input.Scale * weightScales[c];
                bias[c] = given?.Bias != null ? given.Bias[c] : (int)Math.Max(int.MinValue / 2, Math.Min(int.MaxValue / 2, Math.Round(floatBias[c] / accumulatorScale, MidpointRounding.ToEven)));
                requantization[c] = Requantization.FromReal(accumulatorScale / output.Scale);
            }
            int clampMin = ActivationQuantizer.Bound(fused?.Min ?? float.NegativeInfinity, output);
            int clampMax = ActivationQuantizer.Bound(fused?.Max ?? float.PositiveInfinity, output);
            var floatScales = _settings.Arithmetic == RequantizationArithmetic.Float
                ? weightScales.Select(s => FloatRequantization.ConvolutionScale(input.Scale, s, output.Scale)).ToArray() : null;
            int accumulatorBits = ProveAccumulator(node, input, weights, bias, requantization, floatScales != null);
            return new QConvolution(node.Name, input, output, window, group, weights, weightData.Shape, weightScales, bias, requantization, clampMin, clampMax, fromGemm, floatScales, accumulatorBits);
        }

        /// <summary>
        /// |acc| ≤ |bias| + Σ|w|·max|x − z_in| per output channel, from the baked weights. An int8 input needs int32
        /// (with a left-shifting multiplier the shifted value must fit as well): anything beyond is an error, not wrong
        /// numbers. An int16 input accumulates in int32 where that bound fits (returns 32), else exactly in int64
        /// (returns 64); its 16x8 requantization needs |acc| &lt; 2^47 and a shift of at most 14.
        /// </summary>
        private int ProveAccumulator(Node node, QTensor input, sbyte[] weights, int[] bias, Requantization[] requantization, bool floatArithmetic)
        {
            long maxInput = Math.Max(Math.Abs(input.QMin - input.ZeroPoint), Math.Abs(input.QMax - input.ZeroPoint));
            int outputs = bias.Length, perChannel = weights.Length / outputs, accumulatorBits = 32;
            for (int c = 0; c < outputs; c++)
            {
                long sum = 0;
                for (int i = c * perChannel; i < (c + 1) * perChannel; i++) sum += Math.Abs((int)weights[i]);
                long bound = Math.Abs((long)bias[c]) + sum * maxInput;
                if (input.IsWide)
                {
                    if (bound >= 1L << 47 || requantization[c].Shift > 14)
                        throw new ModelException(DiagnosticCatalog.AccumulatorOverflow,
                            $"Model '{_graph.ModelName}': node '{node.Name}' ({node.Op.OpType}), output channel {c}: with its int16 input the int64 accumulator could reach {bound} (limit 2^47) or the requantization shift {requantization[c].Shift} exceeds 14; give this layer 8-bit input activations (LayerActivationBits) or narrower weights.");
                    if (bound > int.MaxValue) accumulatorBits = 64;
                    continue;
                }
                int shift = floatArithmetic ? 0 : Math.Max(0, requantization[c].Shift); // float requantization has no left shift
                if (bound << shift > int.MaxValue)
                    throw new ModelException(DiagnosticCatalog.AccumulatorOverflow,
                        $"Model '{_graph.ModelName}': node '{node.Name}' ({node.Op.OpType}), output channel {c}: the int32 accumulator could reach {bound}{(shift > 0 ? $" shifted left by {shift}" : "")}, beyond int32; use fewer input channels per group, narrower weights (WeightBits) or per-channel weights.");
            }
            return accumulatorBits;
        }

        private QConvolution LowerGemm(Node node, Gemm gemm)
        {
            var b = node.Input(1).Constant;
            if (gemm.TransA || b == null || node.Input(0).Shape.Length != 2)
                throw Unsupported(node, "the integer path supports Gemm with a 2-D activation A (transA = 0) and constant B");
            int k = node.Input(0).Shape[1];
            int n = gemm.TransB ? b.Shape[0] : b.Shape[1];
            var weights = new float[n * k];
            var bf = b.Floats!;
            for (int o = 0; o < n; o++)
                for (int i = 0; i < k; i++)
                    weights[o * k + i] = gemm.Alpha * (gemm.TransB ? bf[o * k + i] : bf[i * n + o]);
            float[]? bias = null;
            var c = node.OptionalInput(2);
            if (c != null)
            {
                if (c.Constant == null || c.ElementCount != 1 && c.ElementCount != n || c.Shape.Length == 2 && c.Shape[0] != 1)
                    throw Unsupported(node, "the integer path supports a constant C of shape [N], [1, N] or a scalar");
                var cf = c.Constant.ToFloats();
                bias = Enumerable.Range(0, n).Select(o => gemm.Beta * cf[cf.Length == 1 ? 0 : o]).ToArray();
            }
            return LowerAsPointwise(node, weights, n, k, bias, gemm.Fused);
        }

        private QConvolution LowerMatMul(Node node)
        {
            var b = node.Input(1).Constant;
            if (b == null || b.Shape.Length != 2 || node.Input(0).Shape.Length != 2)
                throw Unsupported(node, "the integer path supports MatMul of a 2-D activation by a constant matrix");
            int k = b.Shape[0], n = b.Shape[1];
            var weights = new float[n * k];
            for (int o = 0; o < n; o++)
                for (int i = 0; i < k; i++)
                    weights[o * k + i] = b.Floats![i * n + o];
            return LowerAsPointwise(node, weights, n, k, null, null);
        }

        /// <summary>A [rows, K] × [K, N] product as a 1×1 convolution over rows×K×1×1.</summary>
        private QConvolution LowerAsPointwise(Node node, float[] weights, int n, int k, float[]? bias, FusedClamp? fused)
        {
            var weightData = TensorData.FromFloats(new[] { n, k, 1, 1 }, weights);
            var biasData = bias == null ? null : TensorData.FromFloats(new[] { n }, bias);
            var window = new Window(new[] { 1, 1 }, new[] { 1, 1 }, new[] { 1, 1 }, new int[4], AutoPad.NotSet, false);
            return LowerConvolution(node, weightData, biasData, window, 1, fused, fromGemm: true);
        }

        private QAdd LowerAdd(Node node, Binary add)
        {
            var a = TensorOf(node.Input(0), node);
            var b = TensorOf(node.Input(1), node);
            if (!Shapes.Equal(a.Shape, b.Shape) || !Shapes.Equal(a.Shape, node.Output.Shape))
                throw Unsupported(node, "the integer Add needs inputs of the same shape (no broadcasting)");
            var output = FromRange(node.Output, node);
            // TFLite's integer Add: scale both inputs to twice the larger input scale, with 20 bits of headroom
            // for int8 inputs and 15 with an int16 one (its 16-bit kernel's shift: (q − z)·2^15 stays within int32).
            int leftShift = a.IsWide || b.IsWide ? 15 : 20;
            double twiceMax = 2.0 * Math.Max(a.Scale, b.Scale);
            var inputA = Requantization.FromReal(a.Scale / twiceMax);
            var inputB = Requantization.FromReal(b.Scale / twiceMax);
            var outputRequantization = Requantization.FromReal(twiceMax / ((1 << leftShift) * (double)output.Scale));
            int clampMin = ActivationQuantizer.Bound(add.Fused?.Min ?? float.NegativeInfinity, output);
            int clampMax = ActivationQuantizer.Bound(add.Fused?.Max ?? float.PositiveInfinity, output);
            FloatAddParameters? floatParameters = _settings.Arithmetic == RequantizationArithmetic.Float
                ? FloatAddParameters.For(a.Scale, a.ZeroPoint, b.Scale, b.ZeroPoint, output.Scale, output.ZeroPoint) : null;
            return new QAdd(node.Name, a, b, output, leftShift, inputA, inputB, outputRequantization, clampMin, clampMax, floatParameters);
        }

        private QConcat LowerConcat(Node node, Concat concat)
        {
            var inputs = node.Inputs.Select(v => TensorOf(v!, node)).ToList();
            var output = FromRange(node.Output, node);
            var requantization = inputs.Select(i => i.Scale == output.Scale && i.ZeroPoint == output.ZeroPoint && i.Bits == output.Bits
                ? default
                : Requantization.FromReal(i.Scale / (double)output.Scale)).ToArray();
            return new QConcat(node.Name, inputs, output, concat.Axis, requantization);
        }

        /// <summary>Any element-wise function of one int8 input as a table over its 256 values.</summary>
        private QLookup LowerLookup(Node node, string kind, Func<double, double> function)
        {
            var input = TensorOf(node.Input(0), node);
            var output = FromRange(node.Output, node);
            if (input.IsWide || output.IsWide)
                throw new ModelException(DiagnosticCatalog.WideActivationUnsupported,
                    $"Model '{_graph.ModelName}': node '{node.Name}' ({node.Op.OpType}) is a lookup table over int8 values and has no 16-bit activation implementation; keep its input and output at 8 bits (LayerActivationBits, e.g. \"{node.Name}=8\", and 8 bits for the layer before it).");
            var table = new sbyte[256];
            for (int q = -128; q <= 127; q++)
            {
                double real = function(input.Scale * (double)(q - input.ZeroPoint));
                double quantized = Math.Round(real / output.Scale, MidpointRounding.ToEven) + output.ZeroPoint;
                table[q + 128] = (sbyte)Math.Min(127, Math.Max(-128, quantized));
            }
            return new QLookup(node.Name, kind, input, output, table);
        }

        private static double Activate(Activation a, double v) => a.Kind switch
        {
            ActivationKind.Relu => Math.Max(0, v),
            ActivationKind.LeakyRelu => v >= 0 ? v : a.Alpha * v,
            ActivationKind.Sigmoid => 1 / (1 + Math.Exp(-v)),
            ActivationKind.HardSigmoid => Math.Min(1, Math.Max(0, a.Alpha * v + a.Beta)),
            ActivationKind.HardSwish => v * Math.Min(1, Math.Max(0, v / 6 + 0.5)),
            _ => throw new ArgumentOutOfRangeException(nameof(a)),
        };

        private float BoundOf(Node node, int index, float fallback)
        {
            var v = node.OptionalInput(index);
            if (v == null) return fallback;
            if (v.Constant == null) throw Unsupported(node, $"its bound '{v.Name}' is computed at run time");
            return v.Constant.ToFloats()[0];
        }

        /// <summary>An average sums its window in int32: with int16 values that holds for windows below 2^16 elements.</summary>
        private QPool CheckAverageSum(Node node, QPool pool)
        {
            long window = (long)pool.Window.KernelShape[0] * pool.Window.KernelShape[1];
            if (window * Math.Max(-pool.Input.QMin, pool.Input.QMax) > int.MaxValue)
                throw new ModelException(DiagnosticCatalog.AccumulatorOverflow,
                    $"Model '{_graph.ModelName}': node '{node.Name}' ({node.Op.OpType}) averages {window} values, whose int32 sum could overflow with {pool.Input.Bits}-bit activations; give its input 8 bits (LayerActivationBits).");
            return pool;
        }

        private Window Check2D(Node node, Window window) =>
            window.Rank == 2 ? window : throw Unsupported(node, "only 2-D pooling has an integer implementation");

        /// <summary>Output with the input's scale and zero-point (pooling and data movement keep them, as in TFLite).</summary>
        private QTensor SameParameters(Node node)
        {
            var input = TensorOf(node.Input(0), node);
            var output = _settings.GivenTensor?.Invoke(node.Output) ?? new QTensor(node.Output.Name, node.Output.Shape, input.Scale, input.ZeroPoint, input.ElementType);
            var given = _settings.GivenActivation?.Invoke(node.Output.Name);
            if (given != null && given.Value != (input.Scale, input.ZeroPoint))
                throw new ModelException(DiagnosticCatalog.InconsistentQuantization,
                    $"Model '{_graph.ModelName}': node '{node.Name}' ({node.Op.OpType}) keeps its input's scale {input.Scale:R} and zero-point {input.ZeroPoint}, but the model quantizes its output '{node.Output.Name}' with scale {given.Value.Scale:R} and zero-point {given.Value.ZeroPoint}; quantize both with the same parameters.");
            _tensors[node.Output] = output;
            return output;
        }

        private QTensor FromRange(Value value, Node? node)
        {
            if (_settings.GivenTensor?.Invoke(value) is QTensor prescribed) return _tensors[value] = prescribed;
            var given = _settings.GivenActivation?.Invoke(value.Name);
            if (given != null) return _tensors[value] = new QTensor(value.Name, value.Shape, given.Value.Scale, given.Value.ZeroPoint);
            var range = _settings.RangeOf(value.Name)
                ?? throw _settings.MissingRange?.Invoke(value, node) ?? new ModelException(DiagnosticCatalog.TensorNameMismatch,
                    $"Model '{_graph.ModelName}': the statistics have no range for tensor '{value.Name}'{(node != null ? $" (output of node '{node.Name}')" : "")}; re-run netquant calibrate on this model with the same passes.");
            int bits = _settings.ActivationBitsOf(node?.Name);
            var (scale, zeroPoint) = ActivationQuantizer.Parameters(range, bits);
            var tensor = new QTensor(value.Name, value.Shape, scale, zeroPoint, bits == 16 ? QElementType.Int16 : QElementType.Int8);
            _tensors[value] = tensor;
            return tensor;
        }

        private QTensor TensorOf(Value value, Node? node)
        {
            if (_tensors.TryGetValue(value, out var tensor)) return tensor;
            if (value.IsConstant)
                throw Unsupported(node!, $"input '{value.Name}' is a constant where the integer path needs an activation");
            throw new ModelException(DiagnosticCatalog.InternalError, $"Model '{_graph.ModelName}': tensor '{value.Name}' was used before it was quantized.");
        }

        private ModelException Unsupported(Node node, string why) =>
            new(DiagnosticCatalog.UnsupportedOperator, $"Model '{_graph.ModelName}': node '{node.Name}' ({node.Op.OpType}) cannot be quantized: {why}.");
    }
}
