using System;
using System.Linq;
using NetQuantGen.Emit;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using Xunit;

namespace NetQuantGen.Tests.Kernels
{
    /// <summary>
    /// The build-time proof behind the Winograd kernel: |Y| = |4·Σ w·(x − z_in)| ≤ 4·255·Σ|w| must stay within int32 for every
    /// output channel (pinned at its boundary), only dense 3×3 stride-1 layers qualify, and the emitter picks the kernel only
    /// where the proof holds and the 2×2 tiles are mostly used, ahead of the byte kernel on 4-bit weights where its tiles are fuller still.
    /// </summary>
    public class WinogradProofTests
    {
        /// <summary><paramref name="outputs"/> output channels over <paramref name="channels"/> input channels, 3×3, pad 1, on a 4×4 image, weights [m][c][ky][kx].</summary>
        private static QConvolution Layer(sbyte[] weights, int channels, int size = 4, int stride = 1, int dilation = 1, int kernel = 3, int outputs = 1)
        {
            int pad = (kernel - 1) * dilation / 2, outSize = (size + 2 * pad - (kernel - 1) * dilation - 1) / stride + 1;
            var window = new Window(new[] { kernel, kernel }, new[] { stride, stride }, new[] { dilation, dilation }, new[] { pad, pad, pad, pad }, AutoPad.NotSet, false);
            return new QConvolution("conv", new QTensor("x", new[] { 1, channels, size, size }, 0.1f, -3), new QTensor("y", new[] { 1, outputs, outSize, outSize }, 0.1f, 0),
                window, 1, weights, new[] { outputs, channels, kernel, kernel }, Enumerable.Repeat(0.01f, outputs).ToArray(), new int[outputs],
                Enumerable.Repeat(new IntegerIR.Requantization(1 << 30, -3), outputs).ToArray(), -128, 127, fromGemm: false);
        }

        [Fact]
        public void TheBoundIsPinnedAtTheInt32Limit()
        {
            // 4·255·Σ|w| ≤ 2^31 − 1 holds up to Σ|w| = 2,105,376 (1020 · 2,105,376 = 2,147,483,520); 1842 channels of 127 reach it.
            const int Channels = 1842, Limit = 2_105_376;
            var weights = Enumerable.Repeat((sbyte)127, Channels * 9).ToArray();
            int excess = Channels * 9 * 127 - Limit;
            for (int i = 0; excess > 0; i++) { int cut = Math.Min(excess, 127); weights[i] = (sbyte)(127 - cut); excess -= cut; }
            var atLimit = Layer(weights, Channels);
            Assert.Equal(4L * 255 * Limit, WinogradProof.Bound(atLimit));
            Assert.True(WinogradProof.Holds(atLimit));
            Assert.Equal(ConvolutionKernel.Winograd, ConvolutionEmitter.KernelOf(atLimit));

            // One more unit of |w| anywhere, of either sign: the true sum could leave int32, so the direct kernel.
            int spare = Array.FindIndex(weights, w => w < 127);
            weights[spare] = (sbyte)(-weights[spare] - 1);
            var overLimit = Layer(weights, Channels);
            Assert.Equal(4L * 255 * (Limit + 1), WinogradProof.Bound(overLimit));
            Assert.False(WinogradProof.Holds(overLimit));
            Assert.Equal(ConvolutionKernel.Dense, ConvolutionEmitter.KernelOf(overLimit));
        }

        [Fact]
        public void TheFourByTwoBoundIsPinnedAtTheInt32Limit()
        {
            // 48·255·Σ|w| ≤ 2^31 − 1 holds up to Σ|w| = 175,448 (12,240 · 175,448 = 2,147,483,520): 160 input channels of 127
            // reach it. 128 output channels (the 4×2 tile's minimum), the first at the limit, the others small.
            const int Channels = 160, Outputs = 128, Limit = 175_448, PerOutput = Channels * 9;
            var weights = Enumerable.Repeat((sbyte)1, Outputs * PerOutput).ToArray();
            for (int i = 0; i < PerOutput; i++) weights[i] = 127;
            int excess = PerOutput * 127 - Limit;
            for (int i = 0; excess > 0; i++) { int cut = Math.Min(excess, 127); weights[i] = (sbyte)(127 - cut); excess -= cut; }
            var atLimit = Layer(weights, Channels, size: 8, outputs: Outputs);
            Assert.Equal(48L * 255 * Limit, WinogradProof.Bound(atLimit, wide: true));
            Assert.True(WinogradProof.Holds(atLimit, wide: true));
            Assert.Equal(ConvolutionKernel.WinogradFourByTwo, ConvolutionEmitter.KernelOf(atLimit));

            // One more unit of |w|, of either sign: the 4×2 tile's Y could leave int32; the 2×2 tile's bound is 12 times smaller.
            int spare = Array.FindIndex(weights, w => w < 127);
            weights[spare] = (sbyte)(-weights[spare] - 1);
            var overLimit = Layer(weights, Channels, size: 8, outputs: Outputs);
            Assert.Equal(48L * 255 * (Limit + 1), WinogradProof.Bound(overLimit, wide: true));
            Assert.False(WinogradProof.Holds(overLimit, wide: true));
            Assert.True(WinogradProof.Holds(overLimit));
            Assert.Equal(ConvolutionKernel.Winograd, ConvolutionEmitter.KernelOf(overLimit));
        }

