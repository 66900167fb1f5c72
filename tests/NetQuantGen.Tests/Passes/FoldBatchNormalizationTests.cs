using System;
using System.Linq;
using NetQuantGen.IR;
using NetQuantGen.Passes;
using Xunit;
using static NetQuantGen.Tests.OnnxBuilder;
using static NetQuantGen.Tests.Passes.PassTestSupport;

namespace NetQuantGen.Tests.Passes
{
    public class FoldBatchNormalizationTests
    {
        private static bool Run(Graph graph)
        {
            bool changed = new FoldBatchNormalization().Run(graph);
            GraphVerifier.Verify(graph, FoldBatchNormalization.PassName);
            return changed;
        }

        /// <summary>The BN of <paramref name="graph"/> as per-channel (scale, shift), computed independently of the pass.</summary>
        private static (double[] Scale, double[] Shift) Affine(Graph graph)
        {
            var bn = Single(graph, "BatchNormalization");
            var p = Enumerable.Range(1, 4).Select(i => bn.Input(i).Constant!.Floats!).ToArray();
            double eps = ((BatchNormalization)bn.Op).Epsilon;
            var scale = p[0].Select((g, c) => g / Math.Sqrt(p[3][c] + eps)).ToArray();
            var shift = scale.Select((s, c) => p[1][c] - p[2][c] * s).ToArray();
            return (scale, shift);
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void ConvFollowedByBatchNormFoldsIntoScaledWeightsAndBias(bool convHasBias)
        {
            var random = new Random(1);
            var graph = ImportModel(ConvModel(random, bias: convHasBias).BatchNorm(random, "c", "y", 4).Output("y"));
            var (scale, shift) = Affine(graph);
            var weight = graph.Nodes[0].Input(1).Constant!.Floats!;
            var bias = convHasBias ? graph.Nodes[0].Input(2).Constant!.Floats! : new float[4];

            Assert.True(Run(graph));

            var conv = Assert.Single(graph.Nodes);
            Assert.IsType<Conv>(conv.Op);
            Assert.Equal("y", conv.Output.Name);
            Assert.Same(graph.Outputs[0], conv.Output);
            var newWeight = conv.Input(1).Constant!.Floats!;
            var newBias = conv.Input(2).Constant!.Floats!;
            for (int i = 0; i < weight.Length; i++)
                Assert.Equal(weight[i] * scale[i / 27], newWeight[i], 1e-6);
            for (int c = 0; c < 4; c++)
                Assert.Equal(shift[c] + scale[c] * bias[c], newBias[c], 1e-6);
        }

        [Fact]
        public void DepthwiseConvFoldsPerOutputChannel()
        {
            var random = new Random(2);
            var graph = ImportModel(ConvModel(random, inC: 4, outC: 4, group: 4).BatchNorm(random, "c", "y", 4).Output("y"));
            var (scale, _) = Affine(graph);
            var weight = graph.Nodes[0].Input(1).Constant!.Floats!;

            Assert.True(Run(graph));

            var conv = Assert.Single(graph.Nodes);
            Assert.Equal(4, ((Conv)conv.Op).Group);
            var newWeight = conv.Input(1).Constant!.Floats!;
            for (int i = 0; i < weight.Length; i++)
                Assert.Equal(weight[i] * scale[i / 9], newWeight[i], 1e-6);
        }

        [Theory]
        [InlineData(true, "bias")]
        [InlineData(false, "bias")]
        [InlineData(true, "none")]
        [InlineData(true, "scalar")]
        public void GemmFollowedByBatchNormFoldsIntoTheOutputColumns(bool transB, string c)
        {
            var random = new Random(3);
            var b = new OnnxBuilder().Input("x", 2, 5)
                .Initializer("w", transB ? new long[] { 3, 5 } : new long[] { 5, 3 }, Random(random, 15));
            if (c == "bias") b.Initializer("c", new long[] { 3 }, Random(random, 3));
            if (c == "scalar") b.Initializer("c", Array.Empty<long>(), new[] { 0.25f });
            var graph = ImportModel(b.Node("Gemm", c == "none" ? new[] { "x", "w" } : new[] { "x", "w", "c" }, new[] { "g" }, "gemm",
                    Int("transB", transB ? 1 : 0), Float("beta", 0.5f))
                .BatchNorm(random, "g", "y", 3).Output("y"));
            var (scale, shift) = Affine(graph);
            var weight = graph.Nodes[0].Input(1).Constant!.Floats!;
            var bias = c == "none" ? new float[3] : Enumerable.Range(0, 3).Select(i => graph.Nodes[0].Input(2).Constant!.Floats![c == "scalar" ? 0 : i]).ToArray();

            Assert.True(Run(graph));

            var gemm = Assert.Single(graph.Nodes);
            Assert.Equal("y", gemm.Output.Name);
            Assert.Equal(1f, ((Gemm)gemm.Op).Beta);
            var newWeight = gemm.Input(1).Constant!.Floats!;
            for (int k = 0; k < 5; k++)
                for (int n = 0; n < 3; n++)
                {
                    int i = transB ? n * 5 + k : k * 3 + n;
                    Assert.Equal(weight[i] * scale[n], newWeight[i], 1e-6);
                }
            var newBias = gemm.Input(2).Constant!;
            Assert.Equal(new[] { 3 }, newBias.Shape);
            for (int n = 0; n < 3; n++)
                Assert.Equal(shift[n] + scale[n] * 0.5 * bias[n], newBias.Floats![n], 1e-6);
        }

        [Fact]
        public void BatchNormIsNotFoldedWhenTheConvOutputHasAnotherReader()
        {
            var random = new Random(4);
            var graph = ImportModel(ConvModel(random).BatchNorm(random, "c", "y", 4)
                .Node("Relu", new[] { "c" }, new[] { "z" }).Output("y").Output("z"));

            Assert.False(Run(graph));

            Assert.Equal(new[] { "Conv", "BatchNormalization", "Relu" }, graph.Nodes.Select(n => n.Op.OpType));
        }

        [Fact]
        public void BatchNormIsNotFoldedWhenTheConvOutputIsAGraphOutput()
        {
            var random = new Random(5);
            var graph = ImportModel(ConvModel(random).BatchNorm(random, "c", "y", 4).Output("c").Output("y"));

            Assert.False(Run(graph));

            Assert.Equal(2, graph.Nodes.Count);
            Assert.Equal(new[] { "c", "y" }, graph.Outputs.Select(o => o.Name));
        }

        [Fact]
        public void StandaloneBatchNormStays()
        {
            var random = new Random(6);
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 4, 3, 3)
                .Node("Relu", new[] { "x" }, new[] { "r" })
                .BatchNorm(random, "r", "y", 4).Output("y"));
            var before = graph.Nodes.Select(n => n.Op).ToList();

