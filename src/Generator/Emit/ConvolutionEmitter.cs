using System;
using System.Linq;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using static NetQuantGen.Emit.SourceWriter;

namespace NetQuantGen.Emit
{
    /// <summary>The kernel a convolution gets, chosen at build time from its shape.</summary>
    public enum ConvolutionKernel
    {
        /// <summary>Group 1 (including fully connected layers): packed int16-pair weights, exact multiply-add of pairs.</summary>
        Dense,

        /// <summary>Group 1 with few input channels and a window (e.g. an RGB first layer): the kh×kw×C window is the reduction: rows gathered once (im2col), then a 1×1 GEMM.</summary>
        DensePatches,

        /// <summary>
        /// Group 1 with few input channels, a window and dilation 1 across: each kernel row of a window is kw·C consecutive
        /// cells of a zero-padded widened copy of the input, read in place as one tap of (kw·C + 1) / 2 pairs (an odd row's
        /// last pair meets a weight 0): no im2col, no padding tests.
        /// </summary>
        DenseKernelRows,

        /// <summary>
        /// Group 1 whose weights prove uint8 × int8 pairs and int16 runs of them exact (<see cref="ByteKernelProof"/>):
        /// inputs offset to x + 128, vpmaddubsw, int16 sums widened once per run.
        /// </summary>
        DenseBytes,

        /// <summary><see cref="DensePatches"/> with the byte kernel, where the weights prove it exact over the window's quads.</summary>
        DensePatchesBytes,

        /// <summary>
        /// Group 1, 3×3, stride 1, whose weights prove the integer Winograd F(2×2, 3×3) exact (<see cref="WinogradProof"/>):
        /// 16 int16 GEMMs on transformed 4×4 input tiles, 16 multiplies per 2×2 outputs instead of 36.
        /// </summary>
        Winograd,

        /// <summary>
        /// <see cref="Winograd"/> with F(4×2, 3×3) tiles (F(4, 3) along the width): 24 GEMMs on transformed 4×6 tiles, 24
        /// multiplies per 4×2 outputs, where the weights prove Y = 48·Σ w·u exact in int32.
        /// </summary>
        WinogradFourByTwo,

        /// <summary>One filter per channel.</summary>
        Depthwise,

        /// <summary>Other group counts: a plain loop.</summary>
        Grouped,
    }

    /// <summary>Emits a convolution layer: its constants and the call of the runtime kernel chosen for it.</summary>
    public static class ConvolutionEmitter
    {
        /// <summary>Below this many input channels a per-tap reduction wastes most of a tile's work on tap bookkeeping and odd-channel padding.</summary>
        private const int PatchChannels = 8;

        public static ConvolutionKernel KernelOf(QConvolution c) =>
            IsPatches(c) ? (ByteKernelProof.GroupLength(c, patches: true) >= ByteKernelProof.MinimumGroup ? ConvolutionKernel.DensePatchesBytes
                : IsKernelRows(c) ? ConvolutionKernel.DenseKernelRows : ConvolutionKernel.DensePatches)
            : IsWinogradFourByTwo(c) ? ConvolutionKernel.WinogradFourByTwo
            : IsWinograd(c) ? ConvolutionKernel.Winograd
            : c.Group == 1 && ByteKernelProof.GroupLength(c, patches: false) >= ByteKernelProof.MinimumGroup ? ConvolutionKernel.DenseBytes
            : c.Group == 1 ? ConvolutionKernel.Dense
            : c.Group == c.Input.Shape[1] && c.Group == c.OutputChannels && c.InputChannelsPerGroup == 1 ? ConvolutionKernel.Depthwise
            : ConvolutionKernel.Grouped;

        /// <summary>
        /// Winograd where the proof holds and the 2×2 tiles are mostly used: at most a quarter of the outputs they compute may
        /// fall outside the output plane (an odd side of 3 or 5 wastes more, and there the direct kernel, which skips taps
        /// in the padding, is as fast or faster), at most a fifth where the weights also admit the byte kernel (which does
        /// twice the multiply-adds per instruction: Winograd beats it by 8–10% on full tiles, 56×56 to 14×14, and ties it
        /// at 7×7). Measured on ResNet-18 and small_cnn shapes from 1×1 to 56×56, W8 and W4.
        /// </summary>
        private static bool IsWinograd(QConvolution c)
        {
            if (!WinogradProof.Applies(c)) return false;
            var (outH, outW) = OutputPlane(c);
            int tiles = (outH + 1) / 2 * ((outW + 1) / 2);
            if (outH * outW < 3 * tiles || !WinogradProof.Holds(c)) return false;
            return 5 * outH * outW >= 16 * tiles || ByteKernelProof.GroupLength(c, patches: false) < ByteKernelProof.MinimumGroup;
        }

