using System;
using System.Linq;
using NetQuantGen.Emit;
using NetQuantGen.Runtime.Kernels;
using Xunit;

namespace NetQuantGen.Tests.Kernels
{
    /// <summary>
    /// The residual add fused into a convolution's output stage against the unfused program: the same kernel without the
    /// add on the scalar path, then the add's scalar definition element by element. Every kernel (dense, patches, byte,
    /// depthwise, both Winograd tiles) on random geometries (output channels that are not a multiple of a vector, so the
    /// skip bytes of a straddling vector are read from a copy; fewer pixels than a register tile), every path, random but
    /// realistic add parameters with clamps at the int8 ends and inside them (a fused ReLU), and the parallel mode.
    /// </summary>
    public class ResidualAddKernelTests
    {
        private enum Kind { Dense, Patches, Bytes, Depthwise, Winograd, WinogradFourByTwo }

        /// <summary>Add parameters as the compiler derives them from two scales and an output scale: both input multipliers below one, a left shift of 20 (TFLite).</summary>
        internal static AddParameters RandomAdd(Random random)
        {
            int zeroOut = random.Next(-128, 128);
            int clampMin = random.Next(3) switch { 0 => -128, 1 => zeroOut, _ => random.Next(-128, zeroOut + 1) };
            int clampMax = random.Next(2) == 0 ? 127 : random.Next(Math.Max(clampMin, zeroOut), 128);
            return new AddParameters(LeftShift: 20,
                ZeroPointA: random.Next(-128, 128), MultiplierA: random.Next(1 << 30, int.MaxValue), ShiftA: -random.Next(0, 4),
                ZeroPointB: random.Next(-128, 128), MultiplierB: random.Next(1 << 30, int.MaxValue), ShiftB: -random.Next(0, 4),
                OutputZeroPoint: zeroOut, OutputMultiplier: random.Next(1 << 30, int.MaxValue), OutputShift: -random.Next(17, 22),
                ClampMin: clampMin, ClampMax: clampMax);
        }

        [Fact]
        public void FusedAddEqualsTheConvolutionThenTheAddOnEveryKernelAndPath()
        {
            var random = new Random(41);
            var paths = Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported).ToArray();
            var kinds = Enum.GetValues<Kind>();
            int compared = 0;
            for (int trial = 0; trial < 240; trial++)
            {
                var kind = kinds[trial % kinds.Length];
                bool winograd = kind == Kind.Winograd || kind == Kind.WinogradFourByTwo, depthwise = kind == Kind.Depthwise;
                int kernel = winograd ? 3 : random.Next(1, 4), stride = winograd ? 1 : random.Next(1, 3), pad = random.Next(0, winograd ? 2 : kernel);
                int inH = random.Next(1, 12), inW = random.Next(1, 12), channels = random.Next(1, 40);
                int outChannels = depthwise ? channels : random.Next(1, 70);
                int outH = (inH + 2 * pad - kernel) / stride + 1, outW = (inW + 2 * pad - kernel) / stride + 1;
                if (outH < 1 || outW < 1) continue;
                var g = new ConvolutionGeometry(inH, inW, channels, outH, outW, outChannels, kernel, kernel, stride, stride, 1, 1, pad, pad,
                    random.Next(-128, 128), random.Next(-128, 128), random.Next(2) == 0 ? -128 : random.Next(-128, 0), 127,
                    Patches: kind == Kind.Patches, ByteGroup: kind == Kind.Bytes ? 2 : 0);
                var tile = kind == Kind.WinogradFourByTwo ? WinogradTile.FourByTwo : WinogradTile.TwoByTwo;
                var weights = Weights(random, kind, g, pad);
                int padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
                var bias = Enumerable.Range(0, padded).Select(_ => random.Next(-50_000, 50_000)).ToArray();
                var multiplier = Enumerable.Range(0, padded).Select(_ => random.Next(1 << 30, int.MaxValue)).ToArray();
                var rightShift = Enumerable.Range(0, padded).Select(_ => random.Next(winograd ? 8 : 0, 12)).ToArray();
                var x = new sbyte[inH * inW * channels];
                random.NextBytes((byte[])(object)x);
                var skip = new sbyte[g.OutputPixels * outChannels];
                random.NextBytes((byte[])(object)skip);
                var add = RandomAdd(random);
                var table = new AddTable(add);

                sbyte[] Convolve(KernelPath path, bool fused)
                {
                    using var pinned = KernelPathScope.Use(path);
                    var y = new sbyte[g.OutputPixels * outChannels];
                    var scratch = new short[winograd ? Int8Winograd.ScratchLength(g, tile) : g.ScratchLength(depthwise)];
                    var leftShift = new int[padded];
                    switch (kind, fused)
                    {
                        case (Kind.Winograd or Kind.WinogradFourByTwo, true): Int8Winograd.Dense(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g, skip, table, tile); break;
                        case (Kind.Winograd or Kind.WinogradFourByTwo, false): Int8Winograd.Dense(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g, tile); break;
                        case (Kind.Depthwise, true): Int8Convolution.Depthwise(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g, skip, table); break;
                        case (Kind.Depthwise, false): Int8Convolution.Depthwise(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g); break;
                        case (_, true): Int8Convolution.Dense(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g, skip, table); break;
                        default: Int8Convolution.Dense(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g); break;
                    }
                    return y;
                }

                var expected = Convolve(KernelPath.Scalar, fused: false);
                for (int i = 0; i < expected.Length; i++) expected[i] = (sbyte)add.Apply(expected[i], skip[i]);
                foreach (var path in paths)
                {
                    Assert.True(expected.AsSpan().SequenceEqual(Convolve(path, fused: true)), $"{kind} with a fused add on {path} differs from the convolution then the add on {g}, {add}");
                    compared++;
                }
            }
            Assert.True(compared >= 200 * paths.Length, $"only {compared} comparisons");
        }

