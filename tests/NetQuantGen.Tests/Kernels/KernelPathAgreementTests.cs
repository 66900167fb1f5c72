using System;
using System.Linq;
using NetQuantGen.Runtime.Kernels;
using Xunit;

namespace NetQuantGen.Tests.Kernels
{
    /// <summary>
    /// The runtime convolution kernels called directly on random geometries (tiny and odd images, padding, stride 2,
    /// channel counts that are not multiples of a vector, fewer pixels than a register tile, patches, depthwise) with
    /// buffers of exactly the length the geometry states: every supported vector path gives the scalar path's bytes.
    /// An out-of-bounds read would show as a difference, an out-of-bounds write as a difference or a crash.
    /// </summary>
    public class KernelPathAgreementTests
    {
        [Fact]
        public void EveryVectorPathMatchesTheScalarKernelOnRandomGeometries()
        {
            var random = new Random(3);
            var paths = Enum.GetValues<KernelPath>().Where(p => p != KernelPath.Scalar && KernelPaths.IsSupported(p)).ToArray();
            int compared = 0;
            for (int trial = 0; trial < 300; trial++)
            {
                int kernel = random.Next(1, 4), stride = random.Next(1, 3), pad = random.Next(0, kernel);
                bool depthwise = random.Next(4) == 0, patches = !depthwise && random.Next(3) == 0;
                int inH = random.Next(1, 9), inW = random.Next(1, 9), channels = random.Next(1, 40);
                int outChannels = depthwise ? channels : random.Next(1, 70);
                int outH = (inH + 2 * pad - kernel) / stride + 1, outW = (inW + 2 * pad - kernel) / stride + 1;
                if (outH < 1 || outW < 1) continue;
                var g = new ConvolutionGeometry(inH, inW, channels, outH, outW, outChannels, kernel, kernel, stride, stride, 1, 1, pad, pad,
                    random.Next(-128, 128), random.Next(-128, 128), -128, 127, patches);
                var x = new sbyte[inH * inW * channels];
                random.NextBytes((byte[])(object)x);
                var weights = new int[depthwise ? g.DepthwiseWeightLength : g.DenseWeightLength];
                for (int i = 0; i < weights.Length; i++)
                    weights[i] = depthwise ? random.Next(-127, 128) : (ushort)(short)random.Next(-127, 128) | random.Next(-127, 128) << 16;
                int padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
                var bias = Enumerable.Range(0, padded).Select(_ => random.Next(-50_000, 50_000)).ToArray();
                var multiplier = Enumerable.Range(0, padded).Select(_ => random.Next(1 << 30, int.MaxValue)).ToArray();
                var leftShift = new int[padded];
                var rightShift = Enumerable.Range(0, padded).Select(_ => random.Next(0, 12)).ToArray();

                sbyte[] Convolve(KernelPath path)
                {
                    using var pinned = KernelPathScope.Use(path);
                    var y = new sbyte[g.OutputPixels * outChannels];
                    var scratch = new short[g.ScratchLength(depthwise)];
                    if (depthwise) Int8Convolution.Depthwise(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g);
                    else Int8Convolution.Dense(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g);
                    return y;
                }

                var expected = Convolve(KernelPath.Scalar);
                foreach (var path in paths)
                {
                    Assert.True(expected.AsSpan().SequenceEqual(Convolve(path)), $"{path} differs from scalar on {g} (depthwise: {depthwise})");
                    compared++;
                }
            }
            Assert.True(compared >= 100 * paths.Length, $"only {compared} comparisons");
        }

