using System;
using System.Linq;
using NetQuantGen.Emit;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using NetQuantGen.Runtime.Kernels;
using Xunit;

namespace NetQuantGen.Tests.Kernels
{
    /// <summary>
    /// The integer Winograd F(2×2, 3×3) kernel against the direct kernel on the same layer (weights packed by the compiler
    /// for each), on random geometries: odd and tiny images, one or two rows, odd input channels, output channels that are
    /// not a multiple of 16, padding 0 or 1 on each side, several blocks of tiles, both requantization modes. Every path,
    /// scalar included, gives the direct kernel's bytes; buffers have exactly the length the geometry states.
    /// </summary>
    public class WinogradKernelTests
    {
        /// <summary>A 3×3 stride-1 convolution with the given pads (top, left, bottom, right) and random full-range int8 weights.</summary>
        internal static QConvolution Convolution(Random random, int inH, int inW, int channels, int outChannels, int[] pads, int zeroPoint)
        {
            int outH = inH + pads[0] + pads[2] - 2, outW = inW + pads[1] + pads[3] - 2;
            var window = new Window(new[] { 3, 3 }, new[] { 1, 1 }, new[] { 1, 1 }, pads, AutoPad.NotSet, false);
            var weights = new sbyte[outChannels * channels * 9];
            for (int i = 0; i < weights.Length; i++) weights[i] = (sbyte)random.Next(-128, 128);
            return new QConvolution("conv", new QTensor("x", new[] { 1, channels, inH, inW }, 0.1f, zeroPoint), new QTensor("y", new[] { 1, outChannels, outH, outW }, 0.1f, 0),
                window, 1, weights, new[] { outChannels, channels, 3, 3 }, Enumerable.Repeat(0.01f, outChannels).ToArray(), new int[outChannels],
                Enumerable.Repeat(new IntegerIR.Requantization(1 << 30, -3), outChannels).ToArray(), -128, 127, fromGemm: false);
        }

        /// <summary>Per padded channel: bias, fixed-point multipliers and right shifts, float scales; and which of the two requantizations a trial uses.</summary>
        private static (int[] Bias, bool FloatScales, int[] Multiplier, int[] RightShift, float[] Scale) RandomOutputStage(Random random, int padded) => (
            Enumerable.Range(0, padded).Select(_ => random.Next(-50_000, 50_000)).ToArray(),
            random.Next(2) == 0,
            Enumerable.Range(0, padded).Select(_ => random.Next(1 << 30, int.MaxValue)).ToArray(),
            Enumerable.Range(0, padded).Select(_ => random.Next(8, 20)).ToArray(),
            Enumerable.Range(0, padded).Select(_ => (float)(random.NextDouble() * 1e-3)).ToArray());

