using System;
using System.Linq;
using NetQuantGen.Emit;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using Xunit;

namespace NetQuantGen.Tests.EndToEnd
{
    public sealed class FlattenIntoFullyConnectedTests
    {
        private const int Channels = 3, Height = 4, Width = 5, Outputs = 7;

        private static readonly QTensor Image = new("image", new[] { 1, Channels, Height, Width }, 0.05f, -9);
        private static readonly QTensor Flat = new("flat", new[] { 1, Channels * Height * Width }, 0.05f, -9);

        private static QConvolution FullyConnected(QTensor input, string output, int seed)
        {
            var random = new Random(seed);
            int k = input.Shape[1];
            var weights = Enumerable.Range(0, Outputs * k).Select(_ => (sbyte)random.Next(-127, 128)).ToArray();
            var bias = Enumerable.Range(0, Outputs).Select(_ => random.Next(-5000, 5000)).ToArray();
            var window = new Window(new[] { 1, 1 }, new[] { 1, 1 }, new[] { 1, 1 }, new int[4], AutoPad.NotSet, false);
            return new QConvolution("fc", input, new QTensor(output, new[] { 1, Outputs }, 0.2f, 3), window, 1, weights, new[] { Outputs, k, 1, 1 },
                Enumerable.Repeat(0.01f, Outputs).ToArray(), bias, Enumerable.Range(0, Outputs).Select(m => IntegerIR.Requantization.FromReal(0.0021 + 0.0003 * m)).ToArray(),
                -128, 127, fromGemm: true);
        }

        private static IntegerGraph Graph(params QOperation[] operations) =>
            new("m", new[] { new QuantizeInput("x", Image) }, new[] { new DequantizeOutput(operations[^1].Output, "y") }, operations);

        [Fact]
        public void AFlattenReadOnlyByAFullyConnectedLayerBecomesOneConvolutionOverTheWholeImage()
        {
            var graph = Graph(new QMove("flatten", "Flatten", Image, Flat, null), FullyConnected(Flat, "out", seed: 1));

            var rewritten = FlattenIntoFullyConnected.Run(graph);

            var convolution = Assert.IsType<QConvolution>(Assert.Single(rewritten.Operations));
            Assert.Same(Image, convolution.Input);
            Assert.Equal(new[] { Outputs, Channels, Height, Width }, convolution.WeightShape);
            Assert.Equal(new[] { Height, Width }, convolution.Window.KernelShape);
            Assert.Equal(graph.MacCount, rewritten.MacCount);
            Assert.Equal("FullyConnected", convolution.Kind);
        }

        [Fact]
        public void TheRewrittenGraphComputesTheSameIntegersAsTheOriginal()
        {
            var graph = Graph(new QMove("flatten", "Flatten", Image, Flat, null), FullyConnected(Flat, "out", seed: 2));
            var original = new IntegerExecutor(graph);
            var rewritten = new IntegerExecutor(FlattenIntoFullyConnected.Run(graph));
            var random = new Random(3);
            for (int i = 0; i < 20; i++)
            {
                var input = Enumerable.Range(0, Image.Length).Select(_ => (sbyte)random.Next(-128, 128)).ToArray();
                Assert.Equal(original.RunQuantized(input), rewritten.RunQuantized(input));
            }
        }

        [Fact]
        public void AFlattenWithASecondReaderStays()
        {
            var graph = Graph(new QMove("flatten", "Flatten", Image, Flat, null), FullyConnected(Flat, "a", seed: 4), FullyConnected(Flat, "b", seed: 5));

            Assert.Same(graph, FlattenIntoFullyConnected.Run(graph));
        }

        [Fact]
        public void AFlattenThatIsTheGraphOutputStays()
        {
            var graph = new IntegerGraph("m", new[] { new QuantizeInput("x", Image) }, new[] { new DequantizeOutput(Flat, "flat"), new DequantizeOutput(Image, "image") },
                new QOperation[] { new QMove("flatten", "Flatten", Image, Flat, null) });

            Assert.Same(graph, FlattenIntoFullyConnected.Run(graph));
        }

        [Fact]
        public void ATransposeBeforeAFullyConnectedLayerStays()
        {
            var transposed = new QTensor("transposed", new[] { 1, Channels * Height * Width }, 0.05f, -9);
            var graph = Graph(new QMove("transpose", "Transpose", Image, transposed, new[] { 0, 2, 3, 1 }), FullyConnected(transposed, "out", seed: 6));

            Assert.Same(graph, FlattenIntoFullyConnected.Run(graph));
        }
    }
}