        /// <summary>Below this many input or output channels the 4×2 tile's larger transforms cost more than its fewer multiplies save.</summary>
        private const int WinogradFourByTwoChannels = 128;

        /// <summary>
        /// The F(4×2, 3×3) tile where its proof holds (Y = 48·Σ w·u within int32; else the 2×2 tile or the direct kernels), at
        /// most a quarter of the outputs its tiles compute fall outside the plane, and the layer has at least 128 input and
        /// output channels: 24 multiplies per 8 outputs instead of 32, but per input channel half again the transform work per
        /// tile. Ahead of the byte kernel on 4-bit weights. Measured on ResNet-18 at 224: W8, against the 2×2 tile, 8% faster
        /// at 28×28 (128 channels), 5–9% at 14×14 (256), 15–20% at 7×7 (512, the same edge waste as 2×2 tiles); about 3% at
        /// 56×56 (64 channels); 4–15% slower on small_cnn's 32 and 64 channels at 28×28 and 14×14.
        /// </summary>
        private static bool IsWinogradFourByTwo(QConvolution c)
        {
            if (!WinogradProof.Applies(c) || c.InputChannelsPerGroup < WinogradFourByTwoChannels || c.OutputChannels < WinogradFourByTwoChannels) return false;
            var (outH, outW) = OutputPlane(c);
            int tiles = (outH + 1) / 2 * ((outW + 3) / 4);
            return 4 * outH * outW >= 3 * 8 * tiles && WinogradProof.Holds(c, wide: true);
        }

        /// <summary>
        /// Kernel rows where the windows' rows are contiguous (dilation 1 across) and the pairs that odd rows of kw·C cells
        /// waste (kh·⌈kw·C/2⌉ against ⌈kh·kw·C/2⌉ for im2col) cost less GEMM work than im2col's copies save: about a
        /// cycle per wasted pair and vector of 16 output channels, against 6 or more per kernel row and output pixel for
        /// the copies. Measured (AVX-512, one thread) against im2col: 1→32 3×3 11.3 against 15.3 µs, 3→64 7×7/2 (ResNet
        /// conv1) 1.69 against 1.98 ms, 3→64 3×3/2 129 against 148 µs, 1→128 3×3 a tie, 1→256 5×5 3% slower (2 wasted pairs, 16 vectors).
        /// </summary>
        private static bool IsKernelRows(QConvolution c)
        {
            if (c.Window.Dilations[1] != 1) return false;
            int channels = c.InputChannelsPerGroup, kh = c.KernelHeight, kw = c.KernelWidth;
            int wastedPairs = kh * ((kw * channels + 1) / 2) - (kh * kw * channels + 1) / 2;
            return wastedPairs * ((c.OutputChannels + 15) / 16) <= 4 * kh;
        }

        /// <summary>
        /// Few input channels and a window, or a window over the whole unpadded input (a fully connected layer reading an
        /// image, <see cref="FlattenIntoFullyConnected"/>): there the one im2col row is the image itself, channels-last, and
        /// the layer one long pointwise reduction.
        /// </summary>
        private static bool IsPatches(QConvolution c) =>
            c.Group == 1 && c.KernelHeight * c.KernelWidth > 1 && (c.InputChannelsPerGroup < PatchChannels || CoversWholeInput(c));

        private static bool CoversWholeInput(QConvolution c) =>
            OutputPlane(c) == (1, 1) && InputPlane(c) is var (h, w, _) && h == c.KernelHeight && w == c.KernelWidth;

        /// <summary>The int16 run length (in quads) of a layer given the byte kernel, 0 for the other kernels.</summary>
        public static int ByteGroupOf(QConvolution c) => KernelOf(c) switch
        {
            ConvolutionKernel.DenseBytes => ByteKernelProof.GroupLength(c, patches: false),
            ConvolutionKernel.DensePatchesBytes => ByteKernelProof.GroupLength(c, patches: true),
            _ => 0,
        };

