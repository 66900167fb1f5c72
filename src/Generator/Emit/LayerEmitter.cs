using System;
using System.Linq;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using static NetQuantGen.Emit.SourceWriter;

namespace NetQuantGen.Emit
{
    /// <summary>
    /// Emits one method per integer operation, with every shape, stride and loop bound as a constant and
    /// requantization parameters as literals. Each method carries a comment with its ONNX node, shapes,
    /// scales and zero-points. Convolutions call the exact runtime kernels with weights packed at build
    /// time; the other layers are plain loops. Tensors are laid out as <see cref="Layouts"/> says; the
    /// arithmetic is exactly that of <see cref="IntegerExecutor"/>.
    /// </summary>
    public static class LayerEmitter
    {
        public const string Signature = "(Span<sbyte> arena, Span<short> scratch)";

        public static void Emit(SourceWriter w, QOperation op, string name, ArenaPlan arena, LayerFusion fusion)
        {
            var convolution = op as QConvolution;
            var residual = convolution != null ? fusion.Residual(convolution) : null;
            var pooling = convolution != null ? fusion.Pool(convolution) : null;
            string fused = residual != null ? $", then the Add from ONNX node '{residual.Add.Source}' fused into its output stage"
                : pooling != null ? $", then the MaxPool from ONNX node '{pooling.Pool.Source}' fused into its output stage" : "";
            w.Line($"// {op.Kind} from ONNX node '{op.Source}'{fused}");
            foreach (var input in op.Inputs)
                w.Line($"//   in  '{input.Name}' {Shapes.Format(input.Shape)} scale {Float(input.Scale)} zero-point {Int(input.ZeroPoint)}");
            w.Line($"//   out '{op.Output.Name}' {Shapes.Format(op.Output.Shape)} scale {Float(op.Output.Scale)} zero-point {Int(op.Output.ZeroPoint)}{(residual != null || pooling != null ? " (kept in registers, never stored)" : "")}");
            if (residual != null)
            {
                var skip = residual.Skip;
                var output = residual.Add.Output;
                w.Line($"//   + skip '{skip.Name}' {Shapes.Format(skip.Shape)} scale {Float(skip.Scale)} zero-point {Int(skip.ZeroPoint)}");
                w.Line($"//   add out '{output.Name}' {Shapes.Format(output.Shape)} scale {Float(output.Scale)} zero-point {Int(output.ZeroPoint)}, clamp [{Int(residual.Add.ClampMin)}, {Int(residual.Add.ClampMax)}]");
            }
            if (pooling != null)
                w.Line($"//   max pool 2×2/2 out '{pooling.Pool.Output.Name}' {Shapes.Format(pooling.Pool.Output.Shape)}, the same scale and zero-point");
            // Layer loops go straight to optimized code: no tier-0 or on-stack-replacement versions on the first runs.
            w.Line("[System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]");
            using (w.Block($"private static void {name}{Signature}"))
            {
                for (int i = 0; i < op.Inputs.Count; i++)
                    w.Line($"ReadOnlySpan<{op.Inputs[i].StorageType}> {InputName(op, i)} = {Slice(op.Inputs[i], arena)};");
                if (residual != null) w.Line($"ReadOnlySpan<sbyte> skip = {Slice(residual.Skip, arena)};");
                var stored = fusion.Stored(op);
                w.Line($"Span<{stored.StorageType}> y = {Slice(stored, arena)};");
                switch (op)
                {
                    case QConvolution conv when conv.TouchesWide: Int16ConvolutionEmitter.Emit(w, conv, name); break;
                    case QConvolution conv: ConvolutionEmitter.Emit(w, conv, name, residual, pooling); break;
                    case QAdd add when add.Inputs.Any(t => t.IsWide) || add.Output.IsWide: MixedAdd(w, add); break;
                    case QAdd add: Add(w, add, name); break;
                    case QPool pool: Pool(w, pool); break;
                    case QConcat concat: Concat(w, concat); break;
                    case QMove move: Move(w, move); break;
                    case QPad pad: Pad(w, pad); break;
                    case QLookup lookup: Lookup(w, lookup); break;
                    default: throw new NotSupportedException(op.GetType().Name);
                }
            }
        }

        private static string InputName(QOperation op, int index) => op.Inputs.Count == 1 ? "x" : $"x{index}";

