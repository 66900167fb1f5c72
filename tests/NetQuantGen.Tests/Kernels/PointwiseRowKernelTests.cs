using System;
using System.Linq;
using NetQuantGen.Runtime;
using NetQuantGen.Runtime.Kernels;
using Xunit;

namespace NetQuantGen.Tests.Kernels
{
    /// <summary>
    /// The dense kernels whose rows are built a block of output pixels at a time (1×1 stride-1 convolutions, im2col
    /// patches, each with the exact int16 and the byte kernel) on images of several blocks, odd widths, strides,
    /// dilations (the per-window copies) and pads, 1 to 5 channels with patches (the line copies) and up to 89 without: every
    /// path, scalar included, gives the bytes of a plain convolution written out here from the logical weights, in
    /// both requantization modes (left and right shifts), with one thread and with the opt-in parallel split.
    /// </summary>
    public class PointwiseRowKernelTests
    {
        private const int Block = ConvolutionGeometry.BlockChannels;

        [Fact]
        public void BlockBuiltRowsGiveThePlainConvolutionOnEveryPathInBothRequantizationModes()
        {
            var random = new Random(31);
            var paths = Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported).ToArray();
            int compared = 0, lineCopies = 0, windowCopies = 0, multiBlock = 0, split = 0;
            for (int trial = 0; trial < 160; trial++)
            {
                bool pointwise = random.Next(3) == 0, bytes = random.Next(2) == 0, floatScales = random.Next(2) == 0;
                int kernelH = pointwise ? 1 : random.Next(1, 8), kernelW = pointwise ? 1 : random.Next(1, 8);
                if (!pointwise && kernelH * kernelW == 1) kernelW = 3;
                int stride = pointwise ? 1 : random.Next(1, 3), dilation = pointwise || random.Next(4) > 0 ? 1 : 2;
                int padTop = pointwise ? 0 : random.Next(0, kernelH), padLeft = pointwise ? 0 : random.Next(0, kernelW);
                int inH = random.Next(1, 40), inW = random.Next(1, 40);
                int channels = pointwise ? random.Next(1, 90) : random.Next(1, 6), outChannels = random.Next(1, 40);
                int outH = (inH + 2 * padTop - ((kernelH - 1) * dilation + 1)) / stride + 1;
                int outW = (inW + 2 * padLeft - ((kernelW - 1) * dilation + 1)) / stride + 1;
                if (outH < 1 || outW < 1) continue;
                int taps = kernelH * kernelW, zeroIn = random.Next(-128, 128);
                var g = new ConvolutionGeometry(inH, inW, channels, outH, outW, outChannels, kernelH, kernelW, stride, stride, dilation, dilation,
                    padTop, padLeft, zeroIn, random.Next(-128, 128), random.Next(-128, -50), random.Next(50, 128), Patches: !pointwise,
                    ByteGroup: bytes ? 2 : 0);
                // 4-bit weights: runs of two quads are safe for the byte kernel.
                var w = new int[outChannels, channels, taps];
                for (int m = 0; m < outChannels; m++)
                    for (int c = 0; c < channels; c++)
                        for (int t = 0; t < taps; t++)
                            w[m, c, t] = bytes ? random.Next(-7, 8) : random.Next(-127, 128);
                int padded = g.ChannelBlocks * Block;
                var bias = Enumerable.Range(0, padded).Select(_ => random.Next(-50_000, 50_000)).ToArray();
                var multiplier = Enumerable.Range(0, padded).Select(_ => random.Next(1 << 30, int.MaxValue)).ToArray();
                // Signed shifts as the compiler bakes them: a left or a right shift per channel.
                var shift = Enumerable.Range(0, padded).Select(_ => random.Next(-11, 3)).ToArray();
                var leftShift = shift.Select(e => Math.Max(0, e)).ToArray();
                var rightShift = shift.Select(e => Math.Max(0, -e)).ToArray();
                var scale = Enumerable.Range(0, padded).Select(_ => random.Next(3) == 0 ? MathF.Pow(2, -random.Next(1, 12)) : (float)(random.NextDouble() * 1e-3)).ToArray();
                var x = new sbyte[inH * inW * channels];
                random.NextBytes((byte[])(object)x);

                var expected = Plain(x, w, bias, multiplier, shift, floatScales ? scale : null, g);
                var packed = bytes ? PackQuads(w, g) : PackPairs(w, g);
                // The byte kernel's bias holds −(z_in + 128)·Σw, as the compiler bakes it.
                var kernelBias = bytes
                    ? bias.Select((b, m) => m < outChannels ? b - (zeroIn + 128) * Enumerable.Range(0, channels).Sum(c => Enumerable.Range(0, taps).Sum(t => w[m, c, t])) : b).ToArray()
                    : bias;
                foreach (var path in paths)
                    foreach (int threads in new[] { 1, 2 })
                    {
                        using var pinned = KernelPathScope.Use(path);
                        KernelThreads.Count = threads;
                        try
                        {
                            var y = new sbyte[g.OutputPixels * outChannels];
                            var scratch = new short[g.ScratchLength(depthwise: false)];
                            if (floatScales) Int8Convolution.Dense(x, y, scratch, packed, kernelBias, scale, g);
                            else Int8Convolution.Dense(x, y, scratch, packed, kernelBias, multiplier, leftShift, rightShift, g);
                            Assert.True(expected.AsSpan().SequenceEqual(y), $"{path} with {threads} thread(s) differs from the plain convolution on {g} (float: {floatScales})");
                        }
                        finally { KernelThreads.Count = 1; }
                        compared++;
                    }
                if (!pointwise && dilation == 1) lineCopies++;
                if (!pointwise && dilation > 1) windowCopies++;
                int rowBytes = bytes ? (pointwise ? 4 * g.ChannelQuads : 4 * g.WindowQuads) : (pointwise ? 2 * g.ChannelPairs : 2 * g.ReductionPairs) * 2;
                // The kernel's blocks: 16 KB of rows, at least 8 tiles of 6 pixels.
                if (g.OutputPixels > Math.Max(8, 16 * 1024 / rowBytes / 6) * 6) multiBlock++;
                if ((long)g.OutputPixels * outChannels * taps * channels >= KernelThreads.MinimumMacs && g.OutputPixels >= 24) split++;
            }
            Assert.True(compared >= 200 * paths.Length, $"only {compared} comparisons");
            Assert.True(lineCopies >= 20 && windowCopies >= 5 && multiBlock >= 10 && split >= 10,
                $"{lineCopies} layers with line copies, {windowCopies} with per-window copies, {multiBlock} of several blocks, {split} split between threads");
        }

