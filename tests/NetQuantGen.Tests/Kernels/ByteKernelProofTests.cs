using System.Linq;
using NetQuantGen.Emit;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using Xunit;

namespace NetQuantGen.Tests.Kernels
{
    /// <summary>
    /// The build-time proof behind the uint8 × int8 kernel: a pair of weights or a run of pairs whose same-sign sum
    /// times 255 could leave int16 is rejected, the longest safe run is chosen, and the emitter falls back to the
    /// exact int16 kernel when no run of two quads is safe.
    /// </summary>
    public class ByteKernelProofTests
    {
        /// <summary>A 1×1 convolution with one output channel and the given input-channel weights.</summary>
        private static QConvolution Convolution(params int[] weights)
        {
            int channels = weights.Length;
            var window = new Window(new[] { 1, 1 }, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 0, 0, 0, 0 }, AutoPad.NotSet, false);
            return new QConvolution("conv", new QTensor("x", new[] { 1, channels, 4, 4 }, 0.1f, -128), new QTensor("y", new[] { 1, 1, 4, 4 }, 0.1f, 0),
                window, 1, weights.Select(w => (sbyte)w).ToArray(), new[] { 1, channels, 1, 1 }, new[] { 0.01f }, new[] { 0 },
                new[] { new Requantization(1 << 30, -3) }, -128, 127, fromGemm: false);
        }

        [Fact]
        public void APairOfLargeSameSignWeightsCouldSaturateAndIsRejected()
        {
            // 255·(127 + 2) = 32895 > 32767: vpmaddubsw saturates for u = 255 in both channels.
            Assert.Equal(0, ByteKernelProof.GroupLength(Convolution(127, 2, 0, 0)));
            Assert.Equal(ConvolutionKernel.Dense, ConvolutionEmitter.KernelOf(Convolution(127, 2, 0, 0, 0, 0, 0, 0)));
        }

        [Fact]
        public void OppositeSignsAndTheBoundsThemselvesAreAccepted()
        {
            // 255·(127 + 1) = 32640 ≤ 32767; 255·128 = 32640 ≤ 32768 on the negative side; mixed signs never reach either bound.
            Assert.True(ByteKernelProof.Holds(Convolution(127, 1, -127, -1), 1));
            Assert.True(ByteKernelProof.Holds(Convolution(127, -127, 127, -127), 1));
        }

        [Fact]
        public void TheSlotsOfAQuadAreBoundedSeparately()
        {
            // Channels 0, 1 and 2, 3 land in different int16 halves: 100 + 28 in each is safe, 100 + 29 in one is not.
            Assert.True(ByteKernelProof.Holds(Convolution(100, 28, 100, 28), 1));
            Assert.False(ByteKernelProof.Holds(Convolution(100, 29, 0, 0), 1));
        }

        [Fact]
        public void TheLongestSafeRunOfQuadsIsChosen()
        {
            // 4-bit weights of magnitude 7: a run of L quads puts 14·L into each slot, safe while 255·14·L ≤ 32767 (L ≤ 9).
            var sevens = Convolution(Enumerable.Repeat(7, 4 * 32).ToArray());
            Assert.Equal(8, ByteKernelProof.GroupLength(sevens));
            Assert.Equal(ConvolutionKernel.DenseBytes, ConvolutionEmitter.KernelOf(sevens));
            // 40 per channel: one quad holds 80 per slot (safe), two hold 160 (not): runs of one do not pay, so the exact kernel.
            var forties = Convolution(Enumerable.Repeat(-40, 4 * 8).ToArray());
            Assert.Equal(1, ByteKernelProof.GroupLength(forties));
            Assert.Equal(ConvolutionKernel.Dense, ConvolutionEmitter.KernelOf(forties));
        }

        [Fact]
        public void TheRunStopsAtTheQuadsOfATapAndAtTheMaximum()
        {
            Assert.Equal(2, ByteKernelProof.GroupLength(Convolution(Enumerable.Repeat(1, 8).ToArray())));
            Assert.Equal(ByteKernelProof.MaximumGroup, ByteKernelProof.GroupLength(Convolution(Enumerable.Repeat(1, 4 * 64).ToArray())));
        }
    }
}