        /// <summary>A tensor's elements in the byte arena: int8 as they are, int16 reinterpreted (offsets are 32-byte aligned).</summary>
        public static string Slice(QTensor tensor, ArenaPlan arena) => tensor.IsWide
            ? $"System.Runtime.InteropServices.MemoryMarshal.Cast<sbyte, short>(arena.Slice({Int(arena.OffsetOf(tensor))}, {Int(tensor.ByteLength)}))"
            : $"arena.Slice({Int(arena.OffsetOf(tensor))}, {Int(tensor.Length)})";

        /// <summary>An add with an int16 input or output: the same TFLite steps as Int8Add, one element at a time.</summary>
        private static void MixedAdd(SourceWriter w, QAdd add)
        {
            w.Line($"// TFLite integer add: inputs shifted left by {Int(add.LeftShift)} and rescaled to a common scale, summed, requantized; clamp [{Int(add.ClampMin)}, {Int(add.ClampMax)}]");
            using (w.Block($"for (int i = 0; i < {Int(add.Output.Length)}; i++)"))
            {
                w.Line($"int a = FixedPoint.MultiplyByQuantizedMultiplier((x0[i] - {Int(add.Inputs[0].ZeroPoint)}) << {Int(add.LeftShift)}, {Int(add.InputA.Multiplier)}, {Int(add.InputA.Shift)});");
                w.Line($"int b = FixedPoint.MultiplyByQuantizedMultiplier((x1[i] - {Int(add.Inputs[1].ZeroPoint)}) << {Int(add.LeftShift)}, {Int(add.InputB.Multiplier)}, {Int(add.InputB.Shift)});");
                w.Line($"int v = {Int(add.Output.ZeroPoint)} + FixedPoint.MultiplyByQuantizedMultiplier(a + b, {Int(add.OutputRequantization.Multiplier)}, {Int(add.OutputRequantization.Shift)});");
                w.Line($"y[i] = ({add.Output.StorageType})Math.Clamp(v, {Int(add.ClampMin)}, {Int(add.ClampMax)});");
            }
        }

        private static void Add(SourceWriter w, QAdd add, string name)
        {
            if (add.FloatParameters is FloatAddParameters f)
            {
                w.Line($"// float requantization (ONNX Runtime's QLinearAdd on uint8): y = round_half_even(fma(a + 128, r_a, fma(b + 128, r_b, c))) saturated to uint8, − 128; clamp [{Int(add.ClampMin)}, {Int(add.ClampMax)}]");
                w.Line($"var parameters = new FloatAddParameters(RatioA: {Float(f.RatioA)}, RatioB: {Float(f.RatioB)}, FixedPart: {Float(f.FixedPart)});");
                w.Line($"Int8FloatAdd.Run(x0, x1, y, parameters, {Int(add.ClampMin)}, {Int(add.ClampMax)});");
                return;
            }
            w.Line($"// TFLite integer add: inputs shifted left by {Int(add.LeftShift)} and rescaled to a common scale, summed, requantized; clamp [{Int(add.ClampMin)}, {Int(add.ClampMax)}]; read from its table");
            w.Line($"Int8Add.Run(x0, x1, y, AddTables.{name});");
        }

        /// <summary>Whether the layer of this add reads an <c>AddTables</c> entry (an int8 fixed-point add run as its own layer).</summary>
        public static bool ReadsAddTable(QAdd add) => add.FloatParameters == null && !add.Inputs.Any(t => t.IsWide) && !add.Output.IsWide;

        /// <summary>The <c>AddParameters</c> of an int8 fixed-point add with <paramref name="a"/> as its input A and <paramref name="b"/> as B.</summary>
        public static string AddParameters(QAdd add, QTensor a, Requantization scaleA, QTensor b, Requantization scaleB) =>
            $"new AddParameters(LeftShift: {Int(add.LeftShift)}, ZeroPointA: {Int(a.ZeroPoint)}, MultiplierA: {Int(scaleA.Multiplier)}, ShiftA: {Int(scaleA.Shift)}, "
            + $"ZeroPointB: {Int(b.ZeroPoint)}, MultiplierB: {Int(scaleB.Multiplier)}, ShiftB: {Int(scaleB.Shift)}, "
            + $"OutputZeroPoint: {Int(add.Output.ZeroPoint)}, OutputMultiplier: {Int(add.OutputRequantization.Multiplier)}, OutputShift: {Int(add.OutputRequantization.Shift)}, ClampMin: {Int(add.ClampMin)}, ClampMax: {Int(add.ClampMax)})";