        /// <summary>Weights in the layout of each kernel: 4-bit for the byte kernel (runs of two quads are safe), full range otherwise.</summary>
        private static int[] Weights(Random random, Kind kind, in ConvolutionGeometry g, int pad)
        {
            if (kind is Kind.Winograd or Kind.WinogradFourByTwo)
            {
                // Full-range weights over at most 40 channels stay within both Winograd bounds.
                var c = WinogradKernelTests.Convolution(random, g.InHeight, g.InWidth, g.InChannels, g.OutChannels, new[] { pad, pad, pad, pad }, g.InputZeroPoint);
                return WeightPacking.Winograd(c, kind == Kind.WinogradFourByTwo);
            }
            var weights = new int[kind == Kind.Depthwise ? g.DepthwiseWeightLength : kind == Kind.Bytes ? g.ByteWeightLength : g.DenseWeightLength];
            for (int i = 0; i < weights.Length; i++)
                weights[i] = kind switch
                {
                    Kind.Depthwise => random.Next(-127, 128),
                    Kind.Bytes => (byte)random.Next(-7, 8) | (byte)random.Next(-7, 8) << 8 | (byte)random.Next(-7, 8) << 16 | random.Next(-7, 8) << 24,
                    _ => (ushort)(short)random.Next(-127, 128) | random.Next(-127, 128) << 16,
                };
            return weights;
        }

        /// <summary>A fused add in the opt-in parallel mode (threads split the pixels, or each Winograd block's tiles): 2 and 3 threads give one thread's bytes on every vector path.</summary>
        [Fact]
        public void FusedAddInParallelLayersIsBitIdenticalToOneThread()
        {
            var random = new Random(43);
            var paths = Enum.GetValues<KernelPath>().Where(p => p != KernelPath.Scalar && KernelPaths.IsSupported(p)).ToArray();
            foreach (bool winograd in new[] { false, true })
            {
                int channels = 40, outChannels = 72, size = 23;
                var g = new ConvolutionGeometry(size, size, channels, size, size, outChannels, 3, 3, 1, 1, 1, 1, 1, 1, -5, 3, -128, 127);
                Assert.True((long)g.OutputPixels * outChannels * 9 * channels >= KernelThreads.MinimumMacs, "too small to be split");
                var weights = winograd
                    ? WeightPacking.Winograd(WinogradKernelTests.Convolution(random, size, size, channels, outChannels, new[] { 1, 1, 1, 1 }, -5))
                    : Weights(random, Kind.Dense, g, 1);
                int padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
                var bias = Enumerable.Range(0, padded).Select(_ => random.Next(-50_000, 50_000)).ToArray();
                var multiplier = Enumerable.Range(0, padded).Select(_ => random.Next(1 << 30, int.MaxValue)).ToArray();
                var rightShift = Enumerable.Range(0, padded).Select(_ => random.Next(8, 12)).ToArray();
                var x = new sbyte[size * size * channels];
                random.NextBytes((byte[])(object)x);
                var skip = new sbyte[g.OutputPixels * outChannels];
                random.NextBytes((byte[])(object)skip);
                var table = new AddTable(RandomAdd(random));
                foreach (var path in paths)
                {
                    sbyte[] Convolve(int threads)
                    {
                        using var pinned = KernelPathScope.Use(path);
                        KernelThreads.Count = threads;
                        try
                        {
                            var y = new sbyte[g.OutputPixels * outChannels];
                            if (winograd) Int8Winograd.Dense(x, y, new short[Int8Winograd.ScratchLength(g)], weights, bias, multiplier, new int[padded], rightShift, g, skip, table);
                            else Int8Convolution.Dense(x, y, new short[g.ScratchLength(depthwise: false)], weights, bias, multiplier, new int[padded], rightShift, g, skip, table);
                            return y;
                        }
                        finally { KernelThreads.Count = 1; }
                    }

                    var single = Convolve(1);
                    foreach (int threads in new[] { 2, 3 })
                        Assert.True(single.AsSpan().SequenceEqual(Convolve(threads)), $"fused {(winograd ? "Winograd" : "dense")} on {path} with {threads} threads differs from one thread");
                }
            }
        }
    }
}