        /// <summary>
        /// Kernel rows read in place from the padded input (few channels, C = 1..4): random windows 1×1 to 7×7, strides 1 or 2
        /// per axis, dilation 1 or 2 down, pads from none to past the window (whole padded rows and columns), images from one
        /// pixel to several hundred, odd and even rows of cells (the last pair reads the cell past the row, weight 0): every
        /// path, scalar included, gives the bytes of the plain convolution, in both requantization modes, with one and two threads.
        /// </summary>
        [Fact]
        public void KernelRowsGiveThePlainConvolutionOnEveryPathInBothRequantizationModes()
        {
            var random = new Random(37);
            var paths = Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported).ToArray();
            int compared = 0, oddRows = 0, dilated = 0, padPastWindow = 0, split = 0, unevenStrides = 0;
            for (int trial = 0; trial < 160; trial++)
            {
                bool floatScales = random.Next(2) == 0;
                int kernelH = random.Next(1, 8), kernelW = random.Next(1, 8), channels = random.Next(1, 5);
                int strideH = random.Next(1, 3), strideW = random.Next(1, 3), dilation = random.Next(3) == 0 ? 2 : 1;
                int padTop = random.Next(0, kernelH + 2), padLeft = random.Next(0, kernelW + 2);
                int inH = random.Next(1, 36), inW = random.Next(1, 36), outChannels = random.Next(1, 70);
                int outH = (inH + 2 * padTop - ((kernelH - 1) * dilation + 1)) / strideH + 1;
                int outW = (inW + 2 * padLeft - kernelW) / strideW + 1;
                if (outH < 1 || outW < 1) continue;
                int taps = kernelH * kernelW;
                var g = new ConvolutionGeometry(inH, inW, channels, outH, outW, outChannels, kernelH, kernelW, strideH, strideW, dilation, 1,
                    padTop, padLeft, random.Next(-128, 128), random.Next(-128, 128), random.Next(-128, -50), random.Next(50, 128), KernelRows: true);
                var w = new int[outChannels, channels, taps];
                for (int m = 0; m < outChannels; m++)
                    for (int c = 0; c < channels; c++)
                        for (int t = 0; t < taps; t++)
                            w[m, c, t] = random.Next(-127, 128);
                int padded = g.ChannelBlocks * Block;
                var bias = Enumerable.Range(0, padded).Select(_ => random.Next(-50_000, 50_000)).ToArray();
                var multiplier = Enumerable.Range(0, padded).Select(_ => random.Next(1 << 30, int.MaxValue)).ToArray();
                var shift = Enumerable.Range(0, padded).Select(_ => random.Next(-11, 3)).ToArray();
                var leftShift = shift.Select(e => Math.Max(0, e)).ToArray();
                var rightShift = shift.Select(e => Math.Max(0, -e)).ToArray();
                var scale = Enumerable.Range(0, padded).Select(_ => (float)(random.NextDouble() * 1e-3)).ToArray();
                var x = new sbyte[inH * inW * channels];
                random.NextBytes((byte[])(object)x);

                var expected = Plain(x, w, bias, multiplier, shift, floatScales ? scale : null, g);
                var packed = PackPairs(w, g);
                foreach (var path in paths)
                    foreach (int threads in new[] { 1, 2 })
                    {
                        using var pinned = KernelPathScope.Use(path);
                        KernelThreads.Count = threads;
                        try
                        {
                            var y = new sbyte[g.OutputPixels * outChannels];
                            // Garbage scratch: every cell the kernel reads must be written first.
                            var scratch = Enumerable.Range(0, g.ScratchLength(depthwise: false)).Select(_ => (short)random.Next(short.MinValue, short.MaxValue)).ToArray();
                            if (floatScales) Int8Convolution.Dense(x, y, scratch, packed, bias, scale, g);
                            else Int8Convolution.Dense(x, y, scratch, packed, bias, multiplier, leftShift, rightShift, g);
                            Assert.True(expected.AsSpan().SequenceEqual(y), $"{path} with {threads} thread(s) differs from the plain convolution on {g} (float: {floatScales})");
                        }
                        finally { KernelThreads.Count = 1; }
                        compared++;
                    }
                if (kernelW * channels % 2 == 1) oddRows++;
                if (dilation > 1) dilated++;
                if (padTop >= kernelH || padLeft >= kernelW) padPastWindow++;
                if (strideH != strideW) unevenStrides++;
                if ((long)g.OutputPixels * outChannels * taps * channels >= KernelThreads.MinimumMacs && g.OutputPixels >= 24) split++;
            }
            Assert.True(compared >= 100 * 2 * paths.Length, $"only {compared} comparisons");
            Assert.True(oddRows >= 20 && dilated >= 10 && padPastWindow >= 10 && unevenStrides >= 20 && split >= 5,
                $"{oddRows} odd kernel rows, {dilated} dilated, {padPastWindow} padded past the window, {unevenStrides} uneven strides, {split} split between threads");
        }

        /// <summary>acc = bias + Σ w·(x − z_in) over the taps inside the image, then the scalar requantization.</summary>
        private static sbyte[] Plain(sbyte[] x, int[,,] w, int[] bias, int[] multiplier, int[] shift, float[]? scale, in ConvolutionGeometry g)
        {
            var y = new sbyte[g.OutputPixels * g.OutChannels];
            for (int oy = 0; oy < g.OutHeight; oy++)
                for (int ox = 0; ox < g.OutWidth; ox++)
                    for (int m = 0; m < g.OutChannels; m++)
                    {
                        int acc = bias[m];
                        for (int ky = 0; ky < g.KernelHeight; ky++)
                            for (int kx = 0; kx < g.KernelWidth; kx++)
                            {
                                int iy = oy * g.StrideHeight - g.PadTop + ky * g.DilationHeight, ix = ox * g.StrideWidth - g.PadLeft + kx * g.DilationWidth;
                                if ((uint)iy >= (uint)g.InHeight || (uint)ix >= (uint)g.InWidth) continue;
                                for (int c = 0; c < g.InChannels; c++)
                                    acc += w[m, c, ky * g.KernelWidth + kx] * (x[(iy * g.InWidth + ix) * g.InChannels + c] - g.InputZeroPoint);
                            }
                        int v = scale != null
                            ? FloatRequantization.Requantize(acc, scale[m], g.OutputZeroPoint, g.ClampMin, g.ClampMax)
                            : Math.Clamp(g.OutputZeroPoint + FixedPoint.MultiplyByQuantizedMultiplier(acc, multiplier[m], shift[m]), g.ClampMin, g.ClampMax);
                        y[(oy * g.OutWidth + ox) * g.OutChannels + m] = (sbyte)v;
                    }
            return y;
        }

        /// <summary>The reduction index k of the kernel's packing: t·C + c over the window with patches, kx·C + c over kernel row t with kernel rows, c per tap otherwise.</summary>
        private static int Logical(int[,,] w, in ConvolutionGeometry g, int m, int t, int k)
        {
            if (m >= g.OutChannels) return 0;
            if (g.KernelRows) return k < g.KernelWidth * g.InChannels ? w[m, k % g.InChannels, t * g.KernelWidth + k / g.InChannels] : 0;
            if (!g.Patches) return k < g.InChannels ? w[m, k, t] : 0;
            return k < g.Taps * g.InChannels ? w[m, k % g.InChannels, k / g.InChannels] : 0;
        }

        /// <summary>[block][weight tap][pair][16 channels] int16 pairs.</summary>
        private static int[] PackPairs(int[,,] w, in ConvolutionGeometry g)
        {
            var packed = new int[g.DenseWeightLength];
            int taps = g.WeightTaps, pairs = g.ReductionPairs;
            for (int block = 0; block < g.ChannelBlocks; block++)
                for (int t = 0; t < taps; t++)
                    for (int pair = 0; pair < pairs; pair++)
                        for (int lane = 0; lane < Block; lane++)
                        {
                            int m = block * Block + lane;
                            packed[((block * taps + t) * pairs + pair) * Block + lane] = (ushort)(short)Logical(w, g, m, t, 2 * pair) | Logical(w, g, m, t, 2 * pair + 1) << 16;
                        }
            return packed;
        }

        /// <summary>[block][weight tap][quad][16 channels] words of four int8.</summary>
        private static int[] PackQuads(int[,,] w, in ConvolutionGeometry g)
        {
            var packed = new int[g.ByteWeightLength];
            int taps = g.WeightTaps, quads = g.Patches ? g.WindowQuads : g.ChannelQuads;
            for (int block = 0; block < g.ChannelBlocks; block++)
                for (int t = 0; t < taps; t++)
                    for (int quad = 0; quad < quads; quad++)
                        for (int lane = 0; lane < Block; lane++)
                            for (int j = 0; j < 4; j++)
                                packed[((block * taps + t) * quads + quad) * Block + lane] |= (byte)(sbyte)Logical(w, g, block * Block + lane, t, 4 * quad + j) << (8 * j);
            return packed;
        }
    }
}