        [Theory]
        [InlineData(WinogradTile.TwoByTwo)]
        [InlineData(WinogradTile.FourByTwo)]
        public void WinogradEqualsTheDirectKernelOnEveryPathOnRandomGeometries(WinogradTile tile)
        {
            bool wide = tile == WinogradTile.FourByTwo;
            var random = new Random(wide ? 24 : 23);
            var paths = Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported).ToArray();
            int compared = 0, multiBlock = 0;
            for (int trial = 0; trial < 160; trial++)
            {
                // Every eighth trial wide enough in channels and tiles to need several blocks of transformed tiles.
                bool large = trial % 8 == 0;
                int inH = large ? random.Next(10, 24) : random.Next(1, 10), inW = large ? random.Next(wide ? 20 : 10, wide ? 40 : 24) : random.Next(1, wide ? 14 : 10);
                // The 4×2 tile's bound 48·255·Σ|w| admits about 300 channels of full-range weights.
                int channels = large ? (wide ? random.Next(150, 280) : random.Next(300, 700)) : random.Next(1, 40), outChannels = random.Next(1, 70);
                var pads = Enumerable.Range(0, 4).Select(_ => random.Next(0, 2)).ToArray();
                int outH = inH + pads[0] + pads[2] - 2, outW = inW + pads[1] + pads[3] - 2;
                if (outH < 1 || outW < 1) continue;
                int zeroPoint = random.Next(-128, 128);
                var c = Convolution(random, inH, inW, channels, outChannels, pads, zeroPoint);
                Assert.True(WinogradProof.Holds(c, wide), "full-range weights over at most 700 channels (280 for the 4×2 tile) stay within the bound");
                var g = new ConvolutionGeometry(inH, inW, channels, outH, outW, outChannels, 3, 3, 1, 1, 1, 1, pads[0], pads[1],
                    zeroPoint, random.Next(-128, 128), random.Next(2) == 0 ? -128 : 0, 127);
                if (Int8Winograd.BlockTiles(g, tile) < Int8Winograd.TilesHigh(g) * Int8Winograd.TilesWide(g, tile)) multiBlock++;
                int padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
                var (bias, floatScales, multiplier, rightShift, scale) = RandomOutputStage(random, padded);
                var x = new sbyte[inH * inW * channels];
                random.NextBytes((byte[])(object)x);
                int[] direct = WeightPacking.Dense(c, patches: false), winograd = WeightPacking.Winograd(c, wide);
                Assert.Equal(Int8Winograd.WeightLength(g, tile), winograd.Length);

                sbyte[] Convolve(KernelPath path, bool useWinograd)
                {
                    using var pinned = KernelPathScope.Use(path);
                    var y = new sbyte[g.OutputPixels * outChannels];
                    if (useWinograd)
                    {
                        var scratch = new short[Int8Winograd.ScratchLength(g, tile)];
                        if (floatScales) Int8Winograd.Dense(x, y, scratch, winograd, bias, scale, g, tile);
                        else Int8Winograd.Dense(x, y, scratch, winograd, bias, multiplier, new int[padded], rightShift, g, tile);
                    }
                    else
                    {
                        var scratch = new short[g.ScratchLength(depthwise: false)];
                        if (floatScales) Int8Convolution.Dense(x, y, scratch, direct, bias, scale, g);
                        else Int8Convolution.Dense(x, y, scratch, direct, bias, multiplier, new int[padded], rightShift, g);
                    }
                    return y;
                }

                var expected = Convolve(KernelPath.Scalar, useWinograd: false);
                foreach (var path in paths)
                {
                    Assert.True(expected.AsSpan().SequenceEqual(Convolve(path, useWinograd: true)), $"Winograd {tile} on {path} differs from the direct kernel on {g} (float scales: {floatScales})");
                    compared++;
                }
            }
            Assert.True(compared >= 100 * paths.Length, $"only {compared} comparisons");
            Assert.True(multiBlock >= 10, $"only {multiBlock} layers with several blocks of tiles");
        }

        /// <summary>Opt-in parallelism (threads split the output channels of each block): 2, 3 and 4 threads give the single-threaded bytes on every vector path.</summary>
        [Theory]
        [InlineData(WinogradTile.TwoByTwo)]
        [InlineData(WinogradTile.FourByTwo)]
        public void ParallelWinogradLayersAreBitIdenticalToSingleThreadedOnes(WinogradTile tile)
        {
            var random = new Random(29);
            var paths = Enum.GetValues<KernelPath>().Where(p => p != KernelPath.Scalar && KernelPaths.IsSupported(p)).ToArray();
            var pads = new[] { 1, 1, 1, 1 };
            var c = Convolution(random, 25, 25, 40, 72, pads, -5);
            // 13×13 (2×2) or 13×7 (4×2) tiles: the threads' runs of whole register tiles leave a remainder for the last one.
            var g = new ConvolutionGeometry(25, 25, 40, 25, 25, 72, 3, 3, 1, 1, 1, 1, 1, 1, -5, 3, -128, 127);
            Assert.True((long)g.OutputPixels * 72 * 9 * 40 >= KernelThreads.MinimumMacs, "too small to be split");
            var x = new sbyte[25 * 25 * 40];
            random.NextBytes((byte[])(object)x);
            var weights = WeightPacking.Winograd(c, wide: tile == WinogradTile.FourByTwo);
            int padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
            var bias = Enumerable.Range(0, padded).Select(_ => random.Next(-50_000, 50_000)).ToArray();
            var multiplier = Enumerable.Range(0, padded).Select(_ => random.Next(1 << 30, int.MaxValue)).ToArray();
            var rightShift = Enumerable.Range(0, padded).Select(_ => random.Next(8, 20)).ToArray();
            foreach (var path in paths)
            {
                sbyte[] Convolve(int threads)
                {
                    using var pinned = KernelPathScope.Use(path);
                    KernelThreads.Count = threads;
                    try
                    {
                        var y = new sbyte[g.OutputPixels * 72];
                        Int8Winograd.Dense(x, y, new short[Int8Winograd.ScratchLength(g, tile)], weights, bias, multiplier, new int[padded], rightShift, g, tile);
                        return y;
                    }
                    finally { KernelThreads.Count = 1; }
                }

                var single = Convolve(1);
                foreach (int threads in new[] { 2, 3, 4 })
                    Assert.True(single.AsSpan().SequenceEqual(Convolve(threads)), $"Winograd {tile} on {path} with {threads} threads differs from one thread");
            }
        }