        /// <summary>
        /// The uint8 × int8 kernel with 4-bit weights (every run length used here is within what the proof accepts for
        /// them), on random geometries: every path, scalar included, gives the bytes of the exact int16 kernel on the
        /// same logical weights, with the bias holding −(z_in + 128)·Σw as the compiler bakes it.
        /// </summary>
        [Fact]
        public void ByteKernelEqualsTheExactKernelOnEveryPathOnRandomGeometries()
        {
            var random = new Random(7);
            var paths = Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported).ToArray();
            int compared = 0;
            for (int trial = 0; trial < 200; trial++)
            {
                int kernel = random.Next(1, 4), stride = random.Next(1, 3), pad = random.Next(0, kernel);
                int inH = random.Next(1, 9), inW = random.Next(1, 9), channels = random.Next(1, 70), outChannels = random.Next(1, 70);
                int outH = (inH + 2 * pad - kernel) / stride + 1, outW = (inW + 2 * pad - kernel) / stride + 1;
                if (outH < 1 || outW < 1) continue;
                int zeroPoint = random.Next(-128, 128), taps = kernel * kernel;
                var exact = new ConvolutionGeometry(inH, inW, channels, outH, outW, outChannels, kernel, kernel, stride, stride, 1, 1, pad, pad,
                    zeroPoint, random.Next(-128, 128), -128, 127);
                // With patches the byte kernel reduces over the whole window (an im2col of offset bytes); the exact kernel per tap.
                bool patches = random.Next(2) == 0;
                var bytes = exact with { ByteGroup = new[] { 1, 2, 4, 8 }[random.Next(4)], Patches = patches };
                // Logical weights [m][c][t] in the 4-bit range, packed for each kernel.
                var w = new int[outChannels, channels, taps];
                foreach (var (m, c, t) in from m in Enumerable.Range(0, outChannels) from c in Enumerable.Range(0, channels) from t in Enumerable.Range(0, taps) select (m, c, t))
                    w[m, c, t] = random.Next(-7, 8);
                int At(int m, int c, int t) => m < outChannels && c < channels ? w[m, c, t] : 0;
                const int Block = ConvolutionGeometry.BlockChannels;
                var pairs = new int[exact.DenseWeightLength];
                for (int block = 0; block < exact.ChannelBlocks; block++)
                    for (int t = 0; t < taps; t++)
                        for (int pair = 0; pair < exact.ChannelPairs; pair++)
                            for (int lane = 0; lane < Block; lane++)
                                pairs[((block * taps + t) * exact.ChannelPairs + pair) * Block + lane] =
                                    (ushort)(short)At(block * Block + lane, 2 * pair, t) | At(block * Block + lane, 2 * pair + 1, t) << 16;
                var quads = new int[bytes.ByteWeightLength];
                int weightTaps = patches ? 1 : taps, quadsPerTap = patches ? bytes.WindowQuads : bytes.ChannelQuads;
                int Reduced(int m, int t, int k) => !patches ? At(m, k, t) : k < taps * channels ? At(m, k % channels, k / channels) : 0;
                for (int block = 0; block < bytes.ChannelBlocks; block++)
                    for (int t = 0; t < weightTaps; t++)
                        for (int quad = 0; quad < quadsPerTap; quad++)
                            for (int lane = 0; lane < Block; lane++)
                                for (int j = 0; j < 4; j++)
                                    quads[((block * weightTaps + t) * quadsPerTap + quad) * Block + lane] |= (byte)(sbyte)Reduced(block * Block + lane, t, 4 * quad + j) << (8 * j);
                int padded = exact.ChannelBlocks * Block;
                var bias = Enumerable.Range(0, padded).Select(_ => random.Next(-50_000, 50_000)).ToArray();
                var foldedBias = bias.Select((b, m) => b - (zeroPoint + 128) * Enumerable.Range(0, channels).Sum(c => Enumerable.Range(0, taps).Sum(t => At(m, c, t)))).ToArray();
                var multiplier = Enumerable.Range(0, padded).Select(_ => random.Next(1 << 30, int.MaxValue)).ToArray();
                var leftShift = new int[padded];
                var rightShift = Enumerable.Range(0, padded).Select(_ => random.Next(0, 10)).ToArray();
                var x = new sbyte[inH * inW * channels];
                random.NextBytes((byte[])(object)x);

                sbyte[] Convolve(KernelPath path, in ConvolutionGeometry g, int[] weights, int[] b)
                {
                    using var pinned = KernelPathScope.Use(path);
                    var y = new sbyte[g.OutputPixels * outChannels];
                    Int8Convolution.Dense(x, y, new short[g.ScratchLength(depthwise: false)], weights, b, multiplier, leftShift, rightShift, g);
                    return y;
                }

                var expected = Convolve(KernelPath.Scalar, exact, pairs, bias);
                foreach (var path in paths)
                {
                    Assert.True(expected.AsSpan().SequenceEqual(Convolve(path, bytes, quads, foldedBias)), $"byte kernel on {path} differs from the exact kernel on {bytes}");
                    compared++;
                }
            }
            Assert.True(compared >= 100 * paths.Length, $"only {compared} comparisons");
        }