            Assert.False(Run(graph));

            Assert.Equal(before, graph.Nodes.Select(n => n.Op));
        }

        [Fact]
        public void BatchNormOnAGraphInputStays()
        {
            var random = new Random(7);
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 4, 3, 3).BatchNorm(random, "x", "y", 4).Output("y"));
            Assert.False(Run(graph));
            Assert.IsType<BatchNormalization>(Assert.Single(graph.Nodes).Op);
        }

        [Fact]
        public void BatchNormAfterAConvWithAFusedActivationStays()
        {
            var random = new Random(8);
            var graph = ImportModel(ConvModel(random).BatchNorm(random, "c", "y", 4).Output("y"));
            graph.Nodes[0].Op = ((Conv)graph.Nodes[0].Op) with { Fused = FusedClamp.Relu };
            Assert.False(Run(graph));
            Assert.Equal(2, graph.Nodes.Count);
        }

        [Fact]
        public void WeightSharedWithAnotherConvIsCopiedAndTheOriginalDataIsUntouched()
        {
            var random = new Random(9);
            var graph = ImportModel(ConvModel(random).BatchNorm(random, "c", "y", 4)
                .Node("Conv", new[] { "x", "w" }, new[] { "other" }, "conv2", Ints("pads", 1, 1, 1, 1))
                .Output("y").Output("other"));
            var shared = ValueNamed(graph, "w");
            var data = shared.Constant!;
            var copy = data.Floats!.ToArray();

            Assert.True(Run(graph));

            var folded = graph.Nodes.Single(n => n.Name == "conv");
            var other = graph.Nodes.Single(n => n.Name == "conv2");
            Assert.Same(shared, other.Input(1));
            Assert.Same(data, shared.Constant);
            Assert.Equal(copy, data.Floats!);
            Assert.NotSame(shared, folded.Input(1));
            Assert.NotEqual("w", folded.Input(1).Name);
        }

        [Fact]
        public void FoldingAClonedGraphLeavesTheOriginalUnchanged()
        {
            var random = new Random(10);
            var original = ImportModel(ConvModel(random, bias: true).BatchNorm(random, "c", "y", 4).Output("y"));
            var weights = original.Nodes[0].Input(1).Constant!.Floats!.ToArray();
            var clone = original.Clone();

            Assert.True(Run(clone));

            Assert.Equal(2, original.Nodes.Count);
            Assert.Equal(weights, original.Nodes[0].Input(1).Constant!.Floats!);
        }

        [Fact]
        public void TwoBatchNormsInARowBothFold()
        {
            var random = new Random(11);
            var graph = ImportModel(ConvModel(random).BatchNorm(random, "c", "m", 4, "bn1").BatchNorm(random, "m", "y", 4, "bn2").Output("y"));
            Assert.True(Run(graph));
            Assert.Equal("y", Assert.Single(graph.Nodes).Output.Name);
        }
    }
}
