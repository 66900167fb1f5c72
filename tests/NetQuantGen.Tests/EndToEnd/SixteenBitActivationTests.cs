using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using NetQuantGen.Cli;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;
using NetQuantGen.IntegerIR;
using NetQuantGen.Reference;
using NetQuantGen.Runtime.Kernels;
using Xunit;
using Xunit.Abstractions;

namespace NetQuantGen.Tests.EndToEnd
{
    /// <summary>
    /// 16-bit activations (TFLite's 16x8 mode): int16 symmetric activations, int8 weights, exact int32/int64 accumulation.
    /// Generated code against the integer reference on every kernel path, for the whole model at 16 bits and for 8- and
    /// 16-bit layers mixed; accuracy against the 8-bit build; the options' diagnostics.
    /// </summary>
    public class SixteenBitActivationTests
    {
        private readonly ITestOutputHelper _output;

        public SixteenBitActivationTests(ITestOutputHelper output) => _output = output;

        public static IEnumerable<object[]> Models => SampleData.Models.Select(m => new object[] { m });

        private static (Lowering Lowering, GeneratedModel Generated) CompileSample(string model, CompilationOptions options)
        {
            var input = new ModelInput(model + ".onnx", File.ReadAllBytes(SampleData.OnnxPath(model)), model + ".calib",
                File.ReadAllBytes(SampleData.StatisticsPath(model)), options with { InputShape = SampleData.InputShapeOption(model) },
                new TargetClass("Samples", "Model", "public", true));
            var lowering = ModelCompiler.Lower(input);
            Assert.True(lowering.IntegerGraph != null, string.Join("\n", lowering.Diagnostics));
            var result = ModelCompiler.Compile(input);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            return (lowering, new GeneratedModel(result.Source!, "Samples.Model"));
        }

        private static KernelPath[] Paths()
        {
            var paths = Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported).ToArray();
            Assert.Contains(KernelPath.Scalar, paths);
            return paths;
        }

        [Theory]
        [MemberData(nameof(Models))]
        public void SixteenBitModelsAreBitIdenticalToTheIntegerReferenceOnEveryKernelPath(string model)
        {
            const int count = 20;
            var (lowering, generated) = CompileSample(model, new CompilationOptions { ActivationBits = 16 });
            var graph = lowering.IntegerGraph!;
            Assert.All(graph.Tensors(), t => Assert.True(t.IsWide && t.ZeroPoint == 0, $"{t} is not int16 symmetric"));
            var reference = new IntegerExecutor(graph);
            var quantized = SampleData.TestInputs(model, count).Select(i => IntegerExecutor.QuantizeValues(i, graph.Inputs[0].Output)).ToArray();
            var expected = quantized.Select(q => reference.RunQuantized(q)).ToArray();
            foreach (var path in Paths())
            {
                using var pinned = KernelPathScope.Use(path);
                for (int i = 0; i < count; i++)
                    Assert.True(expected[i].AsSpan().SequenceEqual(generated.Run(quantized[i])), $"{model}: test image {i} differs on kernel path {path}");
            }
            var accumulators = graph.Operations.OfType<QConvolution>().GroupBy(c => c.AccumulatorBits).ToDictionary(g => g.Key, g => g.Count());
            _output.WriteLine($"{model}: {count} images bit-identical on {string.Join(", ", Paths())}; layers with int32 accumulators {accumulators.GetValueOrDefault(32)}, int64 {accumulators.GetValueOrDefault(64)}");
        }

        /// <summary>ResNet-18's deep layers cannot be proven to fit int32 at 16 bits: the int64 chunked path is the one the test above ran.</summary>
        [Fact]
        public void DeepLayersWithSixteenBitInputsAccumulateInInt64AndShallowOnesInInt32()
        {
            var (lowering, _) = CompileSample("resnet18", new CompilationOptions { ActivationBits = 16 });
            var convolutions = lowering.IntegerGraph!.Operations.OfType<QConvolution>().ToList();
            Assert.Contains(convolutions, c => c.AccumulatorBits == 64);
            Assert.Contains(convolutions, c => c.AccumulatorBits == 32);
        }

        /// <summary>Every other layer at 16 bits: int8 → int16, int16 → int8 convolutions, adds and pools of either width meet.</summary>
        [Theory]
        [MemberData(nameof(Models))]
        public void MixedEightAndSixteenBitLayersAreBitIdenticalToTheIntegerReferenceOnEveryKernelPath(string model)
        {
            const int count = 20;
            var (plain, _) = CompileSample(model, new CompilationOptions());
            var layers = plain.FloatGraph!.Nodes.Where(n => n.Op is IR.Conv || n.Op is IR.Binary).Select(n => n.Name).ToList();
            string wide = string.Join(",", layers.Where((_, i) => i % 2 == 0).Select(n => n + "=16"));
            var (lowering, generated) = CompileSample(model, new CompilationOptions { LayerActivationBits = wide });
            var graph = lowering.IntegerGraph!;
            Assert.Contains(graph.Operations, op => op is QConvolution c && c.Input.IsWide && !c.Output.IsWide);
            Assert.Contains(graph.Operations, op => op is QConvolution c && !c.Input.IsWide && c.Output.IsWide);
            var reference = new IntegerExecutor(graph);
            var quantized = SampleData.TestInputs(model, count).Select(i => IntegerExecutor.Quantize(i, graph.Inputs[0].Output)).ToArray();
            var expected = quantized.Select(q => reference.RunQuantized(q)).ToArray();
            foreach (var path in Paths())
            {
                using var pinned = KernelPathScope.Use(path);
                for (int i = 0; i < count; i++)
                    Assert.True(expected[i].AsSpan().SequenceEqual(generated.Run(quantized[i])), $"{model}: test image {i} differs on kernel path {path}");
            }
        }