        /// <summary>Max and average pooling (padding, strides, dilation, count_include_pad, channel counts around the vector widths): every path gives the scalar bytes.</summary>
        [Fact]
        public void PoolingPathsMatchTheScalarKernelOnRandomGeometries()
        {
            var random = new Random(11);
            var paths = Enum.GetValues<KernelPath>().Where(p => p != KernelPath.Scalar && KernelPaths.IsSupported(p)).ToArray();
            for (int trial = 0; trial < 200; trial++)
            {
                // Pads of at most half the window, so that every window keeps a valid tap to average.
                int kernel = random.Next(1, 4), stride = random.Next(1, 3), dilation = random.Next(1, 3), pad = random.Next(0, (kernel + 1) / 2);
                int inH = random.Next(1, 9), inW = random.Next(1, 9), channels = random.Next(1, 80);
                int span = (kernel - 1) * dilation + 1;
                int outH = (inH + 2 * pad - span) / stride + 1, outW = (inW + 2 * pad - span) / stride + 1;
                if (outH < 1 || outW < 1) continue;
                var g = new PoolGeometry(inH, inW, channels, outH, outW, kernel, kernel, stride, stride, dilation, dilation, pad, pad, pad, pad,
                    random.Next(-128, 128), random.Next(2) == 0);
                var x = new sbyte[inH * inW * channels];
                random.NextBytes((byte[])(object)x);
                bool average = random.Next(2) == 0;

                sbyte[] Pool(KernelPath path)
                {
                    using var pinned = KernelPathScope.Use(path);
                    var y = new sbyte[outH * outW * channels];
                    if (average) Int8Pooling.Average(x, y, g); else Int8Pooling.Max(x, y, g);
                    return y;
                }

                var expected = Pool(KernelPath.Scalar);
                foreach (var path in paths)
                    Assert.True(expected.AsSpan().SequenceEqual(Pool(path)), $"{(average ? "average" : "max")} pooling on {path} differs from scalar on {g}");
            }
        }

