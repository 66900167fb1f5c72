using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using NetQuantGen.Cli;
using NetQuantGen.Compiler;
using NetQuantGen.IntegerIR;
using NetQuantGen.Runtime.Kernels;
using Xunit;
using Xunit.Abstractions;
using static NetQuantGen.Tests.OnnxBuilder;

namespace NetQuantGen.Tests.EndToEnd
{
    /// <summary>
    /// Requantization = Float (ONNX Runtime's arithmetic) built end to end: the integer graph carries the float
    /// constants, and the generated code is bit-identical to the integer reference on every kernel path, through every
    /// kernel (patches, dense, depthwise, grouped, fully connected), the float Add and the float global average.
    /// </summary>
    public class FloatRequantizationTests
    {
        private readonly ITestOutputHelper _output;

        public FloatRequantizationTests(ITestOutputHelper output) => _output = output;

        private static readonly CompilationOptions Float = new() { Requantization = RequantizationOption.Float };

        public static TheoryData<KernelPath> SupportedPaths() => GeneratedCodeTests.SupportedPaths();

        /// <summary>Conv 6→8 in two groups (neither dense nor depthwise: the generated loop) → ReLU → GlobalAveragePool.</summary>
        private static byte[] GroupedCnn()
        {
            var random = new Random(13);
            float[] Random(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            return new OnnxBuilder()
                .Input("input", 1, 6, 5, 5)
                .Initializer("w", new long[] { 8, 3, 3, 3 }, Random(8 * 3 * 9))
                .Initializer("b", new long[] { 8 }, Random(8))
                .Node("Conv", new[] { "input", "w", "b" }, new[] { "c" }, "grouped", Ints("pads", 1, 1, 1, 1), Int("group", 2))
                .Node("Relu", new[] { "c" }, new[] { "r" }, "relu")
                .Node("GlobalAveragePool", new[] { "r" }, new[] { "gap" }, "gap")
                .Output("gap")
                .Bytes();
        }

        public static TheoryData<KernelPath, string> PathsAndModels()
        {
            var data = new TheoryData<KernelPath, string>();
            foreach (var path in Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported))
                foreach (var model in new[] { "residual", "odd", "grouped" })
                    data.Add(path, model);
            return data;
        }

        [Theory]
        [MemberData(nameof(PathsAndModels))]
        public void FloatRequantizedTinyModelsAreBitIdenticalToTheIntegerReferenceOnEveryKernelPath(KernelPath path, string model)
        {
            using var pinned = KernelPathScope.Use(path);
            var (bytes, length) = model switch
            {
                "residual" => (TinyModels.ResidualCnn(), 3 * 12 * 12),
                "odd" => (TinyModels.OddShapes(), 3 * 11 * 7),
                _ => (GroupedCnn(), 6 * 5 * 5),
            };
            var statistics = TinyModels.Calibrate(bytes, model + ".onnx", TinyModels.RandomInputs(64, length, seed: 4).ToList());
            var input = new ModelInput(model + ".onnx", bytes, model + ".calib", statistics, Float, new TargetClass("Tests.Generated", "FloatModel", "public", true));
            var lowering = ModelCompiler.Lower(input);
            Assert.True(lowering.IntegerGraph != null, string.Join("\n", lowering.Diagnostics));
            var graph = lowering.IntegerGraph!;
            Assert.All(graph.Operations.OfType<QConvolution>(), c => Assert.Equal(RequantizationArithmetic.Float, c.Arithmetic));
            Assert.All(graph.Operations.OfType<QAdd>(), a => Assert.Equal(RequantizationArithmetic.Float, a.Arithmetic));
            Assert.All(graph.Operations.OfType<QPool>().Where(p => p.Pool == PoolKind.Average), p => Assert.NotNull(p.FloatScale));

            var result = ModelCompiler.Compile(input);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            Assert.Contains("float requantization (ONNX Runtime)", result.Source);
            Assert.DoesNotContain("MultiplyByQuantizedMultiplier", result.Source);
            Assert.DoesNotContain("leftShift", result.Source);
            using var generated = new GeneratedModel(result.Source!, "Tests.Generated.FloatModel");
            var reference = new IntegerExecutor(graph);
            var random = new Random(5);
            var q = new sbyte[length];
            for (int i = 0; i < 100; i++)
            {
                // Whole int8 range, extremes included: large accumulators, saturation and every padding tap.
                random.NextBytes((byte[])(object)q);
                Assert.Equal(reference.RunQuantized(q), generated.Run(q));
            }
        }

