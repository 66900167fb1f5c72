using System.Linq;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using static NetQuantGen.Emit.SourceWriter;

namespace NetQuantGen.Emit
{
    /// <summary>
    /// Emits one method per integer operation, with every shape, stride and loop bound as a constant and
    /// requantization parameters as literals. Each method carries a comment with its ONNX node, shapes,
    /// scales and zero-points. The arithmetic is exactly that of <see cref="IntegerExecutor"/>.
    /// </summary>
    public static class LayerEmitter
    {
        public static void Emit(SourceWriter w, QOperation op, string name, ArenaPlan arena)
        {
            w.Line($"// {op.Kind} from ONNX node '{op.Source}'");
            foreach (var input in op.Inputs)
                w.Line($"//   in  '{input.Name}' {Shapes.Format(input.Shape)} scale {Float(input.Scale)} zero-point {Int(input.ZeroPoint)}");
            w.Line($"//   out '{op.Output.Name}' {Shapes.Format(op.Output.Shape)} scale {Float(op.Output.Scale)} zero-point {Int(op.Output.ZeroPoint)}");
            using (w.Block($"private static void {name}(Span<sbyte> arena)"))
            {
                for (int i = 0; i < op.Inputs.Count; i++)
                    w.Line($"ReadOnlySpan<sbyte> {InputName(op, i)} = arena.Slice({Int(arena.OffsetOf(op.Inputs[i]))}, {Int(op.Inputs[i].Length)});");
                w.Line($"Span<sbyte> y = arena.Slice({Int(arena.OffsetOf(op.Output))}, {Int(op.Output.Length)});");
                switch (op)
                {
                    case QConvolution conv: Convolution(w, conv, name); break;
                    case QAdd add: Add(w, add); break;
                    case QPool pool: Pool(w, pool); break;
                    case QConcat concat: Concat(w, concat); break;
                    case QMove move: Move(w, move); break;
                    case QPad pad: Pad(w, pad); break;
                    case QLookup lookup: Lookup(w, lookup); break;
                    default: throw new System.NotSupportedException(op.GetType().Name);
                }
            }
        }

        private static string InputName(QOperation op, int index) => op.Inputs.Count == 1 ? "x" : $"x{index}";

