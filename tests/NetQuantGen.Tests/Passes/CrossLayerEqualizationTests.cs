using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using NetQuantGen.Import;
using NetQuantGen.IR;
using NetQuantGen.Passes;
using NetQuantGen.Reference;
using Xunit;
using Xunit.Abstractions;
using static NetQuantGen.Tests.OnnxBuilder;
using static NetQuantGen.Tests.Passes.PassTestSupport;

namespace NetQuantGen.Tests.Passes
{
    /// <summary>
    /// Cross-layer equalization and high-bias absorption: float outputs kept (CLE exactly up to rounding,
    /// absorption where its ReLU argument holds), per-channel weight ranges equalized, priors carried along.
    /// </summary>
    public class CrossLayerEqualizationTests
    {
        private static readonly string[] Cleanups = { RemoveIdentities.PassName, FoldBatchNormalization.PassName, FuseActivations.PassName };
        private readonly ITestOutputHelper _output;

        public CrossLayerEqualizationTests(ITestOutputHelper output) => _output = output;

        private static Graph SampleGraph(string model)
        {
            var path = SampleData.OnnxPath(model);
            Assert.True(File.Exists(path), $"{path} is missing: run /usr/bin/python3 samples/models/train.py --model all");
            var result = OnnxImporter.Import(File.ReadAllBytes(path), model + ".onnx", SampleData.ImportOptions(model));
            Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
            return result.Graph!;
        }

        private static Graph After(Graph graph, params string[] passes)
        {
            var clone = graph.Clone();
            PassPipeline.FromNames(passes, verifyBetweenPasses: true).Run(clone);
            return clone;
        }

        /// <summary>Max abs diff of the graph outputs over the inputs, relative to the largest |output|.</summary>
        private static (double Diff, double Scale) Compare(Graph expected, Graph actual, IEnumerable<float[]> inputs)
        {
            var a = new FloatExecutor(expected);
            var b = new FloatExecutor(actual);
            double diff = 0, scale = 0;
            foreach (var input in inputs)
            {
                var e = a.Run(input);
                var o = b.Run(input);
                scale = Math.Max(scale, e.Max(v => Math.Abs((double)v)));
                diff = Math.Max(diff, e.Zip(o, (x, y) => Math.Abs((double)x - y)).Max());
            }
            return (diff, scale);
        }

        /// <summary>Per layer, mean over output channels of range_c / max range (1 = every channel uses the whole per-tensor grid).</summary>
        private static Dictionary<string, double> ChannelRangeBalance(Graph graph) =>
            graph.Nodes.Where(n => n.Op is Conv || n.Op is Gemm).ToDictionary(n => n.Name, n =>
            {
                var w = n.Input(1).Constant!.Floats!;
                int m = n.Op is Gemm g && !g.TransB ? n.Input(1).Shape[1] : n.Input(1).Shape[0];
                var r = new double[m];
                if (n.Op is Gemm { TransB: false })
                    for (int i = 0; i < w.Length; i++) r[i % m] = Math.Max(r[i % m], Math.Abs(w[i]));
                else
                    for (int i = 0; i < w.Length; i++) r[i / (w.Length / m)] = Math.Max(r[i / (w.Length / m)], Math.Abs(w[i]));
                return r.Average() / r.Max();
            });

        [Theory]
        [InlineData("small_cnn")]
        [InlineData("mobilenet_v2_small")]
        [InlineData("resnet18")]
        public void EqualizationKeepsSampleModelOutputsAndBalancesChannelRanges(string model)
        {
            // ReLU6 → ReLU is the paper's model change; equalization itself must keep the function it is given.
            var prefix = Cleanups.Append(ReplaceRelu6.PassName).ToArray();
            var before = After(SampleGraph(model), prefix);
            var after = After(before, CrossLayerEqualization.PassName);

            var (diff, scale) = Compare(before, after, SampleData.TestInputs(model, 8));
            _output.WriteLine($"{model}: CLE max abs diff of the logits {diff:G3} (largest |logit| {scale:G3})");
            Assert.True(diff <= 1e-4 * Math.Max(1, scale), $"CLE changed {model}'s logits by {diff:G3}");

            var balanceBefore = ChannelRangeBalance(before);
            var balanceAfter = ChannelRangeBalance(after);
            foreach (var layer in balanceBefore.Keys)
                _output.WriteLine($"  {layer}: mean channel range / max {balanceBefore[layer]:F3} → {balanceAfter[layer]:F3}");
            double meanBefore = balanceBefore.Values.Average(), meanAfter = balanceAfter.Values.Average();
            _output.WriteLine($"  all layers: {meanBefore:F3} → {meanAfter:F3}");
            Assert.True(meanAfter > meanBefore + 0.05, $"CLE did not balance {model}'s channel ranges ({meanBefore:F3} → {meanAfter:F3})");
        }