        [Theory]
        [InlineData(128, 128, true)]
        [InlineData(64, 128, false)]
        [InlineData(128, 64, false)]
        [InlineData(256, 256, true)]
        public void TheEmitterPicksTheFourByTwoTileOnlyWithAtLeast128InputAndOutputChannels(int channels, int outputs, bool fourByTwo)
        {
            var random = new Random(channels + outputs);
            var weights = Enumerable.Range(0, outputs * channels * 9).Select(_ => (sbyte)random.Next(-128, 128)).ToArray();
            Assert.Equal(fourByTwo ? ConvolutionKernel.WinogradFourByTwo : ConvolutionKernel.Winograd,
                ConvolutionEmitter.KernelOf(Layer(weights, channels, size: 14, outputs: outputs)));
        }

        [Fact]
        public void OnlyDenseThreeByThreeStrideOneLayersQualify()
        {
            var ones = Enumerable.Repeat((sbyte)1, 8 * 9).ToArray();
            Assert.True(WinogradProof.Applies(Layer(ones, 8, size: 8)));
            Assert.False(WinogradProof.Applies(Layer(ones, 8, size: 8, stride: 2)));
            Assert.False(WinogradProof.Applies(Layer(ones, 8, size: 8, dilation: 2)));
            Assert.False(WinogradProof.Applies(Layer(Enumerable.Repeat((sbyte)1, 8 * 25).ToArray(), 8, size: 8, kernel: 5)));
            Assert.False(WinogradProof.Applies(Layer(Enumerable.Repeat((sbyte)1, 8).ToArray(), 8, size: 8, kernel: 1)));
        }

        [Theory]
        [InlineData(1, false)] // one output in a 2×2 tile
        [InlineData(2, true)]
        [InlineData(3, false)] // 9 of 16 computed outputs used
        [InlineData(4, true)]
        [InlineData(5, false)] // 25 of 36
        [InlineData(7, true)] // 49 of 64
        [InlineData(56, true)]
        public void TheEmitterPicksWinogradWhereItsTilesAreMostlyUsed(int size, bool winograd)
        {
            var random = new Random(size);
            var weights = Enumerable.Range(0, 16 * 9).Select(_ => (sbyte)random.Next(-128, 128)).ToArray();
            Assert.Equal(winograd ? ConvolutionKernel.Winograd : ConvolutionKernel.Dense, ConvolutionEmitter.KernelOf(Layer(weights, 16, size)));
        }

        [Fact]
        public void WinogradIsPreferredToTheByteKernelOnFourBitWeightsWhereItsTilesAreFull()
        {
            var random = new Random(4);
            var weights = Enumerable.Range(0, 64 * 9).Select(_ => (sbyte)random.Next(-7, 8)).ToArray();
            Assert.True(ByteKernelProof.GroupLength(Layer(weights, 64, size: 14), patches: false) >= ByteKernelProof.MinimumGroup);
            Assert.Equal(ConvolutionKernel.Winograd, ConvolutionEmitter.KernelOf(Layer(weights, 64, size: 14)));
            // Where Winograd does not apply (stride 2), or its tiles waste more than a fifth (7×7: 49 of 64), the byte kernel runs those weights.
            Assert.Equal(ConvolutionKernel.DenseBytes, ConvolutionEmitter.KernelOf(Layer(weights, 64, size: 14, stride: 2)));
            Assert.Equal(ConvolutionKernel.DenseBytes, ConvolutionEmitter.KernelOf(Layer(weights, 64, size: 7)));
            Assert.Equal(ConvolutionKernel.Winograd, ConvolutionEmitter.KernelOf(Layer(weights, 64, size: 8)));
        }
    }
}
