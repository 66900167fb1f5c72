using System;
using System.Linq;
using NetQuantGen.IR;
using NetQuantGen.Passes;
using Xunit;
using static NetQuantGen.Tests.OnnxBuilder;
using static NetQuantGen.Tests.Passes.PassTestSupport;

namespace NetQuantGen.Tests.Passes
{
    public class FuseActivationsTests
    {
        private static bool Run(Graph graph)
        {
            bool changed = new FuseActivations().Run(graph);
            GraphVerifier.Verify(graph, FuseActivations.PassName);
            return changed;
        }

        private static FusedClamp? FusedOf(Node node) => node.Op switch
        {
            Conv c => c.Fused,
            Gemm g => g.Fused,
            Binary b => b.Fused,
            _ => throw new InvalidOperationException(node.ToString()),
        };

        [Fact]
        public void ReluAfterConvFusesAndTheConvOutputsTheReluValue()
        {
            var graph = ImportModel(ConvModel(new Random(1)).Node("Relu", new[] { "c" }, new[] { "y" }).Output("y"));

            Assert.True(Run(graph));

            var conv = Assert.Single(graph.Nodes);
            Assert.Equal(FusedClamp.Relu, FusedOf(conv));
            Assert.Equal("y", conv.Output.Name);
            Assert.Same(graph.Outputs[0], conv.Output);
        }

        [Fact]
        public void Relu6ClipAfterDepthwiseConvFusesAsZeroToSix()
        {
            var graph = ImportModel(ConvModel(new Random(2), inC: 4, outC: 4, group: 4).ClipBounds("r6", 0f, 6f)
                .Node("Clip", new[] { "c", "r6_min", "r6_max" }, new[] { "y" }).Output("y"));

            Assert.True(Run(graph));

            Assert.Equal(new FusedClamp(0f, 6f), FusedOf(Assert.Single(graph.Nodes)));
        }

        [Fact]
        public void ClipWithAnAbsentBoundLeavesThatSideOpen()
        {
            var graph = ImportModel(ConvModel(new Random(3)).ClipBounds("k", -1f, 2f)
                .Node("Clip", new[] { "c", "", "k_max" }, new[] { "y" }).Output("y"));

            Assert.True(Run(graph));

            Assert.Equal(new FusedClamp(float.NegativeInfinity, 2f), FusedOf(Assert.Single(graph.Nodes)));
        }

        [Fact]
        public void OpsetTenClipAttributesFuse()
        {
            var graph = ImportModel(new OnnxBuilder(opset: 10).Input("x", 1, 4)
                .Initializer("w", new long[] { 4, 4 }, Random(new Random(4), 16))
                .Node("Gemm", new[] { "x", "w" }, new[] { "g" })
                .Node("Clip", new[] { "g" }, new[] { "y" }, "clip", Float("min", 0f), Float("max", 6f))
                .Output("y"));

            Assert.True(Run(graph));

            Assert.Equal(new FusedClamp(0f, 6f), FusedOf(Assert.Single(graph.Nodes)));
        }

        [Fact]
        public void ClipWithABoundComputedAtRunTimeIsNotFused()
        {
            var graph = ImportModel(ConvModel(new Random(5)).Input("limit", 1)
                .Node("Clip", new[] { "c", "", "limit" }, new[] { "y" }).Output("y"));

            Assert.False(Run(graph));

            Assert.Equal(new[] { "Conv", "Clip" }, graph.Nodes.Select(n => n.Op.OpType));
        }

        [Fact]
        public void ReluIsNotFusedWhenTheConvOutputIsAlsoAGraphOutput()
        {
            var graph = ImportModel(ConvModel(new Random(6)).Node("Relu", new[] { "c" }, new[] { "y" }).Output("c").Output("y"));

            Assert.False(Run(graph));

            Assert.Equal(2, graph.Nodes.Count);
            Assert.Null(FusedOf(graph.Nodes[0]));
        }