        /// <summary>int16 scratch elements the layer's kernel needs (the widened input plus a zero pixel, or the window rows plus a zero row).</summary>
        public static int ScratchLength(QConvolution c)
        {
            var kernel = KernelOf(c);
            if (kernel == ConvolutionKernel.Grouped) return 0;
            var (h, w, channels) = InputPlane(c);
            if (kernel == ConvolutionKernel.DensePatchesBytes)
            {
                var (outH, outW) = OutputPlane(c);
                return ((outH * outW + 1) * 4 * ((c.KernelHeight * c.KernelWidth * channels + 3) / 4) + 1) / 2;
            }
            if (kernel == ConvolutionKernel.DenseKernelRows)
            {
                // ConvolutionGeometry.PaddedHeight × PaddedRowCells.
                var (outH, outW) = OutputPlane(c);
                var win = c.Window;
                int rows = (outH - 1) * win.Strides[0] + (c.KernelHeight - 1) * win.Dilations[0] + 1;
                return rows * (((outW - 1) * win.Strides[1] + c.KernelWidth) * channels + 1);
            }
            if (kernel == ConvolutionKernel.DensePatches)
            {
                var (outH, outW) = OutputPlane(c);
                return (outH * outW + 1) * ((c.KernelHeight * c.KernelWidth * channels + 1) / 2 * 2);
            }
            if (kernel == ConvolutionKernel.Winograd || kernel == ConvolutionKernel.WinogradFourByTwo)
                return WinogradScratchLength(c, kernel == ConvolutionKernel.WinogradFourByTwo);
            if (kernel == ConvolutionKernel.DenseBytes) return ((h * w + 1) * 4 * ((channels + 3) / 4) + 1) / 2;
            int stride = kernel == ConvolutionKernel.Depthwise ? WeightPacking.PaddedChannels(channels) : (channels + 1) / 2 * 2;
            return (h * w + 1) * stride;
        }

        /// <summary>Bytes of transformed input the Winograd kernel keeps at most, and its largest register tile: mirror NetQuantGen.Runtime.Kernels.Int8Winograd.</summary>
        private const int WinogradBlockBytes = 512 * 1024, WinogradMaximumGroup = 8;

        /// <summary>One block of transformed tiles, [ξ][tile][input channel] int16 (Int8Winograd.BlockTiles and ScratchLength).</summary>
        private static int WinogradScratchLength(QConvolution c, bool wide)
        {
            var (outH, outW) = OutputPlane(c);
            int columns = wide ? 4 : 2, positions = WinogradProof.Positions(wide);
            int rowLength = (c.InputChannelsPerGroup + 1) / 2 * 2, tiles = (outH + 1) / 2 * ((outW + columns - 1) / columns);
            int fit = System.Math.Max(WinogradMaximumGroup, WinogradBlockBytes / (positions * 2 * rowLength));
            int blocks = (tiles + fit - 1) / fit;
            return positions * ((tiles + blocks - 1) / blocks) * rowLength;
        }

        /// <summary>The packed weights the kernel reads (baked into the assembly), or the plain weights for the grouped loop.</summary>
        public static int[] PackedWeights(QConvolution c) => KernelOf(c) switch
        {
            ConvolutionKernel.Dense => WeightPacking.Dense(c, patches: false),
            ConvolutionKernel.DensePatches => WeightPacking.Dense(c, patches: true),
            ConvolutionKernel.DenseKernelRows => WeightPacking.Dense(c, patches: false, kernelRows: true),
            ConvolutionKernel.DenseBytes => WeightPacking.Bytes(c, patches: false),
            ConvolutionKernel.DensePatchesBytes => WeightPacking.Bytes(c, patches: true),
            ConvolutionKernel.Winograd => WeightPacking.Winograd(c),
            ConvolutionKernel.WinogradFourByTwo => WeightPacking.Winograd(c, wide: true),
            ConvolutionKernel.Depthwise => WeightPacking.Depthwise(c),
            _ => c.Weights.Select(v => (int)v).ToArray(),
        };

        /// <summary>Height, width and channels of one image of the input, as the kernel sees it (a Gemm's rows are pixels).</summary>
        private static (int Height, int Width, int Channels) InputPlane(QConvolution c) =>
            c.Input.Shape.Length == 4 ? (c.Input.Shape[2], c.Input.Shape[3], c.Input.Shape[1]) : (1, c.Input.Shape[0], c.Input.Shape[1]);

