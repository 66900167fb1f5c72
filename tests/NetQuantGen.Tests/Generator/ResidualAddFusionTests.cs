using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Emit;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using Xunit;

namespace NetQuantGen.Tests.Generator
{
    /// <summary>
    /// Which residual adds the emitter computes inside a convolution, on small hand-built integer graphs: fused when the
    /// add's conv operand has no other reader, is not a graph output and the other operand exists before the conv runs;
    /// otherwise (and for the float-requantization add) the add stays its own layer. The arena keeps the skip tensor
    /// alive across the fused convolution and never places the convolution's own output.
    /// </summary>
    public class ResidualAddFusionTests
    {
        private static readonly int[] Shape = { 1, 16, 4, 4 };

        private static QTensor Tensor(string name, int zeroPoint = 0) => new(name, Shape, 0.05f, zeroPoint);

        /// <summary>A 1×1 convolution, 16 channels in and out (whole vectors), fixed-point requantization.</summary>
        private static QConvolution Conv(string name, QTensor input, QTensor output) =>
            new(name, input, output, new Window(new[] { 1, 1 }, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 0, 0, 0, 0 }, AutoPad.NotSet, false), 1,
                Enumerable.Range(0, 256).Select(i => (sbyte)(i % 7 - 3)).ToArray(), new[] { 16, 16, 1, 1 }, Enumerable.Repeat(0.01f, 16).ToArray(), new int[16],
                Enumerable.Repeat(new IntegerIR.Requantization(1 << 30, -3), 16).ToArray(), -128, 127, fromGemm: false);

        private static QAdd Add(QTensor a, QTensor b, QTensor output, FloatAddParameters? floatParameters = null) =>
            new("add", a, b, output, 20, new IntegerIR.Requantization(1 << 30, 0), new IntegerIR.Requantization(1 << 30, 0), new IntegerIR.Requantization(1 << 30, -20), -3, 127, floatParameters);

        private static IntegerGraph Graph(QTensor input, QTensor output, params QOperation[] operations) =>
            new("residual", new[] { new QuantizeInput("x", input) }, new[] { new DequantizeOutput(output, "y") }, operations);

        [Fact]
        public void AddIsFusedIntoTheConvolutionOfItsOperandWhenTheSkipExistsBefore()
        {
            QTensor x = Tensor("x"), s = Tensor("s", 4), c = Tensor("c", -2), y = Tensor("y", -3);
            QConvolution first = Conv("conv1", x, s), second = Conv("conv2", s, c);
            var add = Add(s, c, y);
            var graph = Graph(x, y, first, second, add);
            var fusion = ResidualAddFusion.Plan(graph);
            var fused = Assert.Single(fusion.Fusions);
            Assert.Same(second, fused.Convolution);
            Assert.Same(add, fused.Add);
            Assert.Same(s, fused.Skip);
            // The conv's output is the add's B: its multiplier goes with it.
            Assert.Equal(add.InputB, fused.ConvolutionScale);
            Assert.Equal(add.InputA, fused.SkipScale);
            Assert.Null(fusion.Of(first));
            Assert.True(LayerFusion.Plan(graph).IsFusedAway(add));

            var arena = ArenaPlan.Create(graph, LayerFusion.Plan(graph));
            Assert.Throws<KeyNotFoundException>(() => arena.OffsetOf(c));
            // Skip, the conv's input, and the add's output are all live while the fused convolution runs.
            int skip = arena.OffsetOf(s), output = arena.OffsetOf(y);
            Assert.True(skip + s.ByteLength <= output || output + y.ByteLength <= skip, "the skip tensor and the add's output overlap");
        }

        [Fact]
        public void WhereBothOperandsAreConvolutionsTheOneThatRunsLastTakesTheAdd()
        {
            QTensor x = Tensor("x"), a = Tensor("a"), b = Tensor("b"), y = Tensor("y");
            QConvolution early = Conv("early", x, a), late = Conv("late", x, b);
            var fusion = ResidualAddFusion.Plan(Graph(x, y, early, late, Add(a, b, y)));
            Assert.Same(late, Assert.Single(fusion.Fusions).Convolution);
        }

        [Fact]
        public void AddIsNotFusedWhenTheConvolutionOutputHasASecondReader()
        {
            QTensor x = Tensor("x"), c = Tensor("c"), y = Tensor("y"), z = Tensor("z");
            var fusion = ResidualAddFusion.Plan(Graph(x, y, Conv("conv", x, c), Add(c, x, y), Conv("reader", c, z)));
            Assert.Empty(fusion.Fusions);
        }

        [Fact]
        public void AddIsNotFusedWhenTheConvolutionOutputIsAGraphOutput()
        {
            QTensor x = Tensor("x"), c = Tensor("c"), y = Tensor("y");
            var graph = new IntegerGraph("residual", new[] { new QuantizeInput("x", x) }, new[] { new DequantizeOutput(c, "c"), new DequantizeOutput(y, "y") },
                new QOperation[] { Conv("conv", x, c), Add(c, x, y) });
            Assert.Empty(ResidualAddFusion.Plan(graph).Fusions);
        }

        [Fact]
        public void AddIsNotFusedWhenTheOtherOperandIsProducedAfterTheConvolution()
        {
            // 'later' is computed after 'conv' and cannot take the add itself: 'reader' reads it too.
            QTensor x = Tensor("x"), c = Tensor("c"), later = Tensor("later"), y = Tensor("y"), z = Tensor("z");
            var fusion = ResidualAddFusion.Plan(Graph(x, y, Conv("conv", x, c), Conv("other", x, later), Conv("reader", later, z), Add(c, later, y)));
            Assert.Empty(fusion.Fusions);
        }

        [Fact]
        public void FloatRequantizationAddIsNotFused()
        {
            QTensor x = Tensor("x"), c = Tensor("c"), y = Tensor("y");
            var fusion = ResidualAddFusion.Plan(Graph(x, y, Conv("conv", x, c), Add(c, x, y, new FloatAddParameters(0.5f, 0.5f, 1f))));
            Assert.Empty(fusion.Fusions);
        }
    }
}