        private static void Convolution(SourceWriter w, QConvolution c, string name)
        {
            var win = c.Window;
            int inH = c.Input.Shape.Length > 2 ? c.Input.Shape[2] : 1, inW = c.Input.Shape.Length > 3 ? c.Input.Shape[3] : 1;
            int outH = c.Output.Shape.Length > 2 ? c.Output.Shape[2] : 1, outW = c.Output.Shape.Length > 3 ? c.Output.Shape[3] : 1;
            var multipliers = c.Requantization.Select(r => r.Multiplier).ToArray();
            var shifts = c.Requantization.Select(r => r.Shift).ToArray();
            w.Line($"// weights {Shapes.Format(c.WeightShape)} int8 symmetric, scales {Float(c.WeightScales.Min())} .. {Float(c.WeightScales.Max())}; group {Int(c.Group)}");
            w.Line($"// stride {Int(win.Strides[0])}x{Int(win.Strides[1])}, dilation {Int(win.Dilations[0])}x{Int(win.Dilations[1])}, pads (top {Int(win.PadBegin(0))}, left {Int(win.PadBegin(1))}, bottom {Int(win.PadEnd(0))}, right {Int(win.PadEnd(1))})");
            w.Line($"// acc = bias[m] + sum w·(x − {Int(c.Input.ZeroPoint)}); y = clamp({Int(c.Output.ZeroPoint)} + acc·M[m], {Int(c.ClampMin)}, {Int(c.ClampMax)}); M = multiplier·2^(shift−31)");
            w.Line($"const int Batch = {Int(c.Input.Shape[0])}, InChannels = {Int(c.Input.Shape[1])}, InH = {Int(inH)}, InW = {Int(inW)};");
            w.Line($"const int OutChannels = {Int(c.OutputChannels)}, OutH = {Int(outH)}, OutW = {Int(outW)};");
            w.Line($"const int GroupIn = {Int(c.InputChannelsPerGroup)}, GroupOut = {Int(c.OutputChannels / c.Group)}, KH = {Int(c.KernelHeight)}, KW = {Int(c.KernelWidth)};");
            w.Line($"const int StrideH = {Int(win.Strides[0])}, StrideW = {Int(win.Strides[1])}, DilationH = {Int(win.Dilations[0])}, DilationW = {Int(win.Dilations[1])}, PadTop = {Int(win.PadBegin(0))}, PadLeft = {Int(win.PadBegin(1))};");
            w.Line($"const int InputZeroPoint = {Int(c.Input.ZeroPoint)}, OutputZeroPoint = {Int(c.Output.ZeroPoint)}, ClampMin = {Int(c.ClampMin)}, ClampMax = {Int(c.ClampMax)};");
            w.Line($"ReadOnlySpan<sbyte> weights = BakedWeights.{name};");
            w.Line($"ReadOnlySpan<int> bias = new int[] {{ {Ints(c.Bias)} }};");
            w.Line($"ReadOnlySpan<int> multiplier = new int[] {{ {Ints(multipliers)} }};");
            w.Line($"ReadOnlySpan<int> shift = new int[] {{ {Ints(shifts)} }};");
            using (w.Block("for (int n = 0; n < Batch; n++)"))
            using (w.Block("for (int m = 0; m < OutChannels; m++)"))
            {
                w.Line("int firstChannel = m / GroupOut * GroupIn;");
                using (w.Block("for (int oy = 0; oy < OutH; oy++)"))
                {
                    w.Line("int iy0 = oy * StrideH - PadTop;");
                    w.Line("// Kernel rows that land inside the input; padding holds real 0, i.e. x − z_in = 0.");
                    w.Line("int kyBegin = iy0 < 0 ? (-iy0 + DilationH - 1) / DilationH : 0;");
                    w.Line("int kyEnd = Math.Min(KH, (InH - iy0 + DilationH - 1) / DilationH);");
                    using (w.Block("for (int ox = 0; ox < OutW; ox++)"))
                    {
                        w.Line("int ix0 = ox * StrideW - PadLeft;");
                        w.Line("int kxBegin = ix0 < 0 ? (-ix0 + DilationW - 1) / DilationW : 0;");
                        w.Line("int kxEnd = Math.Min(KW, (InW - ix0 + DilationW - 1) / DilationW);");
                        w.Line("int acc = bias[m];");
                        using (w.Block("for (int ci = 0; ci < GroupIn; ci++)"))
                        {
                            w.Line("int plane = (n * InChannels + firstChannel + ci) * InH;");
                            w.Line("int kernel = (m * GroupIn + ci) * KH;");
                            using (w.Block("for (int ky = kyBegin; ky < kyEnd; ky++)"))
                            {
                                w.Line("int row = (plane + iy0 + ky * DilationH) * InW + ix0;");
                                w.Line("int weightRow = (kernel + ky) * KW;");
                                using (w.Block("for (int kx = kxBegin; kx < kxEnd; kx++)"))
                                    w.Line("acc += weights[weightRow + kx] * (x[row + kx * DilationW] - InputZeroPoint);");
                            }
                        }
                        w.Line("int v = OutputZeroPoint + FixedPoint.MultiplyByQuantizedMultiplier(acc, multiplier[m], shift[m]);");
                        w.Line("y[((n * OutChannels + m) * OutH + oy) * OutW + ox] = (sbyte)Math.Clamp(v, ClampMin, ClampMax);");
                    }
                }
            }
        }

