using System;
using System.Globalization;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.Import;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using NetQuantGen.Passes;

namespace NetQuantGen.Quantization
{
    /// <summary>
    /// Quantization settings that take every scale, zero-point and integer weight from a quantized ONNX model
    /// (<see cref="QdqModel"/>) instead of calibration statistics, so the existing <see cref="Quantizer"/>
    /// builds the integer graph the model prescribes. A QDQ model means float arithmetic (dequantize, float
    /// operator, QuantizeLinear), so by default the integer graph requantizes as ONNX Runtime computes that
    /// (<see cref="RequantizationArithmetic.Float"/>: one float32 multiply and one rounding half to even);
    /// Requantization = FixedPoint keeps DESIGN §3's fixed-point multipliers, the integer Add and the pooling
    /// rounding instead, within a step of it.
    /// <list type="bullet">
    /// <item>uint8 activations become the int8 values q − 128 with zero-point z − 128: the same real values, one to one.</item>
    /// <item>Weights are baked as w − z_w, which must fit int8 (e.g. int8 with zero-point 0, uint8 with zero-point 128).
    /// A Conv or MatMul whose weights do not, an int32 accumulator output or a batched MatMul lowers to the exact
    /// integer product of <see cref="IntegerProductLowering"/> instead (integer reference only, NQG0054 in the generator).</item>
    /// <item>A given int32 bias is used as is when its scale is s_in·s_w[c] (relative difference ≤ 1e-6),
    /// else NQG0051; a float bias is rounded to int32 at s_in·s_w[c] as in our own quantization.</item>
    /// </list>
    /// </summary>
    public static class QdqLowering
    {
        /// <summary>The float passes that leave weights alone; passes that rewrite weights would invalidate the model's integers.</summary>
        public static readonly string[] Passes = { RemoveIdentities.PassName, FuseActivations.PassName };

        public const double BiasScaleTolerance = 1e-6;

        public static QuantizationSettings Settings(QdqModel model, string modelName, RequantizationArithmetic arithmetic) =>
            new(_ => null)
            {
                Arithmetic = arithmetic,
                GivenActivation = name => model.Activations.TryGetValue(name, out var p) ? p : null,
                GivenWeights = (node, input) => WeightsOf(model, modelName, node, input),
                GivenOperation = (node, tensorOf) => IntegerProductLowering.Lower(model, modelName, node, tensorOf),
                GivenTensor = value => BoundaryTensor(model, modelName, value),
                MissingRange = (value, node) => new ModelException(DiagnosticCatalog.UnsupportedQuantization,
                    $"Model '{modelName}': tensor '{value.Name}'{(node != null ? $" (output of node '{node.Name}', {node.Op.OpType})" : " (a model input)")} has no QuantizeLinear; in a quantized model every activation the integer path computes needs a QuantizeLinear/DequantizeLinear pair (scale and zero-point)."),
            };

        /// <summary>A tensor quantized per axis (its axis checked against the value's rank and shape) or at run time.</summary>
        private static QTensor? BoundaryTensor(QdqModel model, string modelName, Value value)
        {
            if (!model.BoundaryActivations.TryGetValue(value.Name, out var given)) return null;
            if (given.IsDynamic) return QTensor.Dynamic(value.Name, value.Shape);
            var p = given.PerAxis!;
            int rank = value.Shape.Length;
            ModelException Invalid(string why) => new(DiagnosticCatalog.InvalidQuantizationParameters, $"Model '{modelName}': tensor '{value.Name}' {Shapes.Format(value.Shape)} is quantized per axis {p.Axis}: {why}.");
            if (p.Axis < -rank || p.Axis >= rank) throw Invalid($"the axis is out of range for rank {rank}");
            int axis = p.Axis < 0 ? p.Axis + rank : p.Axis;
            if (value.Shape[axis] != p.Scales.Length) throw Invalid($"it has {p.Scales.Length} scales, but {value.Shape[axis]} slices along axis {axis}; per-axis scales and zero-points need one entry per slice");
            int shift = p.Type == ElementType.UInt8 ? 128 : 0; // uint8 maps onto int8 as q − 128
            return new QTensor(value.Name, value.Shape, new AxisQuantization(axis, p.Scales, p.ZeroPoints.Select(z => (int)(z - shift)).ToArray()));
        }

        /// <summary>
        /// A tensor quantized per axis or at run time has no single build-time scale for integer arithmetic to use, so
        /// it may only go from the graph input, through Identity nodes that keep its quantization, to graph outputs.
        /// </summary>
        public static void CheckBoundaryTensors(IntegerGraph graph, string modelName)
        {
            foreach (var op in graph.Operations)
            {
                var tensor = op.Inputs.Append(op.Output).FirstOrDefault(t => t.PerAxis != null || t.IsDynamic);
                if (tensor == null || op is QMove { Permutation: null, Kind: "Identity" } && op.Output.SameQuantization(op.Input)) continue;
                throw new ModelException(DiagnosticCatalog.UnsupportedQuantization,
                    $"Model '{modelName}': node '{op.Source}' ({op.Kind}) computes with tensor '{tensor.Name}', which is quantized {(tensor.IsDynamic ? "at run time (DynamicQuantizeLinear)" : $"per axis {tensor.PerAxis!.Axis}")}; the integer path computes only with activations quantized per tensor with constant parameters (quantize this activation statically, per tensor).");
            }
        }

