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
    }
}