        [Fact]
        public void ReluIsNotFusedWhenTheConvOutputHasAnotherReader()
        {
            var graph = ImportModel(ConvModel(new Random(7))
                .Node("Relu", new[] { "c" }, new[] { "y" })
                .Node("Sigmoid", new[] { "c" }, new[] { "z" })
                .Output("y").Output("z"));

            Assert.False(Run(graph));

            Assert.Equal(3, graph.Nodes.Count);
        }

        [Fact]
        public void ReluAfterResidualAddFuses()
        {
            var graph = ImportModel(ConvModel(new Random(8), inC: 4, outC: 4)
                .Node("Add", new[] { "c", "x" }, new[] { "s" })
                .Node("Relu", new[] { "s" }, new[] { "y" })
                .Output("y"));

            Assert.True(Run(graph));

            var add = Single(graph, "Add");
            Assert.Equal(FusedClamp.Relu, FusedOf(add));
            Assert.Equal("y", add.Output.Name);
            Assert.Null(FusedOf(Single(graph, "Conv")));
        }

        [Theory]
        [InlineData("Sub")]
        [InlineData("Mul")]
        public void ReluAfterOtherBinaryOperatorsIsNotFused(string op)
        {
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 4).Input("z", 1, 4)
                .Node(op, new[] { "x", "z" }, new[] { "s" })
                .Node("Relu", new[] { "s" }, new[] { "y" })
                .Output("y"));

            Assert.False(Run(graph));

            Assert.Equal(2, graph.Nodes.Count);
        }

        [Fact]
        public void ReluAfterMaxPoolIsNotFused()
        {
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 2, 4, 4)
                .Node("MaxPool", new[] { "x" }, new[] { "p" }, "pool", Ints("kernel_shape", 2, 2))
                .Node("Relu", new[] { "p" }, new[] { "y" })
                .Output("y"));

            Assert.False(Run(graph));
        }

        [Fact]
        public void LeakyReluIsNotFused()
        {
            var graph = ImportModel(ConvModel(new Random(9)).Node("LeakyRelu", new[] { "c" }, new[] { "y" }).Output("y"));
            Assert.False(Run(graph));
            Assert.Equal(2, graph.Nodes.Count);
        }

        [Fact]
        public void ReluThenClipCombineIntoTheirIntersection()
        {
            var graph = ImportModel(ConvModel(new Random(10)).ClipBounds("k", -1f, 6f)
                .Node("Relu", new[] { "c" }, new[] { "r" })
                .Node("Clip", new[] { "r", "k_min", "k_max" }, new[] { "y" })
                .Output("y"));

            Assert.True(Run(graph));

            var conv = Assert.Single(graph.Nodes);
            Assert.Equal(new FusedClamp(0f, 6f), FusedOf(conv));
            Assert.Equal("y", conv.Output.Name);
        }

        [Theory]
        [InlineData(0f, 1f, 5f, 6f, 5f, 5f)]   // disjoint: everything ends at 5
        [InlineData(5f, 6f, 0f, 1f, 1f, 1f)]   // disjoint the other way: everything ends at 1
        [InlineData(0f, 10f, 2f, 4f, 2f, 4f)]  // nested
        [InlineData(0f, float.PositiveInfinity, float.NegativeInfinity, 6f, 0f, 6f)]
        public void CombinedClampEqualsApplyingBothInTurn(float min1, float max1, float min2, float max2, float min, float max)
        {
            var combined = FuseActivations.Combine(new FusedClamp(min1, max1), new FusedClamp(min2, max2));
            Assert.Equal(new FusedClamp(min, max), combined);
            foreach (float v in new[] { -100f, -1f, 0f, 0.5f, 1f, 3f, 5.5f, 7f, 100f })
            {
                float inTurn = Math.Min(Math.Max(Math.Min(Math.Max(v, min1), max1), min2), max2);
                Assert.Equal(inTurn, Math.Min(Math.Max(v, combined.Min), combined.Max));
            }
        }
    }
}