        private static void Add(SourceWriter w, QAdd add)
        {
            w.Line($"// TFLite integer add: inputs shifted left by {Int(add.LeftShift)} and rescaled to a common scale, summed, requantized; clamp [{Int(add.ClampMin)}, {Int(add.ClampMax)}]");
            w.Line($"const int LeftShift = {Int(add.LeftShift)}, ZeroPointA = {Int(add.Inputs[0].ZeroPoint)}, ZeroPointB = {Int(add.Inputs[1].ZeroPoint)}, OutputZeroPoint = {Int(add.Output.ZeroPoint)};");
            w.Line($"const int MultiplierA = {Int(add.InputA.Multiplier)}, ShiftA = {Int(add.InputA.Shift)}, MultiplierB = {Int(add.InputB.Multiplier)}, ShiftB = {Int(add.InputB.Shift)};");
            w.Line($"const int OutputMultiplier = {Int(add.OutputRequantization.Multiplier)}, OutputShift = {Int(add.OutputRequantization.Shift)}, ClampMin = {Int(add.ClampMin)}, ClampMax = {Int(add.ClampMax)};");
            using (w.Block($"for (int i = 0; i < {Int(add.Output.Length)}; i++)"))
            {
                w.Line("int a = FixedPoint.MultiplyByQuantizedMultiplier((x0[i] - ZeroPointA) << LeftShift, MultiplierA, ShiftA);");
                w.Line("int b = FixedPoint.MultiplyByQuantizedMultiplier((x1[i] - ZeroPointB) << LeftShift, MultiplierB, ShiftB);");
                w.Line("int v = OutputZeroPoint + FixedPoint.MultiplyByQuantizedMultiplier(a + b, OutputMultiplier, OutputShift);");
                w.Line("y[i] = (sbyte)Math.Clamp(v, ClampMin, ClampMax);");
            }
        }

        private static void Pool(SourceWriter w, QPool p)
        {
            var win = p.Window;
            bool average = p.Pool == PoolKind.Average;
            w.Line(average
                ? $"// average: rounding division (ties away from zero) of the integer sum over the {(p.CountIncludePad ? "window including padding (real 0 = zero-point)" : "valid part of the window")}"
                : "// max over the valid part of the window");
            w.Line($"const int Planes = {Int(p.Input.Shape[0] * p.Input.Shape[1])}, InH = {Int(p.Input.Shape[2])}, InW = {Int(p.Input.Shape[3])}, OutH = {Int(p.Output.Shape[2])}, OutW = {Int(p.Output.Shape[3])};");
            w.Line($"const int KH = {Int(win.KernelShape[0])}, KW = {Int(win.KernelShape[1])}, StrideH = {Int(win.Strides[0])}, StrideW = {Int(win.Strides[1])}, DilationH = {Int(win.Dilations[0])}, DilationW = {Int(win.Dilations[1])};");
            w.Line($"const int PadTop = {Int(win.PadBegin(0))}, PadLeft = {Int(win.PadBegin(1))}, PadBottom = {Int(win.PadEnd(0))}, PadRight = {Int(win.PadEnd(1))};");
            using (w.Block("for (int plane = 0; plane < Planes; plane++)"))
            using (w.Block("for (int oy = 0; oy < OutH; oy++)"))
            using (w.Block("for (int ox = 0; ox < OutW; ox++)"))
            {
                w.Line("int max = sbyte.MinValue, sum = 0, count = 0, padded = 0;");
                using (w.Block("for (int ky = 0; ky < KH; ky++)"))
                {
                    w.Line("int iy = oy * StrideH - PadTop + ky * DilationH;");
                    using (w.Block("for (int kx = 0; kx < KW; kx++)"))
                    {
                        w.Line("int ix = ox * StrideW - PadLeft + kx * DilationW;");
                        using (w.Block("if (iy < 0 || iy >= InH || ix < 0 || ix >= InW)"))
                        {
                            w.Line("if (iy < InH + PadBottom && ix < InW + PadRight) padded++;");
                            w.Line("continue;");
                        }
                        w.Line("int v = x[(plane * InH + iy) * InW + ix];");
                        w.Line("if (v > max) max = v;");
                        w.Line("sum += v;");
                        w.Line("count++;");
                    }
                }
                if (!average)
                    w.Line("y[(plane * OutH + oy) * OutW + ox] = (sbyte)max;");
                else
                {
                    if (p.CountIncludePad)
                    {
                        w.Line($"sum += padded * {Int(p.Input.ZeroPoint)}; // padding is real 0, the zero-point");
                        w.Line("count += padded;");
                    }
                    w.Line("y[(plane * OutH + oy) * OutW + ox] = (sbyte)(sum >= 0 ? (sum + count / 2) / count : (sum - count / 2) / count);");
                }
            }
        }

