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
                new[] { new IntegerIR.Requantization(1 << 30, -3) }, -128, 127, fromGemm: false);
        }

        [Fact]
        public void APairOfLargeSameSignWeightsCouldSaturateAndIsRejected()
        {
            // 255·(127 + 2) = 32895 > 32767: vpmaddubsw saturates for u = 255 in both channels.
            Assert.Equal(0, ByteKernelProof.GroupLength(Convolution(127, 2, 0, 0), patches: false));
            Assert.Equal(ConvolutionKernel.Dense, ConvolutionEmitter.KernelOf(Convolution(127, 2, 0, 0, 0, 0, 0, 0)));
        }

        [Fact]
        public void OppositeSignsAndTheBoundsThemselvesAreAccepted()
        {
            // 255·(127 + 1) = 32640 ≤ 32767; 255·128 = 32640 ≤ 32768 on the negative side; mixed signs never reach either bound.
            Assert.True(ByteKernelProof.Holds(Convolution(127, 1, -127, -1), 1, patches: false));
            Assert.True(ByteKernelProof.Holds(Convolution(127, -127, 127, -127), 1, patches: false));
        }

        [Fact]
        public void TheSlotsOfAQuadAreBoundedSeparately()
        {
            // Channels 0, 1 and 2, 3 land in different int16 halves: 100 + 28 in each is safe, 100 + 29 in one is not.
            Assert.True(ByteKernelProof.Holds(Convolution(100, 28, 100, 28), 1, patches: false));
            Assert.False(ByteKernelProof.Holds(Convolution(100, 29, 0, 0), 1, patches: false));
        }

        [Fact]
        public void TheLongestSafeRunOfQuadsIsChosen()
        {
            // 4-bit weights of magnitude 7: a run of L quads puts 14·L into each slot, safe while 255·14·L ≤ 32767 (L ≤ 9).
            var sevens = Convolution(Enumerable.Repeat(7, 4 * 32).ToArray());
            Assert.Equal(8, ByteKernelProof.GroupLength(sevens, patches: false));
            Assert.Equal(ConvolutionKernel.DenseBytes, ConvolutionEmitter.KernelOf(sevens));
            // 40 per channel: one quad holds 80 per slot (safe), two hold 160 (not): runs of one do not pay, so the exact kernel.
            var forties = Convolution(Enumerable.Repeat(-40, 4 * 8).ToArray());
            Assert.Equal(1, ByteKernelProof.GroupLength(forties, patches: false));
            Assert.Equal(ConvolutionKernel.Dense, ConvolutionEmitter.KernelOf(forties));
        }

        [Fact]
        public void TheRunStopsAtTheQuadsOfATapAndAtTheMaximum()
        {
            Assert.Equal(2, ByteKernelProof.GroupLength(Convolution(Enumerable.Repeat(1, 8).ToArray()), patches: false));
            Assert.Equal(ByteKernelProof.MaximumGroup, ByteKernelProof.GroupLength(Convolution(Enumerable.Repeat(1, 4 * 64).ToArray()), patches: false));
        }

        [Fact]
        public void WithPatchesTheRunsFollowTheWindowOrder()
        {
            // Two input channels, a 2×2 window: with patches the reduction index is k = tap·2 + channel, and k = 4q + 2s + j
            // puts k = 0, 1 in slot 0 and k = 2, 3 in slot 1 of the first quad.
            var window = new Window(new[] { 2, 2 }, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 0, 0, 0, 0 }, AutoPad.NotSet, false);
            // [m=1][c=2][t=4]: channel 0 has 127 at tap 0, channel 1 has 2 at tap 0: k = 0 and k = 1, one slot, 255·129 > 32767.
            var weights = new sbyte[] { 127, 0, 0, 0, 2, 0, 0, 0 };
            var c = new QConvolution("conv", new QTensor("x", new[] { 1, 2, 4, 4 }, 0.1f, -128), new QTensor("y", new[] { 1, 1, 3, 3 }, 0.1f, 0),
                window, 1, weights, new[] { 1, 2, 2, 2 }, new[] { 0.01f }, new[] { 0 }, new[] { new IntegerIR.Requantization(1 << 30, -3) }, -128, 127, fromGemm: false);
            Assert.False(ByteKernelProof.Holds(c, 1, patches: true));
            // Per tap (no patches) channels 0 and 1 of tap 0 share a slot too: the same pair, rejected the same way.
            Assert.False(ByteKernelProof.Holds(c, 1, patches: false));
            // Moving the 2 to tap 1 of channel 0 (k = 2) puts it in the other slot: both quads in one run are then safe.
            weights[4] = 0;
            weights[1] = 2;
            Assert.Equal(2, ByteKernelProof.GroupLength(c, patches: true));
            Assert.Equal(ConvolutionKernel.DensePatchesBytes, ConvolutionEmitter.KernelOf(c));
        }
    }
}
