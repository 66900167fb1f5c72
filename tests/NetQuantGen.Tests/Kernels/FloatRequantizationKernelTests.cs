using System;
using System.Linq;
using NetQuantGen.Runtime;
using NetQuantGen.Runtime.Kernels;
using Xunit;

namespace NetQuantGen.Tests.Kernels
{
    /// <summary>
    /// The float requantization (ONNX Runtime's arithmetic) in the runtime: its scalar definition rounds once, half to
    /// even, and its vector paths (convolution output stage, Add) give the scalar path's bytes, ties and float32
    /// conversion rounding of large accumulators included.
    /// </summary>
    public class FloatRequantizationKernelTests
    {
        private static readonly KernelPath[] VectorPaths = Enum.GetValues<KernelPath>().Where(p => p != KernelPath.Scalar && KernelPaths.IsSupported(p)).ToArray();

        [Theory]
        [InlineData(5, 0.5f, 0, 2)]            // 2.5 → 2: half to even, not away from zero
        [InlineData(7, 0.5f, 0, 4)]            // 3.5 → 4
        [InlineData(-5, 0.5f, 3, 1)]           // −2.5 → −2, plus the zero-point
        [InlineData(16777217, 1f / 16777216, 0, 1)] // float32(2^24 + 1) = 2^24: the conversion rounds before the multiply
        [InlineData(1000, 1f, -10, 127)]       // saturates at the int8 maximum
        [InlineData(-1000, 1f, 10, -128)]
        public void RequantizeRoundsOnceHalfToEvenAfterAFloat32Multiply(int acc, float scale, int zeroPoint, int expected) =>
            Assert.Equal(expected, FloatRequantization.Requantize(acc, scale, zeroPoint, -128, 127));

        [Fact]
        public void TheSoftwareFusedMultiplyAddIsCorrectlyRounded()
        {
            var random = new Random(17);
            for (int i = 0; i < 2_000_000; i++)
            {
                int x = random.Next(0, 256);
                float y = (float)(random.NextDouble() * Math.Pow(2, random.Next(-12, 8)));
                // z near −x·y makes the sum cancel, where a double rounding would show.
                float z = random.Next(3) == 0 ? -(float)(x * (double)y) + (float)(random.NextDouble() - 0.5) * 1e-3f
                    : (float)((random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-20, 10)));
                float expected = MathF.FusedMultiplyAdd(x, y, z);
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(FloatRequantization.FusedMultiplyAdd(x, y, z)),
                    $"fma({x}, {y:R}, {z:R})");
            }
        }

        [Fact]
        public void EveryVectorPathOfTheFloatConvolutionMatchesTheScalarKernel()
        {
            var random = new Random(23);
            int compared = 0;
            for (int trial = 0; trial < 200; trial++)
            {
                int kernel = random.Next(1, 4), stride = random.Next(1, 3), pad = random.Next(0, kernel);
                bool depthwise = random.Next(4) == 0, patches = !depthwise && random.Next(3) == 0;
                int inH = random.Next(1, 8), inW = random.Next(1, 8), channels = random.Next(1, 40);
                int outChannels = depthwise ? channels : random.Next(1, 70);
                int outH = (inH + 2 * pad - kernel) / stride + 1, outW = (inW + 2 * pad - kernel) / stride + 1;
                if (outH < 1 || outW < 1) continue;
                int clampMin = random.Next(-128, 0), clampMax = random.Next(0, 128);
                var g = new ConvolutionGeometry(inH, inW, channels, outH, outW, outChannels, kernel, kernel, stride, stride, 1, 1, pad, pad,
                    random.Next(-128, 128), random.Next(-128, 128), clampMin, clampMax, patches);
                var x = new sbyte[inH * inW * channels];
                random.NextBytes((byte[])(object)x);
                var weights = new int[depthwise ? g.DepthwiseWeightLength : g.DenseWeightLength];
                for (int i = 0; i < weights.Length; i++)
                    weights[i] = depthwise ? random.Next(-127, 128) : (ushort)(short)random.Next(-127, 128) | random.Next(-127, 128) << 16;
                int padded = g.ChannelBlocks * ConvolutionGeometry.BlockChannels;
                // Biases beyond 2^24 make float32(acc) round; scales of 2^-k make exact ties.
                var bias = Enumerable.Range(0, padded).Select(_ => random.Next(3) == 0 ? random.Next(-1 << 28, 1 << 28) : random.Next(-50_000, 50_000)).ToArray();
                var scale = Enumerable.Range(0, padded).Select(_ => random.Next(3) == 0 ? MathF.Pow(2, -random.Next(1, 12)) : (float)(random.NextDouble() * 1e-3)).ToArray();

                sbyte[] Convolve(KernelPath path)
                {
                    using var pinned = KernelPathScope.Use(path);
                    var y = new sbyte[g.OutputPixels * outChannels];
                    var scratch = new short[g.ScratchLength(depthwise)];
                    if (depthwise) Int8Convolution.Depthwise(x, y, scratch, weights, bias, scale, g);
                    else Int8Convolution.Dense(x, y, scratch, weights, bias, scale, g);
                    return y;
                }

                var expected = Convolve(KernelPath.Scalar);
                foreach (var path in VectorPaths)
                {
                    Assert.True(expected.AsSpan().SequenceEqual(Convolve(path)), $"{path} differs from scalar on {g} (depthwise: {depthwise})");
                    compared++;
                }
            }
            Assert.True(compared >= 100 * VectorPaths.Length, $"only {compared} comparisons");
        }

        [Fact]
        public void EveryVectorPathOfTheFloatAddMatchesTheScalarDefinition()
        {
            var random = new Random(29);
            for (int trial = 0; trial < 300; trial++)
            {
                int n = random.Next(1, 100);
                var a = new sbyte[n];
                var b = new sbyte[n];
                random.NextBytes((byte[])(object)a);
                random.NextBytes((byte[])(object)b);
                // Ratios of powers of two give exact ties; the others the usual inexact sums.
                float Ratio() => random.Next(3) == 0 ? MathF.Pow(2, random.Next(-3, 2)) : (float)(random.NextDouble() * 2);
                var p = FloatAddParameters.For(Ratio(), random.Next(-128, 128), Ratio(), random.Next(-128, 128), 1f, random.Next(-128, 128));
                int clampMin = random.Next(-128, 0), clampMax = random.Next(0, 128);
                var expected = Enumerable.Range(0, n).Select(i => (sbyte)Math.Clamp(FloatRequantization.Add(a[i], b[i], p), clampMin, clampMax)).ToArray();
                foreach (var path in VectorPaths.Prepend(KernelPath.Scalar))
                {
                    using var pinned = KernelPathScope.Use(path);
                    var y = new sbyte[n];
                    Int8FloatAdd.Run(a, b, y, p, clampMin, clampMax);
                    Assert.True(expected.AsSpan().SequenceEqual(y), $"{path} differs from the definition ({p})");
                }
            }
        }
    }
}