        private static void Concat(SourceWriter w, QConcat concat)
        {
            var shape = concat.Output.Shape;
            int outer = (int)Shapes.ElementCount(shape.Take(concat.Axis).ToArray());
            int inner = (int)Shapes.ElementCount(shape.Skip(concat.Axis + 1).ToArray());
            int outBlock = shape[concat.Axis] * inner, offset = 0;
            for (int k = 0; k < concat.Inputs.Count; k++)
            {
                var input = concat.Inputs[k];
                var rq = concat.InputRequantization[k];
                int block = input.Shape[concat.Axis] * inner;
                w.Line(rq.Multiplier == 0
                    ? $"// input {Int(k)}: same scale and zero-point, copied"
                    : $"// input {Int(k)}: requantized, z_out + M·(q − {Int(input.ZeroPoint)}), M = {Int(rq.Multiplier)}·2^({Int(rq.Shift)}−31)");
                using (w.Block($"for (int o = 0; o < {Int(outer)}; o++)"))
                {
                    if (rq.Multiplier == 0)
                        w.Line($"x{k}.Slice(o * {Int(block)}, {Int(block)}).CopyTo(y.Slice(o * {Int(outBlock)} + {Int(offset)}, {Int(block)}));");
                    else
                        using (w.Block($"for (int i = 0; i < {Int(block)}; i++)"))
                            w.Line($"y[o * {Int(outBlock)} + {Int(offset)} + i] = (sbyte)Math.Clamp({Int(concat.Output.ZeroPoint)} + FixedPoint.MultiplyByQuantizedMultiplier(x{k}[o * {Int(block)} + i] - {Int(input.ZeroPoint)}, {Int(rq.Multiplier)}, {Int(rq.Shift)}), -128, 127);");
                }
                offset += block;
            }
        }

        private static void Move(SourceWriter w, QMove move)
        {
            if (move.Permutation == null)
            {
                w.Line("// same bytes, new shape");
                w.Line("x.CopyTo(y);");
                return;
            }
            var inStrides = Shapes.Strides(move.Input.Shape);
            var outShape = move.Output.Shape;
            w.Line($"// transpose with perm [{Ints(move.Permutation)}]");
            string source = string.Join(" + ", Enumerable.Range(0, outShape.Length).Select(d => $"i{d} * {Int(inStrides[move.Permutation[d]])}"));
            for (int d = 0; d < outShape.Length; d++) w.Open($"for (int i{d} = 0; i{d} < {Int(outShape[d])}; i{d}++)");
            w.Line($"y[{Flat(outShape)}] = x[{source}];");
            for (int d = 0; d < outShape.Length; d++) w.Close();
        }

        private static void Pad(SourceWriter w, QPad pad)
        {
            var inShape = pad.Input.Shape;
            var outShape = pad.Output.Shape;
            var inStrides = Shapes.Strides(inShape);
            int rank = inShape.Length;
            w.Line($"// constant padding with {Int(pad.Value)}; pads [{Ints(pad.Pads)}]");
            w.Line($"y.Fill({Int(pad.Value)});");
            for (int d = 0; d < rank; d++)
            {
                int begin = System.Math.Max(0, pad.Pads[d]);
                int end = System.Math.Min(outShape[d], inShape[d] + pad.Pads[d]);
                w.Open($"for (int i{d} = {Int(begin)}; i{d} < {Int(end)}; i{d}++)");
            }
            string source = string.Join(" + ", Enumerable.Range(0, rank).Select(d => $"(i{d} - {Int(pad.Pads[d])}) * {Int(inStrides[d])}"));
            w.Line($"y[{Flat(outShape)}] = x[{source}];");
            for (int d = 0; d < rank; d++) w.Close();
        }

        private static void Lookup(SourceWriter w, QLookup lookup)
        {
            w.Line($"// {lookup.Kind} as a table over the 256 int8 inputs, computed at build time: y = table[x + 128]");
            w.Line($"ReadOnlySpan<sbyte> table = new sbyte[] {{ {string.Join(", ", lookup.Table.Select(v => Int(v)))} }};");
            using (w.Block($"for (int i = 0; i < {Int(lookup.Output.Length)}; i++)"))
                w.Line("y[i] = table[x[i] + 128];");
        }

        /// <summary>Row-major flat index over loop variables i0..i(r−1).</summary>
        private static string Flat(int[] shape)
        {
            var strides = Shapes.Strides(shape);
            return string.Join(" + ", Enumerable.Range(0, shape.Length).Select(d => $"i{d} * {Int(strides[d])}"));
        }
    }
}
