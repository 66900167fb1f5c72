using System;
using System.Linq;
using NetQuantGen.IR;
using NetQuantGen.Passes;
using Xunit;
using static NetQuantGen.Tests.OnnxBuilder;
using static NetQuantGen.Tests.Passes.PassTestSupport;

namespace NetQuantGen.Tests.Passes
{
    public class RemoveIdentitiesTests
    {
        private static bool Run(Graph graph)
        {
            bool changed = new RemoveIdentities().Run(graph);
            GraphVerifier.Verify(graph, RemoveIdentities.PassName);
            return changed;
        }

        [Fact]
        public void IdentityBetweenNodesIsRemovedAndItsReaderReadsItsInput()
        {
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 4)
                .Node("Relu", new[] { "x" }, new[] { "a" })
                .Node("Identity", new[] { "a" }, new[] { "i" })
                .Node("Sigmoid", new[] { "i" }, new[] { "y" })
                .Output("y"));

            Assert.True(Run(graph));

            Assert.Equal(new[] { "Relu", "Sigmoid" }, graph.Nodes.Select(n => n.Op.OpType));
            Assert.Equal("a", graph.Nodes[1].Input(0).Name);
            Assert.Equal("y", graph.Outputs.Single().Name);
        }

        [Fact]
        public void DropoutIsRemovedLikeIdentity()
        {
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 4)
                .Node("Relu", new[] { "x" }, new[] { "a" })
                .Node("Dropout", new[] { "a" }, new[] { "d" }, "dropout")
                .Node("Sigmoid", new[] { "d" }, new[] { "y" })
                .Output("y"));

            Assert.True(Run(graph));

            Assert.DoesNotContain(graph.Nodes, n => n.Op is Identity);
            Assert.Equal("a", Single(graph, "Sigmoid").Input(0).Name);
        }

        [Fact]
        public void IdentityOfAConstantBecomesTheConstant()
        {
            // PyTorch aliases duplicate initializers through Identity nodes.
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 2, 4, 4)
                .Initializer("w", new long[] { 2, 2, 1, 1 }, new float[] { 1, 2, 3, 4 })
                .Node("Identity", new[] { "w" }, new[] { "w_alias" })
                .Node("Conv", new[] { "x", "w_alias" }, new[] { "y" })
                .Output("y"));

            Assert.True(Run(graph));

            var weight = Single(graph, "Conv").Input(1);
            Assert.True(weight.IsConstant);
            Assert.Equal("w", weight.Name);
            Assert.Single(graph.Nodes);
        }

        [Fact]
        public void IdentityFeedingAGraphOutputLetsTheProducerComputeTheOutputUnderItsName()
        {
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 4)
                .Node("Relu", new[] { "x" }, new[] { "a" })
                .Node("Identity", new[] { "a" }, new[] { "y" })
                .Node("Sigmoid", new[] { "a" }, new[] { "z" })
                .Output("y").Output("z"));

            Assert.True(Run(graph));

            Assert.DoesNotContain(graph.Nodes, n => n.Op is Identity);
            Assert.Equal(new[] { "y", "z" }, graph.Outputs.Select(o => o.Name));
            Assert.Equal("y", Single(graph, "Relu").Output.Name);
            Assert.Equal("y", Single(graph, "Sigmoid").Input(0).Name);
        }

        [Fact]
        public void IdentityFromAGraphInputToAGraphOutputStays()
        {
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 4)
                .Node("Identity", new[] { "x" }, new[] { "y" })
                .Output("y"));

            Assert.False(Run(graph));

            Assert.IsType<Identity>(Assert.Single(graph.Nodes).Op);
            Assert.Equal("y", graph.Outputs.Single().Name);
        }

        [Fact]
        public void IdentityOfAConstantThatIsAGraphOutputStays()
        {
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 4)
                .Initializer("k", new long[] { 1, 4 }, new float[] { 1, 2, 3, 4 })
                .Node("Add", new[] { "x", "k" }, new[] { "s" })
                .Node("Identity", new[] { "k" }, new[] { "k_out" })
                .Output("s").Output("k_out"));

            Assert.False(Run(graph));

            Assert.Equal(new[] { "s", "k_out" }, graph.Outputs.Select(o => o.Name));
            Assert.Contains(graph.Nodes, n => n.Op is Identity);
        }

        [Fact]
        public void IdentityBetweenTwoGraphOutputsStaysSoBothNamesSurvive()
        {
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 4)
                .Node("Relu", new[] { "x" }, new[] { "a" })
                .Node("Identity", new[] { "a" }, new[] { "b" })
                .Output("a").Output("b"));

            Assert.False(Run(graph));

            Assert.Equal(new[] { "a", "b" }, graph.Outputs.Select(o => o.Name));
            Assert.Equal(2, graph.Nodes.Count);
        }

        [Fact]
        public void ChainOfIdentitiesCollapses()
        {
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 4)
                .Node("Relu", new[] { "x" }, new[] { "a" })
                .Node("Identity", new[] { "a" }, new[] { "i1" })
                .Node("Identity", new[] { "i1" }, new[] { "i2" })
                .Node("Identity", new[] { "i2" }, new[] { "y" })
                .Output("y"));

            Assert.True(Run(graph));

            var relu = Assert.Single(graph.Nodes);
            Assert.Equal("y", relu.Output.Name);
            Assert.Same(relu.Output, graph.Outputs.Single());
        }

        [Fact]
        public void GraphWithoutIdentitiesIsUnchanged()
        {
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 4).Node("Relu", new[] { "x" }, new[] { "y" }).Output("y"));
            Assert.False(Run(graph));
            Assert.Single(graph.Nodes);
        }
    }
}