        /// <summary>Full-range int16 inputs (extremes included) through layers that hit every kernel edge, on every path.</summary>
        [Fact]
        public void OddShapedSixteenBitLayersAreBitIdenticalOnFullRangeInputs()
        {
            const int Length = 3 * 11 * 7;
            var model = TinyModels.OddShapes();
            var statistics = TinyModels.Calibrate(model, "odd.onnx", TinyModels.RandomInputs(64, Length, seed: 4).ToList());
            var input = new ModelInput("odd.onnx", model, "odd.calib", statistics, new CompilationOptions { ActivationBits = 16 },
                new TargetClass("Tests.Generated", "Odd16", "public", true));
            var lowering = ModelCompiler.Lower(input);
            var result = ModelCompiler.Compile(input);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            using var generated = new GeneratedModel(result.Source!, "Tests.Generated.Odd16");
            var reference = new IntegerExecutor(lowering.IntegerGraph!);
            var random = new Random(5);
            var inputs = Enumerable.Range(0, 30).Select(_ => Enumerable.Range(0, Length).Select(_ => (short)random.Next(short.MinValue, short.MaxValue + 1)).ToArray()).ToList();
            inputs.Add(Enumerable.Repeat(short.MinValue, Length).ToArray());
            inputs.Add(Enumerable.Repeat(short.MaxValue, Length).ToArray());
            var expected = inputs.Select(q => reference.RunQuantized(q)).ToArray();
            foreach (var path in Paths())
            {
                using var pinned = KernelPathScope.Use(path);
                for (int i = 0; i < inputs.Count; i++)
                    Assert.True(expected[i].AsSpan().SequenceEqual(generated.Run(inputs[i])), $"input {i} differs on kernel path {path}");
            }
        }

        /// <summary>16-bit activations remove almost all activation rounding: the outputs are much closer to the float model's.</summary>
        [Fact]
        public void SixteenBitActivationsTrackTheFloatModelCloserThanEightBit()
        {
            const string model = "mobilenet_v2_small";
            var inputs = SampleData.TestInputs(model, 50);
            var (eight, _) = CompileSample(model, new CompilationOptions());
            var (sixteen, _) = CompileSample(model, new CompilationOptions { ActivationBits = 16 });
            var floatModel = new FloatExecutor(eight.FloatGraph!);
            double Error(Lowering lowering)
            {
                var executor = new IntegerExecutor(lowering.IntegerGraph!);
                return inputs.Sum(x => floatModel.Run(x).Zip(executor.Run(x), (f, q) => (double)(f - q) * (f - q)).Sum());
            }
            double error8 = Error(eight), error16 = Error(sixteen);
            _output.WriteLine($"squared output error over 50 images: A8 {error8:G4}, A16 {error16:G4}");
            Assert.True(error16 < 0.5 * error8, $"A16 error {error16} is not well below A8 error {error8}");
        }

        [Theory]
        [InlineData("conv_missing=16", "NQG0031")]
        [InlineData("x=12", "NQG0015")]
        public void InvalidLayerActivationBitsAreDiagnosed(string option, string id)
        {
            var model = TinyModels.ResidualCnn();
            var statistics = TinyModels.Calibrate(model, "residual.onnx", TinyModels.RandomInputs(16, 3 * 12 * 12, seed: 1).ToList());
            var result = ModelCompiler.Compile(new ModelInput("residual.onnx", model, "residual.calib", statistics,
                new CompilationOptions { LayerActivationBits = option }, new TargetClass(null, "Residual", "public", true)));
            Assert.Null(result.Source);
            Assert.Contains(result.Diagnostics, d => d.Id == id && d.Message.Contains("LayerActivationBits"));
        }

        [Fact]
        public void ALookupTableOverSixteenBitValuesIsRefusedWithItsOwnDiagnostic()
        {
            var model = new OnnxBuilder()
                .Input("input", 1, 4)
                .Node("Sigmoid", new[] { "input" }, new[] { "y" }, "sigmoid")
                .Output("y")
                .Bytes();
            var statistics = TinyModels.Calibrate(model, "sigmoid.onnx", TinyModels.RandomInputs(16, 4, seed: 1).ToList());
            var result = ModelCompiler.Compile(new ModelInput("sigmoid.onnx", model, "sigmoid.calib", statistics,
                new CompilationOptions { ActivationBits = 16 }, new TargetClass(null, "Sigmoid", "public", true)));
            Assert.Null(result.Source);
            Assert.Contains(result.Diagnostics, d => d.Kind == DiagnosticCatalog.WideActivationUnsupported && d.Message.Contains("sigmoid"));
        }
    }
}