        private static (int Height, int Width) OutputPlane(QConvolution c) =>
            c.Output.Shape.Length == 4 ? (c.Output.Shape[2], c.Output.Shape[3]) : (1, c.Output.Shape[0]);

        /// <param name="residual">An add fused into the output stage (the method has a <c>skip</c> span), or null.</param>
        /// <param name="pool">A 2×2 max pooling fused into the output stage (<c>y</c> is the pooled plane), or null.</param>
        public static void Emit(SourceWriter w, QConvolution c, string name, ResidualFusion? residual = null, PoolFusion? pool = null)
        {
            var win = c.Window;
            var kernel = KernelOf(c);
            var (inH, inW, inC) = InputPlane(c);
            var (outH, outW) = OutputPlane(c);
            int batch = c.Input.Shape.Length == 4 ? c.Input.Shape[0] : 1;
            w.Line($"// weights {Shapes.Format(c.WeightShape)} int8 symmetric, scales {Float(c.WeightScales.Min())} .. {Float(c.WeightScales.Max())}; group {Int(c.Group)}; {kernel} kernel");
            w.Line($"// stride {Int(win.Strides[0])}x{Int(win.Strides[1])}, dilation {Int(win.Dilations[0])}x{Int(win.Dilations[1])}, pads (top {Int(win.PadBegin(0))}, left {Int(win.PadBegin(1))}, bottom {Int(win.PadEnd(0))}, right {Int(win.PadEnd(1))})");
            bool floatScales = c.FloatScales != null;
            w.Line(floatScales
                ? $"// acc = bias[m] + Σ w·(x − ({Int(c.Input.ZeroPoint)})); y = clamp({Int(c.Output.ZeroPoint)} + round_half_even(float(acc)·scale[m]), {Int(c.ClampMin)}, {Int(c.ClampMax)}); float requantization (ONNX Runtime), scale = (s_in·s_w[m]) / s_out in float32"
                : $"// acc = bias[m] + Σ w·(x − ({Int(c.Input.ZeroPoint)})); y = clamp({Int(c.Output.ZeroPoint)} + acc·M[m], {Int(c.ClampMin)}, {Int(c.ClampMax)}); fixed-point requantization (DESIGN §3), M = multiplier·2^(shift−31)");
            if (kernel == ConvolutionKernel.Grouped)
            {
                Grouped(w, c, name, batch, inH, inW, inC, outH, outW);
                return;
            }
            if (c.FromGemm && CoversWholeInput(c))
                w.Line("// the Flatten before this Gemm is folded in: one window over the whole image reads it as it lies, channels-last, with the weights packed in that order");
            int byteGroup = ByteGroupOf(c);
            if (byteGroup > 0)
                w.Line($"// uint8 x int8 kernel: the weights prove pairs and int16 sums of {Int(byteGroup)} quads exact; bias holds -({Int(c.Input.ZeroPoint)} + 128)*sum(w)");
            if (kernel == ConvolutionKernel.Winograd)
                w.Line($"// Winograd F(2×2,3×3): 16 int16 GEMMs on transformed 4×4 tiles, acc = bias + Y/4; proven |Y| ≤ 4·255·max Σ|w| = {Int(WinogradProof.Bound(c))} < 2^31, exact in int32");
            if (kernel == ConvolutionKernel.WinogradFourByTwo)
                w.Line($"// Winograd F(4×2,3×3): 24 int16 GEMMs on transformed 4×6 tiles, acc = bias + Y/48; proven |Y| ≤ 48·255·max Σ|w| = {Int(WinogradProof.Bound(c, wide: true))} < 2^31, exact in int32");
            w.Line($"ReadOnlySpan<int> bias = new int[] {{ {Ints(WeightPacking.Padded(byteGroup > 0 ? WeightPacking.ByteKernelBias(c) : c.Bias))} }};");
            string requantization;
            if (floatScales)
            {
                w.Line($"ReadOnlySpan<float> scale = new float[] {{ {Floats(WeightPacking.Padded(c.FloatScales!))} }};");
                requantization = "scale";
            }
            else
            {
                var multiplier = c.Requantization.Select(r => r.Multiplier).ToArray();
                var left = c.Requantization.Select(r => System.Math.Max(0, r.Shift)).ToArray();
                var right = c.Requantization.Select(r => System.Math.Max(0, -r.Shift)).ToArray();
                w.Line($"ReadOnlySpan<int> multiplier = new int[] {{ {Ints(WeightPacking.Padded(multiplier))} }};");
                w.Line($"ReadOnlySpan<int> leftShift = new int[] {{ {Ints(WeightPacking.Padded(left))} }};");
                w.Line($"ReadOnlySpan<int> rightShift = new int[] {{ {Ints(WeightPacking.Padded(right))} }};");
                requantization = "multiplier, leftShift, rightShift";
            }
            w.Line("var geometry = new ConvolutionGeometry(");
            w.Line($"    InHeight: {Int(inH)}, InWidth: {Int(inW)}, InChannels: {Int(inC)}, OutHeight: {Int(outH)}, OutWidth: {Int(outW)}, OutChannels: {Int(c.OutputChannels)},");
            w.Line($"    KernelHeight: {Int(c.KernelHeight)}, KernelWidth: {Int(c.KernelWidth)}, StrideHeight: {Int(win.Strides[0])}, StrideWidth: {Int(win.Strides[1])},");
            w.Line($"    DilationHeight: {Int(win.Dilations[0])}, DilationWidth: {Int(win.Dilations[1])}, PadTop: {Int(win.PadBegin(0))}, PadLeft: {Int(win.PadBegin(1))},");
            w.Line($"    InputZeroPoint: {Int(c.Input.ZeroPoint)}, OutputZeroPoint: {Int(c.Output.ZeroPoint)}, ClampMin: {Int(c.ClampMin)}, ClampMax: {Int(c.ClampMax)}{(kernel == ConvolutionKernel.DensePatches || kernel == ConvolutionKernel.DensePatchesBytes ? ", Patches: true" : "")}{(byteGroup > 0 ? $", ByteGroup: {Int(byteGroup)}" : "")}{(kernel == ConvolutionKernel.DenseKernelRows ? ", KernelRows: true" : "")});");
            string fused = "";
            if (residual != null)
            {
                var add = residual.Add;
                w.Line($"// fused TFLite integer add: y = clamp({Int(add.Output.ZeroPoint)} + M_out·(M_conv·((conv − ({Int(c.Output.ZeroPoint)})) << {Int(add.LeftShift)}) + M_skip·((skip − ({Int(residual.Skip.ZeroPoint)})) << {Int(add.LeftShift)})), {Int(add.ClampMin)}, {Int(add.ClampMax)}), the conv's output as A, read from the add's table");
            }
            string call = kernel == ConvolutionKernel.Depthwise ? "Int8Convolution.Depthwise"
                : kernel == ConvolutionKernel.Winograd || kernel == ConvolutionKernel.WinogradFourByTwo ? "Int8Winograd.Dense" : "Int8Convolution.Dense";
            string tile = kernel == ConvolutionKernel.WinogradFourByTwo ? ", WinogradTile.FourByTwo" : "";
            int inLength = inH * inW * inC, outLength = outH * outW * c.OutputChannels;
            if (pool != null)
            {
                w.Line("// fused 2×2 max pooling: the largest accumulator of each 2×2 block of outputs requantized once, the same bytes as");
                w.Line($"// pooling the four outputs (requantization never decreases: {(floatScales ? "positive float scales" : "positive multipliers, left shifts proven not to overflow")})");
                tile = $", WinogradTile.{(kernel == ConvolutionKernel.WinogradFourByTwo ? "FourByTwo" : "TwoByTwo")}, WinogradOutput.MaxPoolTwoByTwo";
                outLength /= 4;
            }
            string Image(int length) => batch == 1 ? "0" : $"n * {Int(length)}";
            if (batch > 1) w.Open($"for (int n = 0; n < {Int(batch)}; n++)");
            if (residual != null) fused = $", skip.Slice({Image(outLength)}, {Int(outLength)}), AddTables.{name}";
            w.Line($"{call}(x.Slice({Image(inLength)}, {Int(inLength)}), y.Slice({Image(outLength)}, {Int(outLength)}), scratch, BakedWeights.{name}, bias, {requantization}, geometry{fused}{tile});");
            if (batch > 1) w.Close();
        }

