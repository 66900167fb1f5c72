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

        // Every tensor's values, int8 or int16 alike (both fit a short).
        private readonly Dictionary<QTensor, short[]> _buffers = new();

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
                else _buffers[tensor] = new short[tensor.Length];
            }
        }

        /// <summary>Float input (of the single graph input) → float output (of the single graph output).</summary>
        public float[] Run(float[] input) => Dequantize(RunIntegers(QuantizeInput(input)));

        /// <summary>
        /// The graph input quantized as the graph says: with its scale and zero-point (per tensor or per axis), or
        /// with parameters computed from these values (DynamicQuantizeLinear), which the run then uses.
        /// </summary>
        public short[] QuantizeInput(float[] input)
        {
            var tensor = _graph.Inputs[0].Output;
            if (!tensor.IsDynamic) return QuantizeValues(input, tensor);
            var (scale, zeroPoint) = DynamicQuantization.Parameters(input);
            _runtimeQuantization[tensor] = (scale, zeroPoint - 128); // uint8 maps onto int8 as q − 128
            return input.Select(v => (short)FixedPoint.Quantize(v, scale, zeroPoint - 128, -128, 127)).ToArray();
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

        /// <summary>Integer input → the output's integers in its own type (int8, int16 or int32 accumulators).</summary>
        public int[] RunIntegers(short[] input)
        {
            RunAll(input);
            var output = _graph.Outputs[0].Input;
            return output.ElementType == QElementType.Int32 ? (int[])_accumulators[output].Clone() : Array.ConvertAll(_buffers[output], q => (int)q);
        }

        /// <summary>int8 input → int8 output, for callers (and tests) that work in the quantized domain of an int8 model.</summary>
        public sbyte[] RunQuantized(sbyte[] input)
        {
            if (_graph.Inputs[0].Output.IsWide || _graph.Outputs[0].Input.ElementType != QElementType.Int8)
                throw new InvalidOperationException($"The model's input or output '{_graph.Outputs[0].Input.Name}' is not int8: use RunQuantized(short[]) or RunIntegers.");
            return Array.ConvertAll(RunQuantized(Array.ConvertAll(input, v => (short)v)), v => (sbyte)v);
        }

        /// <summary>Integer input values → integer output values, whatever the widths of the (int8 or int16) tensors.</summary>
        public short[] RunQuantized(short[] input)
        {
            if (_graph.Outputs[0].Input.ElementType == QElementType.Int32)
                throw new InvalidOperationException($"The output '{_graph.Outputs[0].Input.Name}' holds int32 accumulators; use RunIntegers.");
            RunAll(input);
            return (short[])_buffers[_graph.Outputs[0].Input].Clone();
        }

        private void RunAll(short[] input)
        {
            Array.Copy(input, _buffers[_graph.Inputs[0].Output], input.Length);
            foreach (var op in _graph.Operations) Execute(op);
        }

        /// <summary>
        /// Integer input values; an operation whose output <paramref name="known"/> supplies (from an earlier run) is not
        /// executed, its output is copied instead; <paramref name="observe"/> sees the input and each operation's
        /// output (the executor's buffers: copy to keep) and returns false to stop the run there.
        /// </summary>
        public void RunQuantized(short[] input, Func<QTensor, short[]?> known, Func<QTensor, short[], bool> observe)
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

        /// <summary>Quantizes into an int8 tensor (ONNX QuantizeLinear), per tensor or per axis.</summary>
        public static sbyte[] Quantize(float[] input, QTensor tensor) =>
            tensor.IsWide ? throw new InvalidOperationException($"Tensor '{tensor.Name}' is int16: use QuantizeValues.") : Array.ConvertAll(QuantizeValues(input, tensor), v => (sbyte)v);

        /// <summary>Quantizes into a tensor of any width with its constant scale and zero-point (round half to even, saturate to its range).</summary>
        public static short[] QuantizeValues(float[] input, QTensor tensor)
        {
            if (tensor.IsDynamic) throw new InvalidOperationException($"Tensor '{tensor.Name}' is quantized at run time; use QuantizeInput.");
            var p = tensor.PerAxis;
            return input.Select((v, i) => (short)(p == null ? FixedPoint.Quantize(v, tensor.Scale, tensor.ZeroPoint, tensor.QMin, tensor.QMax)
                : FixedPoint.Quantize(v, p.Scales[p.SliceOf(i, tensor.Shape)], p.ZeroPoints[p.SliceOf(i, tensor.Shape)], tensor.QMin, tensor.QMax))).ToArray();
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

        private static void Convolution(QConvolution c, short[] x, short[] y)
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
                            long acc = c.Bias[m]; // exact: int32 is proven for int8 inputs, int64 holds int16 ones
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
                                        acc += c.Weights[((m * groupIn + ci) * kh + ky) * kw + kx] * (long)xv;
                                    }
                                }
                            }
                            long v = c.FloatScales != null
                                ? FloatRequantization.Requantize((int)acc, c.FloatScales[m], zOut, c.ClampMin, c.ClampMax)
                                : Math.Min(c.ClampMax, Math.Max(c.ClampMin, zOut + (c.WideRequantization ? rq.ApplyWide(acc) : rq.Apply((int)acc))));
                            y[((n * outChannels + m) * outH + oy) * outW + ox] = (short)v;
                        }
                }
        }

        /// <summary>One integer Add on given int8 operands (for comparing a single operation with another runtime).</summary>
        public static sbyte[] Add(QAdd add, sbyte[] a, sbyte[] b)
        {
            var y = new short[add.Output.Length];
            Add(add, Array.ConvertAll(a, v => (short)v), Array.ConvertAll(b, v => (short)v), y);
            return Array.ConvertAll(y, v => (sbyte)v);
        }

        private static void Add(QAdd add, short[] a, short[] b, short[] y)
        {
            int za = add.Inputs[0].ZeroPoint, zb = add.Inputs[1].ZeroPoint, zOut = add.Output.ZeroPoint;
            if (add.FloatParameters is FloatAddParameters p)
            {
                for (int i = 0; i < y.Length; i++) y[i] = (short)Math.Min(add.ClampMax, Math.Max(add.ClampMin, FloatRequantization.Add(a[i], b[i], p)));
                return;
            }
            for (int i = 0; i < y.Length; i++)
            {
                int sa = add.InputA.Apply((a[i] - za) << add.LeftShift);
                int sb = add.InputB.Apply((b[i] - zb) << add.LeftShift);
                int v = zOut + add.OutputRequantization.Apply(sa + sb);
                y[i] = (short)Math.Min(add.ClampMax, Math.Max(add.ClampMin, v));
            }
        }

        private static void Pool(QPool p, short[] x, short[] y)
        {
            var w = p.Window;
            int batch = p.Input.Shape[0], channels = p.Input.Shape[1], inH = p.Input.Shape[2], inW = p.Input.Shape[3];
            int outH = p.Output.Shape[2], outW = p.Output.Shape[3];
            for (int nc = 0; nc < batch * channels; nc++)
                for (int oy = 0; oy < outH; oy++)
                    for (int ox = 0; ox < outW; ox++)
                    {
                        int max = p.Input.QMin, sum = 0, count = 0, padded = 0;
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
                        y[(nc * outH + oy) * outW + ox] = (short)result;
                    }
        }

        /// <summary>Integer division rounded to nearest, ties away from zero (the TFLite average).</summary>
        public static int RoundingDivide(int sum, int count) => sum >= 0 ? (sum + count / 2) / count : (sum - count / 2) / count;

        private void Concat(QConcat concat, short[] y)
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
                            v = Math.Min(concat.Output.QMax, Math.Max(concat.Output.QMin, concat.Output.ZeroPoint + rq.Apply(v - input.ZeroPoint)));
                        y[o * outBlock + offset + i] = (short)v;
                    }
                offset += block;
            }
        }

        private static void Move(QMove move, short[] x, short[] y)
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

        private static void Pad(QPad pad, short[] x, short[] y)
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
                y[i] = inside ? x[source] : (short)pad.Value;
                for (int d = rank - 1; d >= 0 && ++index[d] == outShape[d]; d--) index[d] = 0;
            }
        }
    }
}
