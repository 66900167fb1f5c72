using System;
using System.Linq;
using NetQuantGen.Runtime.Kernels;
using Xunit;

namespace NetQuantGen.Tests.Kernels
{
    /// <summary>
    /// The int8 depthwise kernel, which walks each output row as a border, an interior run (several pixels summed at once,
    /// chunks of at most 64 pixels, a remainder of fewer than a tile) and a border again, on random geometries that reach
    /// every part of that: rows from 1 to 150 pixels, non-square kernels up to 5×5, strides and dilations up to 3 across and
    /// down, padding from none to more than the window, channel counts that are whole blocks of sixteen (the vector paths then
    /// read the int8 input itself, the zero-point folded into the sums) and ones that are not multiples of a vector, fixed-point and
    /// float requantization, a fused residual add, and the parallel mode (threads that start and end inside a row).
    /// Every path gives the bytes of the scalar kernel, without the add, then the add's scalar definition element by element.
    /// </summary>
    public class DepthwiseKernelTests
    {
        [Fact]
        public void EveryPathMatchesTheScalarKernelOnLongRowsStridesDilationsPaddingAndThreads()
        {
            var random = new Random(23);
            var paths = Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported).ToArray();
            int compared = 0, parallel = 0;
            for (int trial = 0; trial < 160; trial++)
            {
                bool large = trial % 8 == 7;
                int kh = random.Next(1, 6), kw = random.Next(1, 6), sh = random.Next(1, 4), sw = random.Next(1, 4), dh = random.Next(1, 4), dw = random.Next(1, 4);
                int padTop = random.Next(0, (kh - 1) * dh + 2), padLeft = random.Next(0, (kw - 1) * dw + 2);
                int padBottom = random.Next(0, (kh - 1) * dh + 2), padRight = random.Next(0, (kw - 1) * dw + 2);
                int inH = large ? random.Next(60, 80) : random.Next(1, 20), inW = large ? random.Next(60, 90) : random.Next(1, 151);
                // Whole blocks of sixteen (half the time) make the vector paths read the int8 input itself, z_in folded into the sums.
                int channels = random.Next(2) == 0 ? 16 * random.Next(large ? 3 : 1, 5) : large ? random.Next(40, 70) : random.Next(1, 70);
                if (large) (kh, kw, sh, sw, dh, dw, padTop, padLeft, padBottom, padRight) = (3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
                int outH = (inH + padTop + padBottom - (kh - 1) * dh - 1) / sh + 1, outW = (inW + padLeft + padRight - (kw - 1) * dw - 1) / sw + 1;
                if (outH < 1 || outW < 1 || inH + padTop + padBottom < (kh - 1) * dh + 1 || inW + padLeft + padRight < (kw - 1) * dw + 1) continue;
                int zeroOut = random.Next(-128, 128);
                var g = new ConvolutionGeometry(inH, inW, channels, outH, outW, channels, kh, kw, sh, sw, dh, dw, padTop, padLeft,
                    random.Next(-128, 128), zeroOut, random.Next(2) == 0 ? -128 : random.Next(-128, zeroOut + 1), random.Next(2) == 0 ? 127 : random.Next(zeroOut, 128));
                var x = new sbyte[inH * inW * channels];
                random.NextBytes((byte[])(object)x);
                var weights = Enumerable.Range(0, g.DepthwiseWeightLength).Select(_ => random.Next(-127, 128)).ToArray();
                int padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
                var bias = Enumerable.Range(0, padded).Select(_ => random.Next(-50_000, 50_000)).ToArray();
                var multiplier = Enumerable.Range(0, padded).Select(_ => random.Next(1 << 30, int.MaxValue)).ToArray();
                // Mostly right shifts; some channels scaled up (left shifts), as multipliers above one give.
                var leftShift = Enumerable.Range(0, padded).Select(_ => random.Next(5) == 0 ? random.Next(1, 3) : 0).ToArray();
                var rightShift = leftShift.Select(l => l > 0 ? 0 : random.Next(0, 14)).ToArray();
                var scale = random.Next(4) == 0 ? Enumerable.Range(0, padded).Select(_ => (float)(random.NextDouble() * 2e-3)).ToArray() : null;
                var skip = new sbyte[g.OutputPixels * channels];
                random.NextBytes((byte[])(object)skip);
                var add = random.Next(3) == 0 ? ResidualAddKernelTests.RandomAdd(random) : (AddParameters?)null;
                var table = add == null ? null : new AddTable(add.Value);
                int threads = large ? random.Next(2, 4) : 1;
                Assert.True(!large || (long)g.OutputPixels * channels * 9 >= KernelThreads.MinimumMacs, "too small to be split");

                sbyte[] Convolve(KernelPath path, bool fused, int threadCount)
                {
                    using var pinned = KernelPathScope.Use(path);
                    KernelThreads.Count = threadCount;
                    try
                    {
                        var y = new sbyte[g.OutputPixels * channels];
                        var scratch = new short[g.ScratchLength(depthwise: true)];
                        if (scale != null) Int8Convolution.Depthwise(x, y, scratch, weights, bias, scale, g);
                        else if (fused) Int8Convolution.Depthwise(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g, skip, table!);
                        else Int8Convolution.Depthwise(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g);
                        return y;
                    }
                    finally { KernelThreads.Count = 1; }
                }

                bool withAdd = add != null && scale == null;
                var expected = Convolve(KernelPath.Scalar, fused: false, 1);
                if (withAdd)
                    for (int i = 0; i < expected.Length; i++) expected[i] = (sbyte)add!.Value.Apply(expected[i], skip[i]);
                foreach (var path in paths)
                {
                    Assert.True(expected.AsSpan().SequenceEqual(Convolve(path, withAdd, threads)),
                        $"{path} with {threads} thread(s) differs from scalar on {g} (add: {withAdd}, float: {scale != null})");
                    compared++;
                    if (threads > 1 && path != KernelPath.Scalar) parallel++;
                }
            }
            Assert.True(compared >= 120 * paths.Length, $"only {compared} comparisons");
            Assert.True(parallel >= 10, $"only {parallel} parallel comparisons");
        }
    }
}