        /// <summary>
        /// The fused 2×2 max pooling stores, on every path and with one or two threads, the largest of each 2×2 block of the
        /// plain layer's outputs: even planes from 2×2 to 30×30, pads 0 or 1, both requantization modes, ReLU clamps.
        /// </summary>
        [Theory]
        [InlineData(WinogradTile.TwoByTwo)]
        [InlineData(WinogradTile.FourByTwo)]
        public void FusedMaxPoolingStoresTheLargestOfEachTwoByTwoBlockOnEveryPath(WinogradTile tile)
        {
            var random = new Random(tile == WinogradTile.FourByTwo ? 32 : 31);
            var paths = Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported).ToArray();
            int compared = 0, threaded = 0;
            for (int trial = 0; trial < 60; trial++)
            {
                bool large = trial % 6 == 0;
                int outH = 2 * random.Next(1, large ? 16 : 6), outW = 2 * random.Next(1, large ? 16 : 6);
                int channels = random.Next(1, large ? 200 : 40), outChannels = random.Next(1, 70);
                var pads = Enumerable.Range(0, 4).Select(_ => random.Next(0, 2)).ToArray();
                int inH = outH + 2 - pads[0] - pads[2], inW = outW + 2 - pads[1] - pads[3];
                int zeroPoint = random.Next(-128, 128);
                var c = Convolution(random, inH, inW, channels, outChannels, pads, zeroPoint);
                var g = new ConvolutionGeometry(inH, inW, channels, outH, outW, outChannels, 3, 3, 1, 1, 1, 1, pads[0], pads[1],
                    zeroPoint, random.Next(-128, 128), random.Next(2) == 0 ? -128 : random.Next(-128, 0), 127);
                int padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
                var (bias, floatScales, multiplier, rightShift, scale) = RandomOutputStage(random, padded);
                var x = new sbyte[inH * inW * channels];
                random.NextBytes((byte[])(object)x);
                var weights = WeightPacking.Winograd(c, tile == WinogradTile.FourByTwo);

                sbyte[] Convolve(KernelPath path, WinogradOutput store, int threads)
                {
                    using var pinned = KernelPathScope.Use(path);
                    KernelThreads.Count = threads;
                    try
                    {
                        var y = new sbyte[(store == WinogradOutput.Plain ? g.OutputPixels : g.OutputPixels / 4) * outChannels];
                        var scratch = new short[Int8Winograd.ScratchLength(g, tile)];
                        if (floatScales) Int8Winograd.Dense(x, y, scratch, weights, bias, scale, g, tile, store);
                        else Int8Winograd.Dense(x, y, scratch, weights, bias, multiplier, new int[padded], rightShift, g, tile, store);
                        return y;
                    }
                    finally { KernelThreads.Count = 1; }
                }

                var plain = Convolve(KernelPath.Scalar, WinogradOutput.Plain, 1);
                var expected = new sbyte[g.OutputPixels / 4 * outChannels];
                for (int py = 0; py < outH / 2; py++)
                    for (int px = 0; px < outW / 2; px++)
                        for (int m = 0; m < outChannels; m++)
                        {
                            int At(int dy, int dx) => plain[((2 * py + dy) * outW + 2 * px + dx) * outChannels + m];
                            expected[(py * (outW / 2) + px) * outChannels + m] = (sbyte)Math.Max(Math.Max(At(0, 0), At(0, 1)), Math.Max(At(1, 0), At(1, 1)));
                        }
                foreach (var path in paths)
                    foreach (int threads in path == KernelPath.Scalar || !large ? new[] { 1 } : new[] { 1, 2 })
                    {
                        Assert.True(expected.AsSpan().SequenceEqual(Convolve(path, WinogradOutput.MaxPoolTwoByTwo, threads)),
                            $"fused pooling with {tile} on {path}, {threads} thread(s), differs from pooling the plain outputs on {g} (float scales: {floatScales})");
                        compared++;
                        if (threads > 1) threaded++;
                    }
            }
            Assert.True(compared >= 60 * paths.Length && threaded >= 10, $"only {compared} comparisons, {threaded} with two threads");
        }

        [Fact]
        public void FusedMaxPoolingRejectsAnOddOutputPlane()
        {
            var g = new ConvolutionGeometry(5, 6, 8, 5, 6, 16, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, -128, 127);
            var perChannel = new int[16];
            Assert.Throws<ArgumentException>(() => Int8Winograd.Dense(new sbyte[5 * 6 * 8], new sbyte[5 * 6 * 16], new short[Int8Winograd.ScratchLength(g)],
                new int[Int8Winograd.WeightLength(g)], perChannel, perChannel, perChannel, perChannel, g, WinogradTile.TwoByTwo, WinogradOutput.MaxPoolTwoByTwo));
        }

        /// <summary>A layer run allocates nothing on any path (transform, GEMM and output buffers are the scratch and the stack).</summary>
        [Theory]
        [InlineData(WinogradTile.TwoByTwo)]
        [InlineData(WinogradTile.FourByTwo)]
        public void ARunAllocatesNothingOnAnyPath(WinogradTile tile)
        {
            // Below KernelThreads.MinimumMacs, so no thread count set elsewhere can make it go parallel.
            var g = new ConvolutionGeometry(9, 9, 24, 9, 9, 40, 3, 3, 1, 1, 1, 1, 1, 1, 7, -2, -128, 127);
            Assert.True((long)g.OutputPixels * 40 * 9 * 24 < KernelThreads.MinimumMacs);
            var x = new sbyte[9 * 9 * 24];
            var y = new sbyte[9 * 9 * 40];
            var scratch = new short[Int8Winograd.ScratchLength(g, tile)];
            var weights = new int[Int8Winograd.WeightLength(g, tile)];
            var perChannel = new int[g.ChannelBlocks * ConvolutionGeometry.BlockChannels];
            var scale = new float[perChannel.Length];
            foreach (var path in Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported))
            {
                using var pinned = KernelPathScope.Use(path);
                Int8Winograd.Dense(x, y, scratch, weights, perChannel, perChannel, perChannel, perChannel, g, tile);
                Int8Winograd.Dense(x, y, scratch, weights, perChannel, scale, g, tile);
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 4; i++)
                {
                    Int8Winograd.Dense(x, y, scratch, weights, perChannel, perChannel, perChannel, perChannel, g, tile);
                    Int8Winograd.Dense(x, y, scratch, weights, perChannel, scale, g, tile);
                }
                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        }

        [Fact]
        public void BuffersThatDoNotMatchTheGeometryAreRejected()
        {
            var g = new ConvolutionGeometry(5, 5, 8, 5, 5, 16, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, -128, 127);
            var x = new sbyte[5 * 5 * 8];
            var y = new sbyte[5 * 5 * 16];
            var weights = new int[Int8Winograd.WeightLength(g)];
            var perChannel = new int[16];
            Int8Winograd.Dense(x, y, new short[Int8Winograd.ScratchLength(g)], weights, perChannel, perChannel, perChannel, perChannel, g);
            Assert.Throws<ArgumentException>(() => Int8Winograd.Dense(x, y, new short[Int8Winograd.ScratchLength(g) - 1], weights, perChannel, perChannel, perChannel, perChannel, g));
            Assert.Throws<ArgumentException>(() => Int8Winograd.Dense(x, y, new short[Int8Winograd.ScratchLength(g)], weights.AsSpan(1), perChannel, perChannel, perChannel, perChannel, g));
            Assert.Throws<ArgumentException>(() => Int8Winograd.Dense(x, y.AsSpan(1), new short[Int8Winograd.ScratchLength(g)], weights, perChannel, perChannel, perChannel, perChannel, g));
            var strided = g with { StrideHeight = 2, StrideWidth = 2, OutHeight = 3, OutWidth = 3 };
            Assert.Throws<ArgumentException>(() => Int8Winograd.Dense(x, y, new short[Int8Winograd.ScratchLength(g)], weights, perChannel, perChannel, perChannel, perChannel, strided));
        }
    }
}
