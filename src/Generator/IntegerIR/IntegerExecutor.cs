using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.IR;

namespace NetQuantGen.IntegerIR
{
    /// <summary>
    /// The integer reference executor: the oracle that generated code must match bit for bit. Written for
    /// clarity, one plain loop nest per operation, exactly as DESIGN §3 states the arithmetic (or, for operations
    /// that carry float constants, as <see cref="FloatRequantization"/> does). Not thread-safe; one instance per thread.
    /// </summary>
    public sealed partial class IntegerExecutor
    {
        private readonly IntegerGraph _graph;
        private readonly Dictionary<QTensor, sbyte[]> _buffers = new();

        /// <summary>Storage of the int32 tensors (ConvInteger/MatMulInteger outputs).</summary>
        private readonly Dictionary<QTensor, int[]> _accumulators = new();

        /// <summary>The scale and zero-point of each run-time quantized tensor (DynamicQuantizeLinear) in the current run.</summary>
        private readonly Dictionary<QTensor, (float Scale, int ZeroPoint)> _runtimeQuantization = new();

        public IntegerExecutor(IntegerGraph graph)
        {
            _graph = graph;
            foreach (var tensor in graph.Tensors())
            {
                if (tensor.ElementType == QElementType.Int32) _accumulators[tensor] = new int[tensor.Length];
                else _buffers[tensor] = new sbyte[tensor.Length];
            }
        }

        /// <summary>Float input (of the single graph input) → float output (of the single graph output).</summary>
        public float[] Run(float[] input) => Dequantize(RunIntegers(QuantizeInput(input)));

        /// <summary>
        /// The graph input quantized as the graph says: with its scale and zero-point (per tensor or per axis), or
        /// with parameters computed from these values (DynamicQuantizeLinear), which the run then uses.
        /// </summary>
        public sbyte[] QuantizeInput(float[] input)
        {
            var tensor = _graph.Inputs[0].Output;
            if (!tensor.IsDynamic) return Quantize(input, tensor);
            var (scale, zeroPoint) = DynamicQuantization.Parameters(input);
            _runtimeQuantization[tensor] = (scale, zeroPoint - 128); // uint8 maps onto int8 as q − 128
            return input.Select(v => (sbyte)FixedPoint.Quantize(v, scale, zeroPoint - 128, -128, 127)).ToArray();
        }

        /// <summary>The graph output's integers (from <see cref="RunIntegers"/>) as floats, (q − z)·s in float32.</summary>
        public float[] Dequantize(int[] output)
        {
            var o = _graph.Outputs[0].Input;
            var (scale, zeroPoint) = QuantizationOf(o);
            var perAxis = o.PerAxis;
            return output.Select((q, i) => perAxis == null ? (q - zeroPoint) * scale
                : (q - perAxis.ZeroPoints[perAxis.SliceOf(i, o.Shape)]) * perAxis.Scales[perAxis.SliceOf(i, o.Shape)]).ToArray();
        }

        /// <summary>A tensor's scale and zero-point (int8 domain): the run-time ones of a DynamicQuantizeLinear tensor after <see cref="QuantizeInput"/>.</summary>
        public (float Scale, int ZeroPoint) QuantizationOf(QTensor tensor) =>
            !tensor.IsDynamic ? (tensor.Scale, tensor.ZeroPoint)
            : _runtimeQuantization.TryGetValue(tensor, out var p) ? p
            : throw new InvalidOperationException($"Tensor '{tensor.Name}' is quantized at run time; call QuantizeInput first.");

        /// <summary>int8 input → the output's integers in its own type (int8 or int32 accumulators).</summary>
        public int[] RunIntegers(sbyte[] input)
        {
            RunAll(input);
            var output = _graph.Outputs[0].Input;
            return output.ElementType == QElementType.Int32 ? (int[])_accumulators[output].Clone() : Array.ConvertAll(_buffers[output], q => (int)q);
        }