        /// <summary>Pooling over channels-last planes: the runtime kernel walks each output pixel's window once, whole channel rows at a time.</summary>
        private static void Pool(SourceWriter w, QPool p)
        {
            var win = p.Window;
            bool average = p.Pool == PoolKind.Average;
            if (p.Output.IsWide)
            {
                WidePool(w, p);
                return;
            }
            int n = p.Input.Shape[0], c = p.Input.Shape[1], inH = p.Input.Shape[2], inW = p.Input.Shape[3], outH = p.Output.Shape[2], outW = p.Output.Shape[3];
            w.Line(!average ? "// max over the valid part of the window"
                : p.FloatScale != null ? $"// global average, float requantization (ONNX Runtime's QLinearGlobalAveragePool): round_half_even(float(Σ(x − z))·{Float(p.FloatScale.Value)}) + z, scale = s_in / (s_out·count) in float32"
                : $"// average: rounding division (ties away from zero) of the integer sum over the {(p.CountIncludePad ? "window including explicit padding (real 0 = the zero-point)" : "valid part of the window")}");
            w.Line("var geometry = new PoolGeometry(");
            w.Line($"    InHeight: {Int(inH)}, InWidth: {Int(inW)}, Channels: {Int(c)}, OutHeight: {Int(outH)}, OutWidth: {Int(outW)},");
            w.Line($"    KernelHeight: {Int(win.KernelShape[0])}, KernelWidth: {Int(win.KernelShape[1])}, StrideHeight: {Int(win.Strides[0])}, StrideWidth: {Int(win.Strides[1])}, DilationHeight: {Int(win.Dilations[0])}, DilationWidth: {Int(win.Dilations[1])},");
            w.Line($"    PadTop: {Int(win.PadBegin(0))}, PadLeft: {Int(win.PadBegin(1))}, PadBottom: {Int(win.PadEnd(0))}, PadRight: {Int(win.PadEnd(1))}, InputZeroPoint: {Int(p.Input.ZeroPoint)}, CountIncludePad: {(p.CountIncludePad ? "true" : "false")});");
            string call = average ? "Int8Pooling.Average" : "Int8Pooling.Max";
            string floatArguments = p.FloatScale is float scale ? $", {Float(scale)}, {Int(p.Output.ZeroPoint)}" : "";
            int inLength = inH * inW * c, outLength = outH * outW * c;
            if (n == 1)
                w.Line($"{call}(x, y, geometry{floatArguments});");
            else
                using (w.Block($"for (int n = 0; n < {Int(n)}; n++)"))
                    w.Line($"{call}(x.Slice(n * {Int(inLength)}, {Int(inLength)}), y.Slice(n * {Int(outLength)}, {Int(outLength)}), geometry{floatArguments});");
        }

        /// <summary>Pooling over int16 tensors (the runtime's pooling kernels are int8): the integer reference's loops.</summary>
        private static void WidePool(SourceWriter w, QPool p)
        {
            var win = p.Window;
            bool average = p.Pool == PoolKind.Average;
            string element = p.Output.StorageType;
            int n = p.Input.Shape[0], c = p.Input.Shape[1], inH = p.Input.Shape[2], inW = p.Input.Shape[3];
            w.Line(average
                ? $"// average: rounding division (ties away from zero) of the integer sum over the {(p.CountIncludePad ? "window including explicit padding (real 0 = the zero-point)" : "valid part of the window")}"
                : "// max over the valid part of the window");
            w.Line($"const int Batch = {Int(n)}, Channels = {Int(c)}, InH = {Int(inH)}, InW = {Int(inW)}, OutH = {Int(p.Output.Shape[2])}, OutW = {Int(p.Output.Shape[3])};");
            w.Line($"const int KH = {Int(win.KernelShape[0])}, KW = {Int(win.KernelShape[1])}, StrideH = {Int(win.Strides[0])}, StrideW = {Int(win.Strides[1])}, DilationH = {Int(win.Dilations[0])}, DilationW = {Int(win.Dilations[1])};");
            w.Line($"const int PadTop = {Int(win.PadBegin(0))}, PadLeft = {Int(win.PadBegin(1))};");
            if (average)
            {
                w.Line($"const int PadBottom = {Int(win.PadEnd(0))}, PadRight = {Int(win.PadEnd(1))};");
                w.Line("Span<int> sum = stackalloc int[Channels];");
            }
            using (w.Block("for (int n = 0; n < Batch; n++)"))
            using (w.Block("for (int oy = 0; oy < OutH; oy++)"))
            using (w.Block("for (int ox = 0; ox < OutW; ox++)"))
            {
                w.Line($"Span<{element}> pixel = y.Slice(((n * OutH + oy) * OutW + ox) * Channels, Channels);");
                w.Line(average ? "sum.Clear();" : $"pixel.Fill({element}.MinValue);");
                if (average) w.Line("int count = 0, padded = 0;");
                using (w.Block("for (int ky = 0; ky < KH; ky++)"))
                using (w.Block("for (int kx = 0; kx < KW; kx++)"))
                {
                    w.Line("int iy = oy * StrideH - PadTop + ky * DilationH, ix = ox * StrideW - PadLeft + kx * DilationW;");
                    using (w.Block("if (iy < 0 || iy >= InH || ix < 0 || ix >= InW)"))
                    {
                        // Explicit padding counts toward count_include_pad; the ceil_mode overhang never does.
                        if (average) w.Line("if (iy < InH + PadBottom && ix < InW + PadRight) padded++;");
                        w.Line("continue;");
                    }
                    w.Line($"ReadOnlySpan<{element}> source = x.Slice(((n * InH + iy) * InW + ix) * Channels, Channels);");
                    if (average)
                    {
                        w.Line("count++;");
                        w.Line("for (int ch = 0; ch < Channels; ch++) sum[ch] += source[ch];");
                    }
                    else
                        w.Line("for (int ch = 0; ch < Channels; ch++) if (source[ch] > pixel[ch]) pixel[ch] = source[ch];");
                }
                if (average)
                {
                    if (p.CountIncludePad) w.Line("count += padded;");
                    using (w.Block("for (int ch = 0; ch < Channels; ch++)"))
                    {
                        w.Line(p.CountIncludePad ? $"int total = sum[ch] + padded * {Int(p.Input.ZeroPoint)}; // padding is real 0, the zero-point" : "int total = sum[ch];");
                        w.Line($"pixel[ch] = ({element})(total >= 0 ? (total + count / 2) / count : (total - count / 2) / count);");
                    }
                }
            }
        }