        /// <summary>
        /// Max pooling against the plain maximum over the window's taps inside the image (int8 minimum for a window wholly in
        /// the padding) on every path, scalar included: windows 1×1 to 4×4, strides 1 to 3, dilation, pads up to past the
        /// window on each side, channel counts that use every vector width and a scalar tail.
        /// </summary>
        [Fact]
        public void MaxPoolingGivesThePlainMaximumOverTheValidTapsOnEveryPath()
        {
            var random = new Random(19);
            var paths = Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported).ToArray();
            int compared = 0, emptyWindows = 0;
            for (int trial = 0; trial < 200; trial++)
            {
                int kernelH = random.Next(1, 5), kernelW = random.Next(1, 5), strideH = random.Next(1, 4), strideW = random.Next(1, 4);
                int dilationH = random.Next(1, 3), dilationW = random.Next(1, 3), padTop = random.Next(0, kernelH + 2), padLeft = random.Next(0, kernelW + 2);
                int inH = random.Next(1, 12), inW = random.Next(1, 12), channels = random.Next(1, 141);
                int outH = (inH + 2 * padTop - ((kernelH - 1) * dilationH + 1)) / strideH + 1, outW = (inW + 2 * padLeft - ((kernelW - 1) * dilationW + 1)) / strideW + 1;
                if (outH < 1 || outW < 1) continue;
                var g = new PoolGeometry(inH, inW, channels, outH, outW, kernelH, kernelW, strideH, strideW, dilationH, dilationW, padTop, padLeft, padTop, padLeft,
                    random.Next(-128, 128), false);
                var x = new sbyte[inH * inW * channels];
                random.NextBytes((byte[])(object)x);
                var expected = new sbyte[outH * outW * channels];
                for (int oy = 0; oy < outH; oy++)
                    for (int ox = 0; ox < outW; ox++)
                        for (int c = 0; c < channels; c++)
                        {
                            int max = sbyte.MinValue;
                            bool any = false;
                            for (int ky = 0; ky < kernelH; ky++)
                                for (int kx = 0; kx < kernelW; kx++)
                                {
                                    int iy = oy * strideH - padTop + ky * dilationH, ix = ox * strideW - padLeft + kx * dilationW;
                                    if ((uint)iy >= (uint)inH || (uint)ix >= (uint)inW) continue;
                                    max = Math.Max(max, x[(iy * inW + ix) * channels + c]);
                                    any = true;
                                }
                            if (!any && c == 0) emptyWindows++;
                            expected[(oy * outW + ox) * channels + c] = (sbyte)max;
                        }
                foreach (var path in paths)
                {
                    using var pinned = KernelPathScope.Use(path);
                    var y = new sbyte[expected.Length];
                    Int8Pooling.Max(x, y, g);
                    Assert.True(expected.AsSpan().SequenceEqual(y), $"max pooling on {path} differs from the plain maximum on {g}");
                    compared++;
                }
            }
            Assert.True(compared >= 100 * paths.Length && emptyWindows >= 5, $"only {compared} comparisons, {emptyWindows} windows wholly in the padding");
        }

        /// <summary>
        /// The integer add on every path (AVX-512 and AVX2 gathers, the scalar lookups of the other paths and the tails)
        /// against the scalar definition, with multipliers and shifts over their whole baked range, every pair of int8
        /// inputs and clamps inside int8: each path reads the element of its own inputs from the add's table.
        /// </summary>
        [Fact]
        public void AddPathsMatchTheScalarDefinitionOverTheWholeParameterRange()
        {
            var random = new Random(13);
            var paths = Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported).ToArray();
            // Every pair of int8 values, so every rounding case of each parameter set is met; a tail shorter than a vector.
            var a = new sbyte[256 * 256 + 13];
            var b = new sbyte[256 * 256 + 13];
            for (int i = 0; i < a.Length; i++) { a[i] = (sbyte)(i >> 8); b[i] = (sbyte)i; }
            for (int trial = 0; trial < 40; trial++)
            {
                var p = new AddParameters(LeftShift: random.Next(0, 21),
                    ZeroPointA: random.Next(-128, 128), MultiplierA: random.Next(1 << 30, int.MaxValue), ShiftA: -random.Next(0, 31),
                    ZeroPointB: random.Next(-128, 128), MultiplierB: random.Next(1 << 30, int.MaxValue), ShiftB: -random.Next(0, 31),
                    OutputZeroPoint: random.Next(-128, 128), OutputMultiplier: random.Next(1 << 30, int.MaxValue), OutputShift: random.Next(-31, 2),
                    ClampMin: -128, ClampMax: 127);
                // Half the trials clamp inside int8 (a fused ReLU or ReLU6).
                if (trial % 2 == 1) p = p with { ClampMin = random.Next(-128, 0), ClampMax = random.Next(0, 128) };
                var table = new AddTable(p);
                var expected = a.Select((x, i) => (sbyte)p.Apply(x, b[i])).ToArray();
                foreach (var path in paths)
                {
                    using var pinned = KernelPathScope.Use(path);
                    var y = new sbyte[a.Length];
                    Int8Add.Run(a, b, y, table);
                    Assert.True(expected.AsSpan().SequenceEqual(y), $"add on {path} differs from the scalar definition with {p}");
                }
            }
        }

        /// <summary>
        /// Opt-in parallelism: layers large enough to be split (dense, byte and depthwise kernels, pixel counts that do not
        /// divide into the threads' tiles) give the single-threaded bytes on every vector path for 2, 3 and 4 threads.
        /// </summary>
        [Fact]
        public void ParallelLayersAreBitIdenticalToSingleThreadedOnes()
        {
            var random = new Random(17);
            var paths = Enum.GetValues<KernelPath>().Where(p => p != KernelPath.Scalar && KernelPaths.IsSupported(p)).ToArray();
            foreach (var kind in new[] { "dense", "bytes", "depthwise" })
            {
                bool depthwise = kind == "depthwise";
                int channels = depthwise ? 64 : 40, outChannels = depthwise ? 64 : 72, size = depthwise ? 61 : 23;
                var g = new ConvolutionGeometry(size, size, channels, size, size, outChannels, 3, 3, 1, 1, 1, 1, 1, 1, -5, 3, -128, 127,
                    ByteGroup: kind == "bytes" ? 2 : 0);
                Assert.True((long)g.OutputPixels * outChannels * 9 * (depthwise ? 1 : channels) >= KernelThreads.MinimumMacs, "too small to be split");
                var x = new sbyte[size * size * channels];
                random.NextBytes((byte[])(object)x);
                // 4-bit weights, in which runs of two quads are safe for the byte kernel.
                var weights = new int[depthwise ? g.DepthwiseWeightLength : kind == "bytes" ? g.ByteWeightLength : g.DenseWeightLength];
                for (int i = 0; i < weights.Length; i++)
                    weights[i] = depthwise ? random.Next(-127, 128)
                        : kind == "bytes" ? (byte)random.Next(-7, 8) | (byte)random.Next(-7, 8) << 8 | (byte)random.Next(-7, 8) << 16 | random.Next(-7, 8) << 24
                        : (ushort)(short)random.Next(-127, 128) | random.Next(-127, 128) << 16;
                int padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
                var bias = Enumerable.Range(0, padded).Select(_ => random.Next(-50_000, 50_000)).ToArray();
                var multiplier = Enumerable.Range(0, padded).Select(_ => random.Next(1 << 30, int.MaxValue)).ToArray();
                var rightShift = Enumerable.Range(0, padded).Select(_ => random.Next(0, 12)).ToArray();
                foreach (var path in paths)
                {
                    sbyte[] Convolve(int threads)
                    {
                        using var pinned = KernelPathScope.Use(path);
                        KernelThreads.Count = threads;
                        try
                        {
                            var y = new sbyte[g.OutputPixels * outChannels];
                            var scratch = new short[g.ScratchLength(depthwise)];
                            if (depthwise) Int8Convolution.Depthwise(x, y, scratch, weights, bias, multiplier, new int[padded], rightShift, g);
                            else Int8Convolution.Dense(x, y, scratch, weights, bias, multiplier, new int[padded], rightShift, g);
                            return y;
                        }
                        finally { KernelThreads.Count = 1; }
                    }

                    var single = Convolve(1);
                    foreach (int threads in new[] { 2, 3, 4 })
                        Assert.True(single.AsSpan().SequenceEqual(Convolve(threads)), $"{kind} on {path} with {threads} threads differs from one thread");
                }
            }
        }
    }
}
