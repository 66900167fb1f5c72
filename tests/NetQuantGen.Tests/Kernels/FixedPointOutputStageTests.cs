using System;
using System.Linq;
using NetQuantGen.Runtime;
using NetQuantGen.Runtime.Kernels;
using Xunit;

namespace NetQuantGen.Tests.Kernels
{
    /// <summary>
    /// The vector paths requantize with one rounding shift of the 64-bit product instead of gemmlowp's two roundings; this
    /// pins it to <see cref="FixedPoint.MultiplyByQuantizedMultiplier"/> where the two are easiest to tell apart: exact
    /// ties of both roundings (multiplier 2^30, accumulators at odd multiples of 2^s), every right shift 0..31, left
    /// shifts, multipliers at both ends of [2^30, 2^31), accumulators near ±2^31, and clamps that keep or drop the
    /// negative results (a ReLU lets the kernel skip the negative rounding). The accumulator is the bias plus one
    /// product per output, so the test sets it directly: a 1×1 dense layer (tiles of pixels) and a 1×1 depthwise
    /// layer (one vector at a time).
    /// </summary>
    public class FixedPointOutputStageTests
    {
        private const int Block = ConvolutionGeometry.BlockChannels;

        [Fact]
        public void VectorRequantizationEqualsTheScalarDefinitionOnTiesShiftsAndClampsOnEveryPath()
        {
            var random = new Random(2026);
            var paths = Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported).ToArray();
            int compared = 0;
            for (int trial = 0; trial < 60; trial++)
            {
                bool depthwise = trial % 2 == 1;
                int channels = random.Next(1, 70), padded = (channels + Block - 1) / Block * Block, side = random.Next(1, 9);
                int zeroIn = random.Next(-128, 128), zeroOut = random.Next(-128, 128);
                (int low, int high) = (trial / 2 % 3) switch
                {
                    0 => (zeroOut, 127), // ReLU: every negative result clamps to z_out
                    1 => (-128, 127),
                    _ => (random.Next(-128, 0), random.Next(0, 128)),
                };
                var g = new ConvolutionGeometry(side, side, depthwise ? channels : 1, side, side, channels, 1, 1, 1, 1, 1, 1, 0, 0, zeroIn, zeroOut, low, high);
                var multiplier = new int[padded];
                var shift = new int[padded];
                var bias = new int[padded];
                var weight = new int[padded];
                for (int m = 0; m < channels; m++)
                {
                    multiplier[m] = random.Next(4) switch { 0 => 1 << 30, 1 => int.MaxValue, 2 => (1 << 30) + 1, _ => random.Next(1 << 30, int.MaxValue) };
                    shift[m] = random.Next(5) == 0 ? random.Next(1, 5) : -random.Next(0, 32);
                    int s = Math.Max(0, -shift[m]);
                    // |acc| stays within int32 and, shifted left, still within it (as the compiler proves).
                    long reach = shift[m] > 0 ? (int.MaxValue >> shift[m]) - 40_000 : int.MaxValue - 40_000L;
                    long tie = (2L * random.Next(-(1 << 20), 1 << 20) + 1) << s;
                    bias[m] = (int)(random.Next(3) switch { 0 => Math.Clamp(tie, -reach, reach), 1 => (random.Next(2) == 0 ? 1 : -1) * (reach - random.Next(100)), _ => random.Next(-300, 300) });
                    weight[m] = random.Next(3) == 0 ? 1 : random.Next(-127, 128);
                }
                var leftShift = shift.Select(e => Math.Max(0, e)).ToArray();
                var rightShift = shift.Select(e => Math.Max(0, -e)).ToArray();
                var x = new sbyte[side * side * g.InChannels];
                random.NextBytes((byte[])(object)x);

                var expected = new sbyte[side * side * channels];
                for (int p = 0; p < side * side; p++)
                    for (int m = 0; m < channels; m++)
                    {
                        int acc = bias[m] + weight[m] * (x[p * g.InChannels + (depthwise ? m : 0)] - zeroIn);
                        expected[p * channels + m] = (sbyte)Math.Clamp(zeroOut + FixedPoint.MultiplyByQuantizedMultiplier(acc, multiplier[m], shift[m]), low, high);
                    }
                // Dense: one input channel, one int16 pair per output channel (its high half 0); depthwise: one tap.
                var weights = depthwise ? weight : weight.Select(w => (int)(ushort)(short)w).ToArray();
                foreach (var path in paths)
                {
                    using var pinned = KernelPathScope.Use(path);
                    var y = new sbyte[expected.Length];
                    var scratch = new short[g.ScratchLength(depthwise)];
                    if (depthwise) Int8Convolution.Depthwise(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g);
                    else Int8Convolution.Dense(x, y, scratch, weights, bias, multiplier, leftShift, rightShift, g);
                    for (int i = 0; i < expected.Length; i++)
                        Assert.True(expected[i] == y[i], $"{path}, {(depthwise ? "depthwise" : "dense")}, channel {i % channels}: multiplier {multiplier[i % channels]}, shift {shift[i % channels]}, clamp [{low}, {high}], z_out {zeroOut}: {y[i]} instead of {expected[i]}");
                    compared++;
                }
            }
            Assert.True(compared >= 60 * paths.Length);
        }
    }
}