        /// <summary>A convolution whose groups are neither one nor one per channel: direct loops over channels-last data.</summary>
        private static void Grouped(SourceWriter w, QConvolution c, string name, int batch, int inH, int inW, int inC, int outH, int outW) =>
            GroupedLoops(w, c, name, batch, inH, inW, inC, outH, outW,
                declareParameters: () =>
                {
                    w.Line($"ReadOnlySpan<int> bias = new int[] {{ {Ints(c.Bias)} }};");
                    if (c.FloatScales != null)
                        w.Line($"ReadOnlySpan<float> scale = new float[] {{ {Floats(c.FloatScales)} }};");
                    else
                    {
                        w.Line($"ReadOnlySpan<int> multiplier = new int[] {{ {Ints(c.Requantization.Select(r => r.Multiplier))} }};");
                        w.Line($"ReadOnlySpan<int> shift = new int[] {{ {Ints(c.Requantization.Select(r => r.Shift))} }};");
                    }
                },
                startAccumulator: new[] { "int acc = bias[m], firstChannel = m / GroupOut * GroupIn;" },
                product: "(x[pixel + ci] - InputZeroPoint)",
                store: () =>
                {
                    if (c.FloatScales != null)
                        w.Line("y[((n * OutH + oy) * OutW + ox) * OutChannels + m] = (sbyte)FloatRequantization.Requantize(acc, scale[m], OutputZeroPoint, ClampMin, ClampMax);");
                    else
                    {
                        w.Line("int v = OutputZeroPoint + FixedPoint.MultiplyByQuantizedMultiplier(acc, multiplier[m], shift[m]);");
                        w.Line("y[((n * OutH + oy) * OutW + ox) * OutChannels + m] = (sbyte)Math.Clamp(v, ClampMin, ClampMax);");
                    }
                });

