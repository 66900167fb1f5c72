using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Emit;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using Xunit;

namespace NetQuantGen.Tests.Generator
{
    /// <summary>
    /// Which max poolings the emitter computes inside the Winograd convolution before them, on small hand-built integer
    /// graphs: a 2×2 stride-2 unpadded pooling of an even plane whose convolution output nothing else reads is fused; other
    /// windows, a second reader, a direct convolution or a left shift that could overflow keep the pooling its own layer.
    /// </summary>
    public class MaxPoolFusionTests
    {
        private static readonly int[] Image = { 1, 16, 8, 8 };

        /// <summary>A 3×3 pad-1 convolution, 16 channels in and out, small weights: the compiler picks Winograd F(2×2).</summary>
        private static QConvolution Conv(QTensor input, QTensor output, IntegerIR.Requantization requantization, int weightMagnitude = 20, int[]? kernel = null)
        {
            var k = kernel ?? new[] { 3, 3 };
            int pad = k[0] / 2;
            var random = new Random(5);
            return new("conv", input, output, new Window(k, new[] { 1, 1 }, new[] { 1, 1 }, new[] { pad, pad, pad, pad }, AutoPad.NotSet, false), 1,
                Enumerable.Range(0, 16 * 16 * k[0] * k[1]).Select(_ => (sbyte)random.Next(-weightMagnitude, weightMagnitude + 1)).ToArray(), new[] { 16, 16, k[0], k[1] },
                Enumerable.Repeat(0.01f, 16).ToArray(), new int[16], Enumerable.Repeat(requantization, 16).ToArray(), -128, 127, fromGemm: false);
        }

        private static QPool Pool(QTensor input, int size, int stride, int pad = 0)
        {
            int outSize = (Image[2] + 2 * pad - size) / stride + 1;
            return new QPool("pool", input, new QTensor("pooled", new[] { 1, 16, outSize, outSize }, input.Scale, input.ZeroPoint), PoolKind.Max,
                new Window(new[] { size, size }, new[] { stride, stride }, new[] { 1, 1 }, new[] { pad, pad, pad, pad }, AutoPad.NotSet, false), countIncludePad: false);
        }

        private static IntegerGraph Graph(QTensor input, params QOperation[] operations) =>
            new("pooling", new[] { new QuantizeInput("x", input) }, new[] { new DequantizeOutput(operations[^1].Output, "y") }, operations);

        private static readonly IntegerIR.Requantization Plain = new(1 << 30, -3);

        [Fact]
        public void ATwoByTwoMaxPoolAfterAWinogradConvolutionIsComputedInsideIt()
        {
            QTensor x = new("x", Image, 0.05f, 3), c = new("c", Image, 0.05f, -7);
            var conv = Conv(x, c, Plain);
            var pool = Pool(c, 2, 2);
            var graph = Graph(x, conv, pool);
            Assert.Equal(ConvolutionKernel.Winograd, ConvolutionEmitter.KernelOf(conv));

            var fusion = LayerFusion.Plan(graph);

            Assert.Same(pool, fusion.Pool(conv)?.Pool);
            Assert.True(fusion.IsFusedAway(pool));
            Assert.Same(pool.Output, fusion.Stored(conv));
            Assert.Equal("+MaxPool", fusion.Suffix(conv));
            Assert.Throws<KeyNotFoundException>(() => ArenaPlan.Create(graph, fusion).OffsetOf(c));
        }

        [Theory]
        [InlineData(3, 2, 1)]
        [InlineData(2, 1, 0)]
        [InlineData(2, 2, 1)]
        public void OtherWindowsStrideOrPaddingKeepThePoolApart(int size, int stride, int pad)
        {
            QTensor x = new("x", Image, 0.05f, 3), c = new("c", Image, 0.05f, -7);
            var conv = Conv(x, c, Plain);
            var pool = Pool(c, size, stride, pad);

            var fusion = LayerFusion.Plan(Graph(x, conv, pool));

            Assert.Null(fusion.Pool(conv));
            Assert.False(fusion.IsFusedAway(pool));
        }

        [Fact]
        public void AConvolutionOutputWithASecondReaderKeepsThePoolApart()
        {
            QTensor x = new("x", Image, 0.05f, 3), c = new("c", Image, 0.05f, -7), d = new("d", Image, 0.05f, 1);
            var conv = Conv(x, c, Plain);
            var pool = Pool(c, 2, 2);
            var other = Conv(c, d, Plain);

            var fusion = LayerFusion.Plan(Graph(x, conv, other, pool));

            Assert.Null(fusion.Pool(conv));
        }

        [Fact]
        public void APoolAfterADirectConvolutionStaysApart()
        {
            QTensor x = new("x", Image, 0.05f, 3), c = new("c", Image, 0.05f, -7);
            var conv = Conv(x, c, Plain, kernel: new[] { 1, 1 });
            var pool = Pool(c, 2, 2);
            Assert.DoesNotContain(ConvolutionEmitter.KernelOf(conv), new[] { ConvolutionKernel.Winograd, ConvolutionKernel.WinogradFourByTwo });

            Assert.Null(LayerFusion.Plan(Graph(x, conv, pool)).Pool(conv));
        }

        [Fact]
        public void ALeftShiftIsAllowedOnlyWhereTheWeightsProveItCannotOverflow()
        {
            QTensor x = new("x", Image, 0.05f, 3), c = new("c", Image, 0.05f, -7);
            // 144 weights of at most 20 per channel, about 1,440 in sum: 255·Σ|w|·2^5 ≈ 12M < 2^31, but 255·Σ|w|·2^14 ≈ 6·10^9 is not.
            var safe = Conv(x, c, new IntegerIR.Requantization(1 << 30, 5));
            var unsafeShift = Conv(x, c, new IntegerIR.Requantization(1 << 30, 14));

            Assert.True(MaxPoolFusion.RequantizationNeverDecreases(safe));
            Assert.False(MaxPoolFusion.RequantizationNeverDecreases(unsafeShift));
            Assert.NotNull(LayerFusion.Plan(Graph(x, safe, Pool(c, 2, 2))).Pool(safe));
            Assert.Null(LayerFusion.Plan(Graph(x, unsafeShift, Pool(c, 2, 2))).Pool(unsafeShift));
        }
    }
}
