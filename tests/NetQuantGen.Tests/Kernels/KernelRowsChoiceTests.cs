using System.Linq;
using NetQuantGen.Emit;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using Xunit;

namespace NetQuantGen.Tests.Kernels
{
    /// <summary>
    /// Few-channel convolutions read their kernel rows in place where those rows are contiguous (dilation 1 across) and
    /// the pairs odd rows waste cost less than im2col's copies; otherwise they keep im2col.
    /// </summary>
    public class KernelRowsChoiceTests
    {
        /// <summary>A dense convolution whose 8-bit weights (all 127) rule the byte kernel out.</summary>
        private static QConvolution Convolution(int channels, int kernel, int outChannels, int dilation = 1)
        {
            var window = new Window(new[] { kernel, kernel }, new[] { 1, 1 }, new[] { dilation, dilation }, new[] { 0, 0, 0, 0 }, AutoPad.NotSet, false);
            int size = 16, outSize = size - (kernel - 1) * dilation;
            var weights = Enumerable.Repeat((sbyte)127, outChannels * channels * kernel * kernel).ToArray();
            return new QConvolution("conv", new QTensor("x", new[] { 1, channels, size, size }, 0.1f, -128), new QTensor("y", new[] { 1, outChannels, outSize, outSize }, 0.1f, 0),
                window, 1, weights, new[] { outChannels, channels, kernel, kernel }, Enumerable.Repeat(0.01f, outChannels).ToArray(), new int[outChannels],
                Enumerable.Repeat(new IntegerIR.Requantization(1 << 30, -3), outChannels).ToArray(), -128, 127, fromGemm: false);
        }

        [Theory]
        [InlineData(1, 3, 32)] // small_cnn's first layer: one wasted pair, two vectors
        [InlineData(1, 3, 16)] // mobilenet_v2_small's
        [InlineData(3, 7, 64)] // ResNet conv1: three wasted pairs, four vectors
        [InlineData(2, 3, 256)] // even rows waste nothing
        public void FewChannelLayersWithCheapRowWasteReadKernelRows(int channels, int kernel, int outChannels) =>
            Assert.Equal(ConvolutionKernel.DenseKernelRows, ConvolutionEmitter.KernelOf(Convolution(channels, kernel, outChannels)));

        [Fact]
        public void WideOutputsWhoseRowWasteCostsMoreThanTheCopiesKeepIm2col() =>
            Assert.Equal(ConvolutionKernel.DensePatches, ConvolutionEmitter.KernelOf(Convolution(1, 5, 256)));

        [Fact]
        public void DilationAcrossKeepsIm2col() =>
            Assert.Equal(ConvolutionKernel.DensePatches, ConvolutionEmitter.KernelOf(Convolution(1, 3, 32, dilation: 2)));
    }
}