        [Fact]
        public void EqualizationThroughDepthwiseSeparableChainEqualizesBothSidesOfEachPair()
        {
            // conv 1×1 → ReLU → depthwise 3×3 → ReLU → conv 1×1, with channel scales spread over two decades.
            var random = new Random(7);
            var spread = Enumerable.Range(0, 6).Select(i => (float)Math.Pow(10, i / 2.5 - 1)).ToArray();
            var w1 = Random(random, 6 * 4).Select((v, i) => v * spread[i / 4]).ToArray();
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 4, 6, 6)
                .Initializer("w1", new long[] { 6, 4, 1, 1 }, w1)
                .Initializer("b1", new long[] { 6 }, Random(random, 6))
                .Initializer("w2", new long[] { 6, 1, 3, 3 }, Random(random, 54))
                .Initializer("w3", new long[] { 5, 6, 1, 1 }, Random(random, 30))
                .Node("Conv", new[] { "x", "w1", "b1" }, new[] { "c1" }, "expand")
                .Node("Relu", new[] { "c1" }, new[] { "r1" })
                .Node("Conv", new[] { "r1", "w2" }, new[] { "c2" }, "depthwise", Ints("pads", 1, 1, 1, 1), Int("group", 6))
                .Node("Relu", new[] { "c2" }, new[] { "r2" })
                .Node("Conv", new[] { "r2", "w3" }, new[] { "y" }, "project")
                .Output("y"));
            var before = After(graph, Cleanups);
            var after = After(before, CrossLayerEqualization.PassName);

            var inputs = Enumerable.Range(0, 4).Select(i => Random(new Random(i), 144));
            var (diff, scale) = Compare(before, after, inputs);
            Assert.True(diff <= 1e-5 * Math.Max(1, scale), $"max abs diff {diff:G3}");