        /// <summary>
        /// The loops of a grouped convolution, shared by the int8 and int16 emitters: the layer's constants, then per output
        /// value the exact sum over its window (<paramref name="startAccumulator"/> declares acc and firstChannel, the weight
        /// multiplies <paramref name="product"/>), and <paramref name="store"/> requantizes it.
        /// </summary>
        internal static void GroupedLoops(SourceWriter w, QConvolution c, string name, int batch, int inH, int inW, int inC, int outH, int outW,
            Action declareParameters, string[] startAccumulator, string product, Action store)
        {
            var win = c.Window;
            w.Line($"const int Batch = {Int(batch)}, InH = {Int(inH)}, InW = {Int(inW)}, InChannels = {Int(inC)}, OutH = {Int(outH)}, OutW = {Int(outW)}, OutChannels = {Int(c.OutputChannels)};");
            w.Line($"const int GroupIn = {Int(c.InputChannelsPerGroup)}, GroupOut = {Int(c.OutputChannels / c.Group)}, KH = {Int(c.KernelHeight)}, KW = {Int(c.KernelWidth)};");
            w.Line($"const int StrideH = {Int(win.Strides[0])}, StrideW = {Int(win.Strides[1])}, DilationH = {Int(win.Dilations[0])}, DilationW = {Int(win.Dilations[1])}, PadTop = {Int(win.PadBegin(0))}, PadLeft = {Int(win.PadBegin(1))};");
            w.Line($"const int InputZeroPoint = {Int(c.Input.ZeroPoint)}, OutputZeroPoint = {Int(c.Output.ZeroPoint)}, ClampMin = {Int(c.ClampMin)}, ClampMax = {Int(c.ClampMax)};");
            w.Line($"ReadOnlySpan<int> weights = BakedWeights.{name};");
            declareParameters();
            using (w.Block("for (int n = 0; n < Batch; n++)"))
            using (w.Block("for (int oy = 0; oy < OutH; oy++)"))
            using (w.Block("for (int ox = 0; ox < OutW; ox++)"))
            using (w.Block("for (int m = 0; m < OutChannels; m++)"))
            {
                foreach (var line in startAccumulator) w.Line(line);
                using (w.Block("for (int ky = 0; ky < KH; ky++)"))
                using (w.Block("for (int kx = 0; kx < KW; kx++)"))
                {
                    w.Line("int iy = oy * StrideH - PadTop + ky * DilationH, ix = ox * StrideW - PadLeft + kx * DilationW;");
                    w.Line("if (iy < 0 || iy >= InH || ix < 0 || ix >= InW) continue; // padding holds real 0: x − z_in = 0");
                    w.Line("int pixel = ((n * InH + iy) * InW + ix) * InChannels + firstChannel;");
                    using (w.Block("for (int ci = 0; ci < GroupIn; ci++)"))
                        w.Line($"acc += weights[((m * GroupIn + ci) * KH + ky) * KW + kx] * {product};");
                }
                store();
            }
        }
    }
}