        /// <summary>One line for the generated header.</summary>
        public static string Describe(QdqModel model, RequantizationArithmetic arithmetic) =>
            $"quantization from the model (QDQ): {string.Join("/", model.ActivationTypes)} activations per tensor as given, weights and biases as given; " +
            (arithmetic == RequantizationArithmetic.Float ? "requantization in float32 as ONNX Runtime computes it" : "requantization in fixed point per DESIGN §3");

        private static GivenWeights? WeightsOf(QdqModel model, string modelName, Node node, QTensor input)
        {
            var weightValue = node.Input(1);
            if (!model.Constants.TryGetValue(weightValue.Name, out var w)) return null; // float weights: quantized the usual way
            var q = w.Quantization;
            ModelException Error(DiagnosticKind kind, string why) =>
                new(kind, $"Model '{modelName}': node '{node.Name}' ({node.Op.OpType}), weights '{weightValue.Name}': {why}.");

            // Output channels and where they lie in the stored tensor.
            int rows, columns, channelAxis;
            bool transpose;
            float alpha = 1f;
            switch (node.Op)
            {
                case Conv:
                    rows = w.Shape[0];
                    columns = w.Values.Length / Math.Max(1, rows);
                    channelAxis = 0;
                    transpose = false;
                    break;
                case Gemm gemm:
                    transpose = !gemm.TransB;
                    rows = transpose ? w.Shape[1] : w.Shape[0];
                    columns = transpose ? w.Shape[0] : w.Shape[1];
                    channelAxis = transpose ? 1 : 0;
                    alpha = gemm.Alpha;
                    if (!(alpha > 0)) throw Error(DiagnosticCatalog.UnsupportedQuantization, $"alpha {alpha.ToString("R", CultureInfo.InvariantCulture)} is not positive; quantized weights need alpha > 0");
                    break;
                case MatMul when w.Shape.Length == 2:
                    transpose = true;
                    rows = w.Shape[1];
                    columns = w.Shape[0];
                    channelAxis = 1;
                    break;
                default:
                    return null;
            }
            if (q.PerAxis && q.Axis != channelAxis)
                throw Error(DiagnosticCatalog.UnsupportedQuantization,
                    $"they are quantized per axis {q.Axis}, but the output channels lie on axis {channelAxis}; per-axis weights need one scale per output channel");
            if (q.Type == ElementType.Int32)
                throw Error(DiagnosticCatalog.UnsupportedQuantization, "int32 weights are not supported; quantize weights to int8");
            var values = new sbyte[rows * columns];
            for (int r = 0; r < rows; r++)
                for (int k = 0; k < columns; k++)
                {
                    int index = transpose ? k * rows + r : r * columns + k;
                    long v = w.Values[index] - q.ZeroPoints[q.PerAxis ? r : 0];
                    if (v < sbyte.MinValue || v > sbyte.MaxValue)
                        throw Error(DiagnosticCatalog.UnsupportedQuantization,
                            $"weight {w.Values[index]} minus its zero-point {q.ZeroPoints[q.PerAxis ? r : 0]} ({q.Type.ToString().ToLowerInvariant()}) is {v}, outside int8; the integer Gemm takes w − z_w in int8: re-quantize the weights symmetrically (e.g. ONNX Runtime's quantize_static with WeightSymmetric)");
                    values[r * columns + k] = (sbyte)v;
                }
            var scales = Enumerable.Range(0, rows).Select(c => alpha * q.Scales[q.PerAxis ? c : 0]).ToArray();
            return new GivenWeights(values, scales, BiasOf(model, node, input, scales, Error));
        }

        internal static int[]? BiasOf(QdqModel model, Node node, QTensor input, float[] weightScales, Func<DiagnosticKind, string, ModelException> error)
        {
            var biasValue = node.OptionalInput(2);
            if (biasValue == null || !model.Constants.TryGetValue(biasValue.Name, out var b)) return null;
            var q = b.Quantization;
            if (q.Type != ElementType.Int32)
                throw error(DiagnosticCatalog.UnsupportedQuantization, $"bias '{biasValue.Name}' is {q.Type.ToString().ToLowerInvariant()}; a quantized bias must be int32 at scale s_in·s_w[c]");
            if (node.Op is Gemm gemm && gemm.Beta != 1f)
                throw error(DiagnosticCatalog.UnsupportedQuantization, "beta must be 1 with an int32 bias");
            int m = weightScales.Length;
            if (b.Values.Length != m)
                throw error(DiagnosticCatalog.InvalidQuantizationParameters, $"bias '{biasValue.Name}' has {b.Values.Length} values for {m} output channels");
            for (int c = 0; c < m; c++)
            {
                double expected = (double)input.Scale * weightScales[c];
                double given = q.Scales[q.PerAxis ? c : 0];
                if (Math.Abs(given - expected) > BiasScaleTolerance * expected)
                    throw error(DiagnosticCatalog.InconsistentQuantization,
                        $"the scale of bias '{biasValue.Name}' for output channel {c} is {given.ToString("R", CultureInfo.InvariantCulture)}, but s_in·s_w[{c}] = {input.Scale.ToString("R", CultureInfo.InvariantCulture)}·{weightScales[c].ToString("R", CultureInfo.InvariantCulture)} = {expected.ToString("R", CultureInfo.InvariantCulture)}; an int32 bias must be at the accumulator's scale");
            }
            return b.Values.Select(v => (int)v).ToArray();
        }
    }
}