        /// <summary>int8 input → int8 output, for callers (and tests) that work in the quantized domain.</summary>
        public sbyte[] RunQuantized(sbyte[] input)
        {
            if (_graph.Outputs[0].Input.ElementType != QElementType.Int8)
                throw new InvalidOperationException($"The output '{_graph.Outputs[0].Input.Name}' holds int32 accumulators; use RunIntegers.");
            RunAll(input);
            return (sbyte[])_buffers[_graph.Outputs[0].Input].Clone();
        }

        private void RunAll(sbyte[] input)
        {
            Array.Copy(input, _buffers[_graph.Inputs[0].Output], input.Length);
            foreach (var op in _graph.Operations) Execute(op);
        }

        /// <summary>
        /// int8 input; an operation whose output <paramref name="known"/> supplies (from an earlier run) is not
        /// executed, its output is copied instead; <paramref name="observe"/> sees the input and each operation's
        /// output (the executor's buffers: copy to keep) and returns false to stop the run there.
        /// </summary>
        public void RunQuantized(sbyte[] input, Func<QTensor, sbyte[]?> known, Func<QTensor, sbyte[], bool> observe)
        {
            var tensor = _graph.Inputs[0].Output;
            Array.Copy(input, _buffers[tensor], input.Length);
            if (!observe(tensor, _buffers[tensor])) return;
            foreach (var op in _graph.Operations)
            {
                var output = known(op.Output);
                if (output != null) Array.Copy(output, _buffers[op.Output], output.Length);
                else Execute(op);
                if (!observe(op.Output, _buffers[op.Output])) return;
            }
        }

        /// <summary>Float values quantized with a tensor's constant scale and zero-point (per tensor or per axis).</summary>
        public static sbyte[] Quantize(float[] input, QTensor tensor)
        {
            if (tensor.IsDynamic) throw new InvalidOperationException($"Tensor '{tensor.Name}' is quantized at run time; use QuantizeInput.");
            var p = tensor.PerAxis;
            return input.Select((v, i) => (sbyte)(p == null ? FixedPoint.Quantize(v, tensor.Scale, tensor.ZeroPoint, -128, 127)
                : FixedPoint.Quantize(v, p.Scales[p.SliceOf(i, tensor.Shape)], p.ZeroPoints[p.SliceOf(i, tensor.Shape)], -128, 127))).ToArray();
        }

        private void Execute(QOperation op)
        {
            switch (op)
            {
                case QIntegerConvolution conv: IntegerConvolution(conv); return;
                case QIntegerMatMul matMul: IntegerMatMul(matMul); return;
            }
            var output = _buffers[op.Output];
            switch (op)
            {
                case QConvolution conv: Convolution(conv, _buffers[conv.Input], output); break;
                case QAdd add: Add(add, _buffers[add.Inputs[0]], _buffers[add.Inputs[1]], output); break;
                case QPool pool: Pool(pool, _buffers[pool.Input], output); break;
                case QConcat concat: Concat(concat, output); break;
                case QMove move:
                    Move(move, _buffers[move.Input], output);
                    if (move.Input.IsDynamic) _runtimeQuantization[move.Output] = _runtimeQuantization[move.Input];
                    break;
                case QPad pad: Pad(pad, _buffers[pad.Input], output); break;
                case QLookup lookup:
                    var input = _buffers[lookup.Input];
                    for (int i = 0; i < input.Length; i++) output[i] = lookup.Table[input[i] + 128];
                    break;
                default: throw new NotSupportedException(op.GetType().Name);
            }
        }

