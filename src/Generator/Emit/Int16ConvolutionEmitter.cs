using System.Linq;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using static NetQuantGen.Emit.SourceWriter;

namespace NetQuantGen.Emit
{
    /// <summary>
    /// Emits a convolution with an int16 input or output (16-bit activations): a call of the runtime's
    /// Int16Convolution (dense layers, with few input channels too, and depthwise), or, for other group counts,
    /// a plain loop with an int64 accumulator. The arithmetic is <see cref="IntegerExecutor"/>'s.
    /// </summary>
    public static class Int16ConvolutionEmitter
    {
        private static bool IsDepthwise(QConvolution c) => ConvolutionEmitter.KernelOf(c) == ConvolutionKernel.Depthwise;

        private static bool IsGrouped(QConvolution c) => ConvolutionEmitter.KernelOf(c) == ConvolutionKernel.Grouped;

        /// <summary>int16 scratch elements: the widened input plus a zero pixel.</summary>
        public static int ScratchLength(QConvolution c)
        {
            if (IsGrouped(c)) return 0;
            var (h, w, channels) = InputPlane(c);
            int stride = IsDepthwise(c) ? WeightPacking.PaddedChannels(channels) : (channels + 1) / 2 * 2;
            return (h * w + 1) * stride;
        }

        /// <summary>The int8 kernels' packed layouts (per-tap pairs for every dense layer), or plain weights for the grouped loop.</summary>
        public static int[] PackedWeights(QConvolution c) =>
            IsGrouped(c) ? c.Weights.Select(v => (int)v).ToArray() : IsDepthwise(c) ? WeightPacking.Depthwise(c) : WeightPacking.Dense(c, patches: false);

        private static (int Height, int Width, int Channels) InputPlane(QConvolution c) =>
            c.Input.Shape.Length == 4 ? (c.Input.Shape[2], c.Input.Shape[3], c.Input.Shape[1]) : (1, c.Input.Shape[0], c.Input.Shape[1]);

        private static (int Height, int Width) OutputPlane(QConvolution c) =>
            c.Output.Shape.Length == 4 ? (c.Output.Shape[2], c.Output.Shape[3]) : (1, c.Output.Shape[0]);

        public static void Emit(SourceWriter w, QConvolution c, string name)
        {
            var win = c.Window;
            var (inH, inW, inC) = InputPlane(c);
            var (outH, outW) = OutputPlane(c);
            int batch = c.Input.Shape.Length == 4 ? c.Input.Shape[0] : 1;
            w.Line($"// weights {Shapes.Format(c.WeightShape)} int8 symmetric, scales {Float(c.WeightScales.Min())} .. {Float(c.WeightScales.Max())}; group {Int(c.Group)}; {c.Input.StorageType} in, {c.Output.StorageType} out");
            w.Line($"// stride {Int(win.Strides[0])}x{Int(win.Strides[1])}, dilation {Int(win.Dilations[0])}x{Int(win.Dilations[1])}, pads (top {Int(win.PadBegin(0))}, left {Int(win.PadBegin(1))}, bottom {Int(win.PadEnd(0))}, right {Int(win.PadEnd(1))})");
            w.Line($"// acc = bias[m] + Σ w·(x − ({Int(c.Input.ZeroPoint)})), exact in int{Int(c.AccumulatorBits)} (proven from the weights); " +
                   $"y = clamp({Int(c.Output.ZeroPoint)} + {(c.WideRequantization ? "MultiplyByQuantizedMultiplierWide" : "MultiplyByQuantizedMultiplier")}(acc, multiplier[m], shift[m]), {Int(c.ClampMin)}, {Int(c.ClampMax)})");
            w.Line($"ReadOnlySpan<int> bias = new int[] {{ {Ints(c.Bias)} }};");
            w.Line($"ReadOnlySpan<int> multiplier = new int[] {{ {Ints(c.Requantization.Select(r => r.Multiplier))} }};");
            w.Line($"ReadOnlySpan<int> shift = new int[] {{ {Ints(c.Requantization.Select(r => r.Shift))} }};");
            if (IsGrouped(c))
            {
                Grouped(w, c, name, batch, inH, inW, inC, outH, outW);
                return;
            }
            w.Line("var geometry = new ConvolutionGeometry(");
            w.Line($"    InHeight: {Int(inH)}, InWidth: {Int(inW)}, InChannels: {Int(inC)}, OutHeight: {Int(outH)}, OutWidth: {Int(outW)}, OutChannels: {Int(c.OutputChannels)},");
            w.Line($"    KernelHeight: {Int(c.KernelHeight)}, KernelWidth: {Int(c.KernelWidth)}, StrideHeight: {Int(win.Strides[0])}, StrideWidth: {Int(win.Strides[1])},");
            w.Line($"    DilationHeight: {Int(win.Dilations[0])}, DilationWidth: {Int(win.Dilations[1])}, PadTop: {Int(win.PadBegin(0))}, PadLeft: {Int(win.PadBegin(1))},");
            w.Line($"    InputZeroPoint: {Int(c.Input.ZeroPoint)}, OutputZeroPoint: {Int(c.Output.ZeroPoint)}, ClampMin: {Int(c.ClampMin)}, ClampMax: {Int(c.ClampMax)});");
            w.Line($"var arithmetic = new Int16Convolution.Arithmetic(Int64Accumulator: {(c.AccumulatorBits == 64 ? "true" : "false")}, WideRequantization: {(c.WideRequantization ? "true" : "false")});");
            string call = IsDepthwise(c) ? "Int16Convolution.Depthwise" : "Int16Convolution.Dense";
            int inLength = inH * inW * inC, outLength = outH * outW * c.OutputChannels;
            string Image(int length) => batch == 1 ? "0" : $"n * {Int(length)}";
            if (batch > 1) w.Open($"for (int n = 0; n < {Int(batch)}; n++)");
            w.Line($"{call}(x.Slice({Image(inLength)}, {Int(inLength)}), y.Slice({Image(outLength)}, {Int(outLength)}), scratch, BakedWeights.{name}, bias, multiplier, shift, geometry, arithmetic);");
            if (batch > 1) w.Close();
        }

        /// <summary>Groups neither one nor one per channel: direct loops over channels-last data, int64 accumulator.</summary>
        private static void Grouped(SourceWriter w, QConvolution c, string name, int batch, int inH, int inW, int inC, int outH, int outW) =>
            ConvolutionEmitter.GroupedLoops(w, c, name, batch, inH, inW, inC, outH, outW,
                declareParameters: () => { },
                startAccumulator: new[] { "long acc = bias[m];", "int firstChannel = m / GroupOut * GroupIn;" },
                product: "(long)(x[pixel + ci] - InputZeroPoint)",
                store: () =>
                {
                    w.Line(c.WideRequantization
                        ? "long v = OutputZeroPoint + FixedPoint.MultiplyByQuantizedMultiplierWide(acc, multiplier[m], shift[m]);"
                        : "long v = OutputZeroPoint + FixedPoint.MultiplyByQuantizedMultiplier((int)acc, multiplier[m], shift[m]);");
                    w.Line($"y[((n * OutH + oy) * OutW + ox) * OutChannels + m] = ({c.Output.StorageType})Math.Clamp(v, ClampMin, ClampMax);");
                });
    }
}