        [Theory]
        [InlineData("small_cnn")]
        [InlineData("mobilenet_v2_small")]
        public void FloatRequantizedSampleModelsAreBitIdenticalToTheIntegerReferenceOnEveryKernelPath(string model)
        {
            const int count = 20;
            var input = new ModelInput(model + ".onnx", File.ReadAllBytes(SampleData.OnnxPath(model)), model + ".calib", File.ReadAllBytes(SampleData.StatisticsPath(model)),
                Float with { InputShape = SampleData.InputShapeOption(model) }, new TargetClass("Samples", "Model", "public", true));
            var graph = ModelCompiler.Lower(input).IntegerGraph!;
            var source = ModelCompiler.Compile(input).Source!;
            using var generated = new GeneratedModel(source, "Samples.Model");
            var reference = new IntegerExecutor(graph);
            var quantized = SampleData.TestInputs(model, count).Select(i => IntegerExecutor.Quantize(i, graph.Inputs[0].Output)).ToArray();
            var expected = quantized.Select(reference.RunQuantized).ToArray();
            var paths = Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported).ToArray();
            foreach (var path in paths)
            {
                using var pinned = KernelPathScope.Use(path);
                for (int i = 0; i < count; i++)
                    Assert.True(expected[i].AsSpan().SequenceEqual(generated.Run(quantized[i])), $"{model}: test image {i} differs on kernel path {path}");
            }
            _output.WriteLine($"{model}, Requantization = Float: {count} images bit-identical on {string.Join(", ", paths)}");
        }

        /// <summary>A windowed average and a table keep the integer arithmetic: NQG0060 names them, in the float arithmetic only.</summary>
        [Fact]
        public void OperationsWithoutAFloatFormulationAreNamedByAnInfo()
        {
            var random = new Random(19);
            var bytes = new OnnxBuilder()
                .Input("input", 1, 2, 6, 6)
                .Initializer("w", new long[] { 4, 2, 3, 3 }, Enumerable.Range(0, 72).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray())
                .Node("Conv", new[] { "input", "w" }, new[] { "c" }, "conv", Ints("pads", 1, 1, 1, 1))
                .Node("Sigmoid", new[] { "c" }, new[] { "s" }, "sigmoid")
                .Node("AveragePool", new[] { "s" }, new[] { "pool" }, "pool", Ints("kernel_shape", 2, 2), Ints("strides", 2, 2))
                .Output("pool")
                .Bytes();
            var statistics = TinyModels.Calibrate(bytes, "notes.onnx", TinyModels.RandomInputs(16, 72, seed: 3).ToList());
            IReadOnlyList<Diagnostics.ModelDiagnostic> DiagnosticsWith(RequantizationOption requantization) =>
                ModelCompiler.Lower(new ModelInput("notes.onnx", bytes, "notes.calib", statistics, new CompilationOptions { Requantization = requantization },
                    new TargetClass(null, "Notes", "public", true))).Diagnostics;
            var info = Assert.Single(DiagnosticsWith(RequantizationOption.Float));
            Assert.Equal("NQG0060", info.Id);
            Assert.Contains("node 'sigmoid' (Sigmoid)", info.Message);
            Assert.Contains("node 'pool' (AveragePool)", info.Message);
            Assert.DoesNotContain("'conv'", info.Message);
            Assert.Empty(DiagnosticsWith(RequantizationOption.FixedPoint));
        }

        [Fact]
        public void TheArithmeticIsFixedPointForOurQuantizationAndFloatForQuantizedModelsUnlessChosen()
        {
            Assert.Equal(RequantizationArithmetic.FixedPoint, new CompilationOptions().ArithmeticFor(quantizedModel: false));
            Assert.Equal(RequantizationArithmetic.Float, new CompilationOptions().ArithmeticFor(quantizedModel: true));
            Assert.Equal(RequantizationArithmetic.Float, Float.ArithmeticFor(quantizedModel: false));
            Assert.Equal(RequantizationArithmetic.FixedPoint, new CompilationOptions { Requantization = RequantizationOption.FixedPoint }.ArithmeticFor(quantizedModel: true));
        }
    }
}