        private static void Convolution(QConvolution c, sbyte[] x, sbyte[] y)
        {
            var w = c.Window;
            int batch = c.Input.Shape[0], inChannels = c.Input.Shape[1];
            int inH = c.Input.Shape.Length > 2 ? c.Input.Shape[2] : 1, inW = c.Input.Shape.Length > 3 ? c.Input.Shape[3] : 1;
            int outChannels = c.OutputChannels;
            int outH = c.Output.Shape.Length > 2 ? c.Output.Shape[2] : 1, outW = c.Output.Shape.Length > 3 ? c.Output.Shape[3] : 1;
            int groupIn = c.InputChannelsPerGroup, groupOut = outChannels / c.Group;
            int kh = c.KernelHeight, kw = c.KernelWidth;
            int zIn = c.Input.ZeroPoint, zOut = c.Output.ZeroPoint;
            for (int n = 0; n < batch; n++)
                for (int m = 0; m < outChannels; m++)
                {
                    int g = m / groupOut;
                    var rq = c.Requantization[m];
                    for (int oy = 0; oy < outH; oy++)
                        for (int ox = 0; ox < outW; ox++)
                        {
                            int acc = c.Bias[m];
                            for (int ci = 0; ci < groupIn; ci++)
                            {
                                int channel = g * groupIn + ci;
                                for (int ky = 0; ky < kh; ky++)
                                {
                                    int iy = oy * w.Strides[0] - w.PadBegin(0) + ky * w.Dilations[0];
                                    if (iy < 0 || iy >= inH) continue; // padding holds real 0, i.e. x − z_in = 0
                                    for (int kx = 0; kx < kw; kx++)
                                    {
                                        int ix = ox * w.Strides[1] - w.PadBegin(1) + kx * w.Dilations[1];
                                        if (ix < 0 || ix >= inW) continue;
                                        int xv = x[((n * inChannels + channel) * inH + iy) * inW + ix] - zIn;
                                        acc += c.Weights[((m * groupIn + ci) * kh + ky) * kw + kx] * xv;
                                    }
                                }
                            }
                            int v = c.FloatScales != null
                                ? FloatRequantization.Requantize(acc, c.FloatScales[m], zOut, c.ClampMin, c.ClampMax)
                                : Math.Min(c.ClampMax, Math.Max(c.ClampMin, zOut + rq.Apply(acc)));
                            y[((n * outChannels + m) * outH + oy) * outW + ox] = (sbyte)v;
                        }
                }
        }

        /// <summary>One integer Add on given operands (for comparing a single operation with another runtime).</summary>
        public static sbyte[] Add(QAdd add, sbyte[] a, sbyte[] b)
        {
            var y = new sbyte[add.Output.Length];
            Add(add, a, b, y);
            return y;
        }

        private static void Add(QAdd add, sbyte[] a, sbyte[] b, sbyte[] y)
        {
            int za = add.Inputs[0].ZeroPoint, zb = add.Inputs[1].ZeroPoint, zOut = add.Output.ZeroPoint;
            if (add.FloatParameters is FloatAddParameters p)
            {
                for (int i = 0; i < y.Length; i++) y[i] = (sbyte)Math.Min(add.ClampMax, Math.Max(add.ClampMin, FloatRequantization.Add(a[i], b[i], p)));
                return;
            }
            for (int i = 0; i < y.Length; i++)
            {
                int sa = add.InputA.Apply((a[i] - za) << add.LeftShift);
                int sb = add.InputB.Apply((b[i] - zb) << add.LeftShift);
                int v = zOut + add.OutputRequantization.Apply(sa + sb);
                y[i] = (sbyte)Math.Min(add.ClampMax, Math.Max(add.ClampMin, v));
            }
        }

