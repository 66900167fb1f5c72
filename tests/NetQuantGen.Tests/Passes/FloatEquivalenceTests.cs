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
    /// The whole default pipeline keeps the float outputs: the float reference executor gives the same
    /// outputs (max abs diff ≤ 1e-4 relative to the output's magnitude) before and after it, on random inputs,
    /// and so does every value that survives the passes under its name.
    /// </summary>
    public class FloatEquivalenceTests
    {
        private const double Tolerance = 1e-4;
        private readonly ITestOutputHelper _output;

        public FloatEquivalenceTests(ITestOutputHelper output) => _output = output;

        /// <summary>
        /// Runs the pipeline on a clone and compares both graphs on random inputs: every value that survives the
        /// passes (graph outputs included) must keep its name, its shape and, within tolerance, its data, since
        /// calibration statistics gathered after the passes are keyed by those names. Returns the max abs diff
        /// over the graph outputs.
        /// </summary>
        internal double AssertPipelineKeepsOutputs(Graph original, int trials = 4, float low = -1f, float high = 1f)
        {
            var optimized = original.Clone();
            var report = PassPipeline.FromOptions(new PassOptions { VerifyBetweenPasses = true }).Run(optimized);
            Assert.Equal(PassPipeline.DefaultOrder, report.Ran);
            Assert.Equal(original.Outputs.Select(o => o.Name), optimized.Outputs.Select(o => o.Name));
            var originalValues = original.Values().Where(v => !v.IsConstant).ToDictionary(v => v.Name);
            foreach (var value in optimized.Values().Where(v => !v.IsConstant))
            {
                Assert.True(originalValues.TryGetValue(value.Name, out var before), $"the passes made up the value name '{value.Name}'");
                Assert.Equal(before!.Shape, value.Shape);
            }

            var beforeRun = new FloatExecutor(original);
            var afterRun = new FloatExecutor(optimized);
            var random = new Random(42);
            double worstOutput = 0, worstValue = 0;
            for (int t = 0; t < trials; t++)
            {
                var inputs = original.Inputs.ToDictionary(i => i.Name, i => Random(random, (int)i.ElementCount, low, high));
                var expected = Observe(beforeRun, inputs);
                var actual = Observe(afterRun, inputs);
                foreach (var pair in actual)
                {
                    var e = expected[pair.Key];
                    double scale = Math.Max(1.0, e.Max(v => Math.Abs((double)v)));
                    double diff = e.Zip(pair.Value, (x, y) => Math.Abs((double)x - y)).Max();
                    Assert.True(diff <= Tolerance * scale, $"value '{pair.Key}': max abs diff {diff:G3} exceeds {Tolerance * scale:G3} (largest |value| {scale:G3})");
                    worstValue = Math.Max(worstValue, diff);
                    if (original.Outputs.Any(o => o.Name == pair.Key)) worstOutput = Math.Max(worstOutput, diff);
                }
            }
            _output.WriteLine($"{original.ModelName}: {original.Nodes.Count} nodes → {optimized.Nodes.Count} " +
                $"({string.Join(", ", report.Changed)} changed it); max abs diff: outputs {worstOutput:G3}, any surviving value {worstValue:G3}");
            return worstOutput;
        }

        /// <summary>Every graph input and node output of one run, by name.</summary>
        private static Dictionary<string, float[]> Observe(FloatExecutor executor, IReadOnlyDictionary<string, float[]> inputs)
        {
            var values = new Dictionary<string, float[]>(StringComparer.Ordinal);
            executor.Run(inputs, (value, data) => values[value.Name] = (float[])data.Clone());
            return values;
        }

        [Fact]
        public void ConvBatchNormReluKeepsItsOutputs()
        {
            var random = new Random(1);
            var graph = ImportModel(ConvModel(random, inC: 3, outC: 8, bias: true)
                .BatchNorm(random, "c", "n", 8)
                .Node("Relu", new[] { "n" }, new[] { "y" })
                .Output("y"));

            AssertPipelineKeepsOutputs(graph);
        }

        [Fact]
        public void DepthwiseConvBatchNormRelu6KeepsItsOutputs()
        {
            var random = new Random(2);
            var graph = ImportModel(ConvModel(random, inC: 8, outC: 8, group: 8)
                .BatchNorm(random, "c", "n", 8)
                .ClipBounds("relu6", 0f, 6f)
                .Node("Clip", new[] { "n", "relu6_min", "relu6_max" }, new[] { "y" })
                .Output("y"));

            AssertPipelineKeepsOutputs(graph, low: -4f, high: 4f);
        }

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public void GemmBatchNormKeepsItsOutputs(bool transB)
        {
            var random = new Random(3);
            var graph = ImportModel(new OnnxBuilder().Input("x", 3, 10)
                .Initializer("w", transB ? new long[] { 6, 10 } : new long[] { 10, 6 }, Random(random, 60))
                .Initializer("c", new long[] { 6 }, Random(random, 6))
                .Node("Gemm", new[] { "x", "w", "c" }, new[] { "g" }, "gemm", Int("transB", transB ? 1 : 0), Float("alpha", 0.7f), Float("beta", 1.3f))
                .BatchNorm(random, "g", "y", 6)
                .Output("y"));

            AssertPipelineKeepsOutputs(graph);
        }

        [Fact]
        public void ResidualBlockWithSharedWeightsIdentitiesAndDropoutKeepsItsOutputs()
        {
            // Conv-BN-ReLU, Conv-BN, Add, ReLU, Dropout: a ResNet basic block as torch exports it, with the
            // second conv's weight aliased through an Identity, plus a side branch reusing the first weight.
            var random = new Random(4);
            var graph = ImportModel(ConvModel(random, inC: 4, outC: 4)
                .BatchNorm(random, "c", "n1", 4, "bn1")
                .Node("Relu", new[] { "n1" }, new[] { "r1" })
                .Node("Identity", new[] { "w" }, new[] { "w_alias" })
                .Node("Conv", new[] { "r1", "w_alias" }, new[] { "c2" }, "conv2", Ints("pads", 1, 1, 1, 1))
                .BatchNorm(random, "c2", "n2", 4, "bn2")
                .Node("Add", new[] { "n2", "x" }, new[] { "s" })
                .Node("Relu", new[] { "s" }, new[] { "r2" })
                .Node("Dropout", new[] { "r2" }, new[] { "y" })
                .Output("y"));

            AssertPipelineKeepsOutputs(graph);
        }

        public static IEnumerable<object[]> SampleModels() => new[]
        {
            new object[] { "small_cnn.onnx" },
            new object[] { "mobilenet_v2_small.onnx" },
            new object[] { "resnet18.onnx" },
        };

        [Theory]
        [MemberData(nameof(SampleModels))]
        public void SampleModelKeepsItsOutputs(string fileName)
        {
            var path = Repository.SampleModel(fileName);
            if (!File.Exists(path))
            {
                // The sample models are trained once by samples/models/train.py and committed; CI must have them.
                Assert.False(Repository.InCi, $"{path} is missing: run /usr/bin/python3 samples/models/train.py --model all");
                _output.WriteLine($"{path} is missing; not checked.");
                return;
            }
            var options = fileName == "resnet18.onnx"
                ? new ImportOptions { InputShapes = new Dictionary<string, int[]> { ["input"] = new[] { 1, 3, 32, 32 } } }
                : null;
            var result = OnnxImporter.Import(File.ReadAllBytes(path), fileName, options);
            Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));

            // Pixel-like inputs, as the samples feed them (pixel / 255).
            AssertPipelineKeepsOutputs(result.Graph!, trials: 3, low: 0f, high: 1f);
        }
    }
}