        private static void Concat(SourceWriter w, QConcat concat)
        {
            var memory = Layouts.MemoryShape(concat.Output.Shape);
            int axis = Layouts.MemoryAxis(concat.Output.Shape, concat.Axis);
            int outer = (int)Shapes.ElementCount(memory.Take(axis).ToArray());
            int inner = (int)Shapes.ElementCount(memory.Skip(axis + 1).ToArray());
            int outBlock = memory[axis] * inner, offset = 0;
            for (int k = 0; k < concat.Inputs.Count; k++)
            {
                var input = concat.Inputs[k];
                var rq = concat.InputRequantization[k];
                int block = input.Shape[concat.Axis] * inner;
                w.Line(rq.Multiplier == 0
                    ? $"// input {Int(k)}: same scale and zero-point, copied"
                    : $"// input {Int(k)}: requantized, z_out + M·(q − z_in), M = {Int(rq.Multiplier)}·2^({Int(rq.Shift)}−31)");
                using (w.Block($"for (int o = 0; o < {Int(outer)}; o++)"))
                {
                    if (rq.Multiplier == 0)
                        w.Line($"x{k}.Slice(o * {Int(block)}, {Int(block)}).CopyTo(y.Slice(o * {Int(outBlock)} + {Int(offset)}, {Int(block)}));");
                    else
                        using (w.Block($"for (int i = 0; i < {Int(block)}; i++)"))
                            w.Line($"y[o * {Int(outBlock)} + {Int(offset)} + i] = ({concat.Output.StorageType})Math.Clamp({Int(concat.Output.ZeroPoint)} + FixedPoint.MultiplyByQuantizedMultiplier(x{k}[o * {Int(block)} + i] - {Int(input.ZeroPoint)}, {Int(rq.Multiplier)}, {Int(rq.Shift)}), {Int(concat.Output.QMin)}, {Int(concat.Output.QMax)});");
                }
                offset += block;
            }
        }