        private static void Pool(QPool p, sbyte[] x, sbyte[] y)
        {
            var w = p.Window;
            int batch = p.Input.Shape[0], channels = p.Input.Shape[1], inH = p.Input.Shape[2], inW = p.Input.Shape[3];
            int outH = p.Output.Shape[2], outW = p.Output.Shape[3];
            for (int nc = 0; nc < batch * channels; nc++)
                for (int oy = 0; oy < outH; oy++)
                    for (int ox = 0; ox < outW; ox++)
                    {
                        int max = sbyte.MinValue, sum = 0, count = 0, padded = 0;
                        for (int ky = 0; ky < w.KernelShape[0]; ky++)
                        {
                            int iy = oy * w.Strides[0] - w.PadBegin(0) + ky * w.Dilations[0];
                            for (int kx = 0; kx < w.KernelShape[1]; kx++)
                            {
                                int ix = ox * w.Strides[1] - w.PadBegin(1) + kx * w.Dilations[1];
                                bool inside = iy >= 0 && iy < inH && ix >= 0 && ix < inW;
                                if (!inside)
                                {
                                    // Explicit padding counts toward count_include_pad; ceil_mode overhang never does.
                                    if (iy < inH + w.PadEnd(0) && ix < inW + w.PadEnd(1)) padded++;
                                    continue;
                                }
                                int v = x[(nc * inH + iy) * inW + ix];
                                max = Math.Max(max, v);
                                sum += v;
                                count++;
                            }
                        }
                        int result;
                        if (p.Pool == PoolKind.Max) result = max;
                        else if (p.FloatScale is float scale)
                            result = FloatRequantization.Requantize(sum - count * p.Input.ZeroPoint, scale, p.Output.ZeroPoint, -128, 127);
                        else
                        {
                            if (p.CountIncludePad)
                            {
                                sum += padded * p.Input.ZeroPoint; // padding is real 0
                                count += padded;
                            }
                            result = RoundingDivide(sum, count);
                        }
                        y[(nc * outH + oy) * outW + ox] = (sbyte)result;
                    }
        }

        /// <summary>Integer division rounded to nearest, ties away from zero (the TFLite average).</summary>
        public static int RoundingDivide(int sum, int count) => sum >= 0 ? (sum + count / 2) / count : (sum - count / 2) / count;

        private void Concat(QConcat concat, sbyte[] y)
        {
            var shape = concat.Output.Shape;
            int outer = (int)Shapes.ElementCount(shape.Take(concat.Axis).ToArray());
            int inner = (int)Shapes.ElementCount(shape.Skip(concat.Axis + 1).ToArray());
            int offset = 0;
            for (int k = 0; k < concat.Inputs.Count; k++)
            {
                var input = concat.Inputs[k];
                var x = _buffers[input];
                var rq = concat.InputRequantization[k];
                int block = input.Shape[concat.Axis] * inner, outBlock = shape[concat.Axis] * inner;
                for (int o = 0; o < outer; o++)
                    for (int i = 0; i < block; i++)
                    {
                        int v = x[o * block + i];
                        if (rq.Multiplier != 0)
                            v = Math.Min(127, Math.Max(-128, concat.Output.ZeroPoint + rq.Apply(v - input.ZeroPoint)));
                        y[o * outBlock + offset + i] = (sbyte)v;
                    }
                offset += block;
            }
        }

        private static void Move(QMove move, sbyte[] x, sbyte[] y)
        {
            if (move.Permutation == null)
            {
                Array.Copy(x, y, x.Length);
                return;
            }
            var inShape = move.Input.Shape;
            var inStrides = Shapes.Strides(inShape);
            var outShape = move.Output.Shape;
            var index = new int[outShape.Length];
            for (int i = 0; i < y.Length; i++)
            {
                int source = 0;
                for (int d = 0; d < outShape.Length; d++) source += index[d] * inStrides[move.Permutation[d]];
                y[i] = x[source];
                for (int d = outShape.Length - 1; d >= 0 && ++index[d] == outShape[d]; d--) index[d] = 0;
            }
        }

        private static void Pad(QPad pad, sbyte[] x, sbyte[] y)
        {
            var inShape = pad.Input.Shape;
            var outShape = pad.Output.Shape;
            var inStrides = Shapes.Strides(inShape);
            int rank = inShape.Length;
            var index = new int[rank];
            for (int i = 0; i < y.Length; i++)
            {
                int source = 0;
                bool inside = true;
                for (int d = 0; d < rank && inside; d++)
                {
                    int s = index[d] - pad.Pads[d];
                    inside = s >= 0 && s < inShape[d];
                    source += s * inStrides[d];
                }
                y[i] = inside ? x[source] : pad.Value;
                for (int d = rank - 1; d >= 0 && ++index[d] == outShape[d]; d--) index[d] = 0;
            }
        }
    }
}
