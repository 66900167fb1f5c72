using System;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;
using NetQuantGen.Passes;
using Xunit;
using static NetQuantGen.Tests.Passes.PassTestSupport;

namespace NetQuantGen.Tests.Passes
{
    public class GraphVerifierTests
    {
        /// <summary>x → Conv → c → Relu → r → Sigmoid → y.</summary>
        private static Graph Chain() => ImportModel(ConvModel(new Random(1))
            .Node("Relu", new[] { "c" }, new[] { "r" })
            .Node("Sigmoid", new[] { "r" }, new[] { "y" })
            .Output("y"));

        private static string Broken(Graph graph)
        {
            var e = Assert.Throws<ModelException>(() => GraphVerifier.Verify(graph, "test-pass"));
            Assert.Equal(DiagnosticCatalog.InternalError, e.Kind);
            Assert.Contains("pass 'test-pass' broke", e.Message);
            Assert.Contains("pass-test.onnx", e.Message);
            return e.Message;
        }

        [Fact]
        public void ImportedGraphPasses() => GraphVerifier.Verify(Chain());

        [Fact]
        public void NodesOutOfTopologicalOrderAreCaught()
        {
            var graph = Chain();
            (graph.Nodes[1], graph.Nodes[2]) = (graph.Nodes[2], graph.Nodes[1]);
            Assert.Contains("topological order", Broken(graph));
        }

        [Fact]
        public void InputThatNothingProvidesIsCaught()
        {
            var graph = Chain();
            graph.Nodes[2].Inputs[0] = new Value("ghost", ElementType.Float32, new[] { 1, 4, 6, 6 });
            Assert.Contains("'ghost'", Broken(graph));
        }

        [Fact]
        public void ValueProducedTwiceIsCaught()
        {
            var graph = Chain();
            graph.Nodes[2].Outputs[0] = graph.Nodes[1].Output;
            graph.Outputs[0] = graph.Nodes[1].Output;
            Assert.Contains("produced twice", Broken(graph));
        }

        [Fact]
        public void GraphOutputThatIsNotProducedIsCaught()
        {
            var graph = Chain();
            graph.Nodes.RemoveAt(2);
            Assert.Contains("graph output 'y' is not produced", Broken(graph));
        }

        [Fact]
        public void TwoValuesWithTheSameNameAreCaught()
        {
            var graph = Chain();
            var relu = graph.Nodes[1];
            var impostor = new Value("c", ElementType.Float32, relu.Output.Shape);
            graph.ReplaceUses(relu.Output, impostor);
            relu.Outputs[0] = impostor;
            Assert.Contains("two different values are named 'c'", Broken(graph));
        }

        [Fact]
        public void WrongShapeIsCaught()
        {
            var graph = Chain();
            graph.Nodes[1].Output.Shape = new[] { 1, 4, 6, 5 };
            Assert.Contains("value 'r' has shape [1x4x6x5]", Broken(graph));
        }

        [Fact]
        public void WeightThatNoLongerFitsItsConvIsCaught()
        {
            var graph = Chain();
            var data = TensorData.FromFloats(new[] { 4, 2, 3, 3 }, new float[72]);
            graph.Nodes[0].Inputs[1] = new Value("w_bad", ElementType.Float32, data.Shape, data);
            Assert.Contains("shape inference fails", Broken(graph));
        }

        [Fact]
        public void ConstantWhoseShapeDisagreesWithItsDataIsCaught()
        {
            var graph = Chain();
            graph.Nodes[0].Input(1).Shape = new[] { 4, 3, 9 };
            Assert.Contains("constant 'w'", Broken(graph));
        }

        [Fact]
        public void MessageWithoutAPassBlamesTheImportedGraph()
        {
            var graph = Chain();
            graph.Nodes.RemoveAt(2);
            var e = Assert.Throws<ModelException>(() => GraphVerifier.Verify(graph));
            Assert.Contains("imported graph", e.Message);
        }

        [Fact]
        public void CheckingTheGraphDoesNotChangeIt()
        {
            var graph = Chain();
            var ops = graph.Nodes.Select(n => n.Op).ToList();
            var shapes = graph.Values().Select(v => v.Shape).ToList();
            GraphVerifier.Verify(graph);
            Assert.Equal(ops, graph.Nodes.Select(n => n.Op));
            Assert.Equal(shapes, graph.Values().Select(v => v.Shape));
        }
    }
}