        private static void Move(SourceWriter w, QMove move)
        {
            if (move.Permutation != null)
            {
                w.Line($"// transpose with perm [{Ints(move.Permutation)}]");
                var inStrides = Layouts.Strides(move.Input.Shape);
                var source = Enumerable.Range(0, move.Output.Shape.Length).Select(d => inStrides[move.Permutation[d]]).ToArray();
                StridedLoops(w, move.Output.Shape, (Layouts.Strides(move.Output.Shape), "y", true), (source, "x", false), (target, from) => $"{target} = {from};");
                return;
            }
            if (Layouts.IsRowMajor(move.Input) && Layouts.IsRowMajor(move.Output))
            {
                w.Line("// same bytes, new shape");
                w.Line("x.CopyTo(y);");
                return;
            }
            // A reshape keeps the logical row-major order; memory order differs where a side is channels-last. With one
            // side row-major, nested loops over the other side's logical shape place each element with constant strides.
            if (Layouts.IsRowMajor(move.Output) || Layouts.IsRowMajor(move.Input))
            {
                bool toRowMajor = Layouts.IsRowMajor(move.Output);
                var shape = toRowMajor ? move.Input.Shape : move.Output.Shape;
                w.Line($"// reshape across layouts: the {(toRowMajor ? "input" : "output")}'s logical order walked with its memory strides");
                StridedLoops(w, shape, (toRowMajor ? Shapes.Strides(shape) : Layouts.Strides(shape), "y", true),
                    (toRowMajor ? Layouts.Strides(shape) : Shapes.Strides(shape), "x", false), (target, from) => $"{target} = {from};");
                return;
            }
            w.Line("// reshape across layouts: element i of the logical row-major order, placed in each side's memory order");
            using (w.Block($"for (int i = 0; i < {Int(move.Output.Length)}; i++)"))
                w.Line($"y[{MemoryIndex(move.Output.Shape, "i")}] = x[{MemoryIndex(move.Input.Shape, "i")}];");
        }

        private static void Pad(SourceWriter w, QPad pad)
        {
            var inShape = pad.Input.Shape;
            var outStrides = Layouts.Strides(pad.Output.Shape);
            int rank = inShape.Length;
            int offset = Enumerable.Range(0, rank).Sum(d => pad.Pads[d] * outStrides[d]);
            w.Line($"// constant padding with {Int(pad.Value)}; pads [{Ints(pad.Pads)}]");
            w.Line($"y.Fill({Int(pad.Value)});");
            // Loop over the input elements that survive (negative pads crop).
            var begins = Enumerable.Range(0, rank).Select(d => Math.Max(0, -pad.Pads[d])).ToArray();
            var ends = Enumerable.Range(0, rank).Select(d => Math.Min(inShape[d], pad.Output.Shape[d] - pad.Pads[d])).ToArray();
            var inStrides = Layouts.Strides(inShape);
            for (int d = 0; d < rank; d++) w.Open($"for (int i{d} = {Int(begins[d])}; i{d} < {Int(ends[d])}; i{d}++)");
            w.Line($"y[{Int(offset)} + {Offset(outStrides)}] = x[{Offset(inStrides)}];");
            for (int d = 0; d < rank; d++) w.Close();
        }

        private static void Lookup(SourceWriter w, QLookup lookup)
        {
            w.Line($"// {lookup.Kind} as a table over the 256 int8 inputs, computed at build time: y = table[x + 128]");
            w.Line($"ReadOnlySpan<sbyte> table = new sbyte[] {{ {string.Join(", ", lookup.Table.Select(v => Int(v)))} }};");
            using (w.Block($"for (int i = 0; i < {Int(lookup.Output.Length)}; i++)"))
                w.Line("y[i] = table[x[i] + 128];");
        }

        /// <summary>
        /// Nested loops i0..i(r−1) over a logical shape, with the memory offsets of a target and a source
        /// (strides per logical axis); <paramref name="statement"/> makes the body from the two element expressions.
        /// </summary>
        public static void StridedLoops(SourceWriter w, int[] shape, (int[] Strides, string Name, bool IsTarget) target,
            (int[] Strides, string Name, bool IsTarget) source, Func<string, string, string> statement)
        {
            for (int d = 0; d < shape.Length; d++) w.Open($"for (int i{d} = 0; i{d} < {Int(shape[d])}; i{d}++)");
            w.Line(statement($"{target.Name}[{Offset(target.Strides)}]", $"{source.Name}[{Offset(source.Strides)}]"));
            for (int d = 0; d < shape.Length; d++) w.Close();
        }

        private static string Offset(int[] strides) =>
            strides.Length == 0 ? "0" : string.Join(" + ", strides.Select((s, d) => $"i{d} * {Int(s)}"));

        /// <summary>The memory index of logical row-major element <paramref name="i"/> (an expression).</summary>
        private static string MemoryIndex(int[] shape, string i)
        {
            if (Layouts.IsRowMajor(shape)) return i;
            int c = shape[1], hw = shape[2] * shape[3], chw = c * hw;
            return $"{i} / {Int(chw)} * {Int(chw)} + {i} % {Int(hw)} * {Int(c)} + {i} / {Int(hw)} % {Int(c)}";
        }
    }
}
