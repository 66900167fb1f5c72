using System;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.Import;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;

namespace NetQuantGen.Quantization
{
    /// <summary>
    /// Lowers a Conv or MatMul of a quantized model to the exact integer product ONNX defines
    /// (<see cref="QIntegerConvolution"/>, <see cref="QIntegerMatMul"/>) when DESIGN §3's int8 operation cannot
    /// carry it: the output is an int32 accumulator (ConvInteger, MatMulInteger), the weights have zero-points
    /// that put w − z_w beyond int8, or the MatMul is batched (N-D constant B). The
    /// 8-bit outputs are requantized the way ONNX Runtime does it (float scale, round half to even).
    /// </summary>
    public static class IntegerProductLowering
    {
        public static QOperation? Lower(QdqModel model, string modelName, Node node, Func<Value, QTensor> tensorOf)
        {
            if (node.Op is not (Conv or MatMul) || !model.Constants.TryGetValue(node.Input(1).Name, out var w)) return null;
            var q = w.Quantization;
            bool accumulator = model.Accumulators.Contains(node.Output.Name);
            bool batched = node.Op is MatMul && (w.Shape.Length != 2 || node.Input(0).Shape.Length != 2);
            int channelAxis = node.Op is Conv ? 0 : w.Shape.Length - 1;
            ModelException Error(DiagnosticKind kind, string why) =>
                new(kind, $"Model '{modelName}': node '{node.Name}' ({node.Op.OpType}), weights '{w.Name}': {why}.");
            if (q.PerAxis && q.Axis != channelAxis)
                throw Error(DiagnosticCatalog.UnsupportedQuantization, $"they are quantized per axis {q.Axis}, but the output channels lie on axis {channelAxis}; per-axis weights need one scale per output channel");
            if (q.Type == ElementType.Int32)
                throw Error(DiagnosticCatalog.UnsupportedQuantization, "int32 weights are not supported; quantize weights to int8 or uint8");
            int channels = w.Shape[channelAxis];
            int inner = w.Shape.Skip(channelAxis + 1).Aggregate(1, (a, b) => a * b);
            var weights = new short[w.Values.Length];
            for (int i = 0; i < weights.Length; i++)
                weights[i] = (short)(w.Values[i] - q.ZeroPoints[q.PerAxis ? i / inner % channels : 0]);
            bool wide = weights.Any(v => v < sbyte.MinValue || v > sbyte.MaxValue);
            if (!accumulator && !wide && !batched) return null; // DESIGN §3's int8 operation carries it

            var input = tensorOf(node.Input(0));
            var fused = (node.Op as Conv)?.Fused;
            QTensor output;
            ProductRequantization? requantization = null;
            if (accumulator)
            {
                if (fused != null)
                    throw Error(DiagnosticCatalog.UnsupportedQuantization, "an activation follows its int32 output; rescale the accumulators to float first");
                output = new QTensor(node.Output.Name, node.Output.Shape, 1f, 0, QElementType.Int32);
            }
            else
            {
                var given = model.Activations.TryGetValue(node.Output.Name, out var p) ? p
                    : throw Error(DiagnosticCatalog.UnsupportedQuantization, $"its output '{node.Output.Name}' has no QuantizeLinear; it needs an output scale and zero-point");
                output = new QTensor(node.Output.Name, node.Output.Shape, given.Scale, given.ZeroPoint);
                var scales = Enumerable.Range(0, channels).Select(c => ProductRequantization.Scale(input.Scale, q.Scales[q.PerAxis ? c : 0], output.Scale)).ToArray();
                requantization = new ProductRequantization(scales,
                    ActivationQuantizer.Bound(fused?.Min ?? float.NegativeInfinity, output),
                    ActivationQuantizer.Bound(fused?.Max ?? float.PositiveInfinity, output));
            }

            QOperation op;
            int[] bias;
            if (node.Op is Conv conv)
            {
                if (w.Shape.Length != 4) throw Error(DiagnosticCatalog.UnsupportedOperator, "only 2-D convolutions have an integer implementation");
                bias = BiasOf(model, node, input, q, channels, Error);
                op = new QIntegerConvolution(node.Name, input, output, conv.Window, conv.Group, weights, w.Shape, bias, requantization);
            }
            else
            {
                bias = new int[channels];
                op = new QIntegerMatMul(node.Name, input, output, weights, w.Shape, requantization);
            }
            ProveNoOverflow(op, weights, w.Shape, channelAxis, bias, Error);
            return op;
        }

        /// <summary>A QLinearConv's int32 bias at scale s_x·s_w[c] (checked as <see cref="QdqLowering"/> checks it); zeros without one.</summary>
        private static int[] BiasOf(QdqModel model, Node node, QTensor input, GivenQuantization weights, int channels, Func<DiagnosticKind, string, ModelException> error)
        {
            var biasValue = node.OptionalInput(2);
            if (biasValue == null) return new int[channels];
            var scales = Enumerable.Range(0, channels).Select(c => weights.Scales[weights.PerAxis ? c : 0]).ToArray();
            return QdqLowering.BiasOf(model, node, input, scales, error)
                ?? throw error(DiagnosticCatalog.UnsupportedQuantization, $"its bias '{biasValue.Name}' is float; a quantized convolution with these weights needs an int32 bias");
        }

        /// <summary>
        /// |acc| ≤ |bias_c| + Σ|w − z_w|·max|x − z_x| over the weights one output reads (a Conv output channel; one
        /// column of one matrix of a batched B) must fit int32.
        /// </summary>
        private static void ProveNoOverflow(QOperation op, short[] weights, int[] shape, int channelAxis, int[] bias, Func<DiagnosticKind, string, ModelException> error)
        {
            long maxInput = Math.Max(Math.Abs(-128 - op.Input.ZeroPoint), Math.Abs(127 - op.Input.ZeroPoint));
            int channels = shape[channelAxis];
            int inner = shape.Skip(channelAxis + 1).Aggregate(1, (a, b) => a * b);
            int matrix = op is QIntegerMatMul ? shape[shape.Length - 2] * channels : weights.Length;
            var sums = new long[weights.Length / matrix * channels];
            for (int i = 0; i < weights.Length; i++) sums[i / matrix * channels + i / inner % channels] += Math.Abs((int)weights[i]);
            for (int s = 0; s < sums.Length; s++)
            {
                int c = s % channels;
                long bound = Math.Abs((long)bias[c]) + sums[s] * maxInput;
                if (bound > int.MaxValue)
                    throw error(DiagnosticCatalog.AccumulatorOverflow, $"output channel {c}: the int32 accumulator could reach {bound}, beyond int32; use fewer input channels or narrower weights");
            }
        }
    }
}