            // At the fixed point, each channel's range is the same on both sides of both pairs.
            foreach (var pair in LayerPair.Find(after))
            {
                var r1 = pair.First.OutputRanges();
                var r2 = pair.Second.InputRanges(pair.Channels);
                for (int i = 0; i < r1.Length; i++)
                    Assert.True(Math.Abs(r1[i] - r2[i]) <= 1e-4 * r1[i], $"{pair.First.Node.Name}→{pair.Second.Node.Name} channel {i}: {r1[i]} vs {r2[i]}");
            }
        }

        [Fact]
        public void EqualizationLeavesReLU6ChainsAlone()
        {
            var random = new Random(8);
            var graph = ImportModel(ConvModel(random, inC: 3, outC: 4, bias: true)
                .ClipBounds("relu6", 0f, 6f)
                .Node("Clip", new[] { "c", "relu6_min", "relu6_max" }, new[] { "r" })
                .Initializer("w2", new long[] { 2, 4, 1, 1 }, Random(random, 8))
                .Node("Conv", new[] { "r", "w2" }, new[] { "y" }, "conv2")
                .Output("y"));
            var before = After(graph, Cleanups);
            Assert.False(new CrossLayerEqualization().Run(before));
        }

        [Fact]
        public void EqualizationRescalesTheBatchNormPriorWithTheChannel()
        {
            var random = new Random(9);
            var graph = ImportModel(ConvModel(random, inC: 3, outC: 4, bias: true)
                .BatchNorm(random, "c", "n", 4)
                .Node("Relu", new[] { "n" }, new[] { "r" })
                .Initializer("w2", new long[] { 2, 4, 1, 1 }, Random(random, 8).Select(v => v * 20).ToArray())
                .Node("Conv", new[] { "r", "w2" }, new[] { "y" }, "conv2")
                .Output("y"));
            var before = After(graph, Cleanups);
            var after = After(before, CrossLayerEqualization.PassName);
            var b1 = before.Nodes[0].Input(2).Constant!.Floats!;
            var a1 = after.Nodes[0].Input(2).Constant!.Floats!;
            var p0 = before.Nodes[0].OutputPrior!;
            var p1 = after.Nodes[0].OutputPrior!;
            for (int c = 0; c < 4; c++)
            {
                double s = b1[c] / (double)a1[c]; // the bias divides by the same s as the channel's distribution
                Assert.Equal(p0.Mean[c] / s, p1.Mean[c], 4);
                Assert.Equal(p0.Std[c] / s, p1.Std[c], 4);
            }
        }

        [Fact]
        public void HighBiasAbsorptionIsExactWhereThePreActivationStaysAboveTheAbsorbedConstant()
        {
            // BN with β = 5, γ = 1 after a conv with tiny weights: the pre-activation stays near 5, above c = β − 3γ = 2.
            var random = new Random(10);
            var dims = new long[] { 4 };
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 3, 6, 6)
                .Initializer("w", new long[] { 4, 3, 3, 3 }, Random(random, 108, -0.01f, 0.01f))
                .Node("Conv", new[] { "x", "w" }, new[] { "c" }, "conv", Ints("pads", 1, 1, 1, 1))
                .Initializer("bn_scale", dims, new[] { 1f, 1f, 1f, 1f })
                .Initializer("bn_bias", dims, new[] { 5f, 4f, 2.5f, 0.5f })
                .Initializer("bn_mean", dims, new[] { 0f, 0f, 0f, 0f })
                .Initializer("bn_var", dims, new[] { 1f, 1f, 1f, 1f })
                .Node("BatchNormalization", new[] { "c", "bn_scale", "bn_bias", "bn_mean", "bn_var" }, new[] { "n" }, "bn")
                .Node("Relu", new[] { "n" }, new[] { "r" })
                .Initializer("w2", new long[] { 2, 4, 1, 1 }, Random(random, 8))
                .Initializer("b2", new long[] { 2 }, Random(random, 2))
                .Node("Conv", new[] { "r", "w2", "b2" }, new[] { "y" }, "conv2")
                .Output("y"));
            var before = After(graph, Cleanups);
            var after = After(before, HighBiasAbsorption.PassName);

            var absorbed = before.Nodes[0].Input(2).Constant!.Floats!.Zip(after.Nodes[0].Input(2).Constant!.Floats!, (x, y) => (double)x - y).ToArray();
            Assert.Equal(new[] { 2.0, 1.0, 0.0, 0.0 }, absorbed.Select(v => Math.Round(v, 4)));
            Assert.Equal(new[] { 3.0, 3.0, 2.5, 0.5 }, after.Nodes[0].OutputPrior!.Mean.Select(v => Math.Round(v, 4)));
            var (diff, scale) = Compare(before, after, Enumerable.Range(0, 4).Select(i => Random(new Random(i), 108)));
            Assert.True(diff <= 1e-5 * Math.Max(1, scale), $"max abs diff {diff:G3}");
        }

        [Fact]
        public void HighBiasAbsorptionSkipsASecondLayerThatReadsZeroPadding()
        {
            var random = new Random(11);
            var graph = ImportModel(ConvModel(random, inC: 3, outC: 4, bias: true)
                .BatchNorm(random, "c", "n", 4)
                .Node("Relu", new[] { "n" }, new[] { "r" })
                .Initializer("w2", new long[] { 2, 4, 3, 3 }, Random(random, 72))
                .Node("Conv", new[] { "r", "w2" }, new[] { "y" }, "conv2", Ints("pads", 1, 1, 1, 1))
                .Output("y"));
            var before = After(graph, Cleanups);
            before.Nodes[0].OutputPrior = new ChannelPrior(new[] { 5.0, 5, 5, 5 }, new[] { 1.0, 1, 1, 1 });
            Assert.False(new HighBiasAbsorption().Run(before));
        }
    }
}
