using NetQuantGen.Cli;
using System;
using System.Linq;
using NetQuantGen.Compiler;
using NetQuantGen.IntegerIR;
using NetQuantGen.Reference;
using NetQuantGen.Runtime.Kernels;
using Xunit;

namespace NetQuantGen.Tests.EndToEnd
{
    /// <summary>Generated code, compiled and run, against the integer reference executor and the float model.</summary>
    public class GeneratedCodeTests
    {
        private const string ModelName = "residual.onnx";

        private static (ModelInput Input, Lowering Lowering) Compile(CompilationOptions? options = null)
        {
            var model = TinyModels.ResidualCnn();
            var statistics = TinyModels.Calibrate(model, ModelName, TinyModels.RandomInputs(64, 3 * 12 * 12, seed: 1).ToList());
            var input = new ModelInput(ModelName, model, "residual.calib", statistics, options ?? new CompilationOptions(),
                new TargetClass("Tests.Generated", "Residual", "public", true));
            var lowering = ModelCompiler.Lower(input);
            Assert.True(lowering.IntegerGraph != null, string.Join("\n", lowering.Diagnostics));
            return (input, lowering);
        }

        public static TheoryData<KernelPath> SupportedPaths()
        {
            var paths = new TheoryData<KernelPath>();
            foreach (KernelPath path in Enum.GetValues(typeof(KernelPath)))
                if (KernelPaths.IsSupported(path)) paths.Add(path);
            return paths;
        }

        [Theory]
        [MemberData(nameof(SupportedPaths))]
        public void GeneratedCodeIsBitIdenticalToTheIntegerReferenceOnEveryKernelPath(KernelPath path)
        {
            using var pinned = KernelPathScope.Use(path);
            var (input, lowering) = Compile();
            var result = ModelCompiler.Compile(input);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            using var generated = new GeneratedModel(result.Source!, "Tests.Generated.Residual");
            var reference = new IntegerExecutor(lowering.IntegerGraph!);
            foreach (var sample in TinyModels.RandomInputs(200, 3 * 12 * 12, seed: 2))
            {
                var q = IntegerExecutor.Quantize(sample, lowering.IntegerGraph!.Inputs[0].Output);
                Assert.Equal(reference.RunQuantized(q), generated.Run(q));
                Assert.Equal(reference.Run(sample), generated.Run(sample));
            }
        }

        [Theory]
        [MemberData(nameof(SupportedPaths))]
        public void OddShapedLayersAreBitIdenticalToTheIntegerReferenceOnEveryKernelPath(KernelPath path)
        {
            using var pinned = KernelPathScope.Use(path);
            const int Length = 3 * 11 * 7;
            var model = TinyModels.OddShapes();
            var statistics = TinyModels.Calibrate(model, "odd.onnx", TinyModels.RandomInputs(64, Length, seed: 4).ToList());
            var input = new ModelInput("odd.onnx", model, "odd.calib", statistics, new CompilationOptions(),
                new TargetClass("Tests.Generated", "Odd", "public", true));
            var lowering = ModelCompiler.Lower(input);
            Assert.True(lowering.IntegerGraph != null, string.Join("\n", lowering.Diagnostics));
            var kernels = lowering.IntegerGraph!.Operations.OfType<QConvolution>().Select(Emit.ConvolutionEmitter.KernelOf).ToArray();
            Assert.Equal(new[] { Emit.ConvolutionKernel.DenseKernelRows, Emit.ConvolutionKernel.Dense, Emit.ConvolutionKernel.Depthwise,
                Emit.ConvolutionKernel.Dense, Emit.ConvolutionKernel.Dense, Emit.ConvolutionKernel.Dense }, kernels);
            var result = ModelCompiler.Compile(input);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            using var generated = new GeneratedModel(result.Source!, "Tests.Generated.Odd");
            var reference = new IntegerExecutor(lowering.IntegerGraph!);
            var random = new Random(5);
            var q = new sbyte[Length];
            for (int i = 0; i < 100; i++)
            {
                // Whole int8 range, extremes included: every padding and edge tap sees large values.
                random.NextBytes((byte[])(object)q);
                Assert.Equal(reference.RunQuantized(q), generated.Run(q));
            }
        }

        /// <summary>
        /// With 4-bit weights the proof admits the uint8 × int8 kernel on the residual model's convolutions: the generated
        /// code still equals the integer reference bit for bit on every path, the int8 input extremes included.
        /// </summary>
        [Theory]
        [MemberData(nameof(SupportedPaths))]
        public void ByteKernelLayersAreBitIdenticalToTheIntegerReferenceOnEveryKernelPath(KernelPath path)
        {
            using var pinned = KernelPathScope.Use(path);
            var (input, lowering) = Compile(new CompilationOptions { WeightBits = 4 });
            var kernels = lowering.IntegerGraph!.Operations.OfType<QConvolution>().Select(Emit.ConvolutionEmitter.KernelOf).ToArray();
            Assert.Contains(Emit.ConvolutionKernel.DenseBytes, kernels);
            var result = ModelCompiler.Compile(input);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            using var generated = new GeneratedModel(result.Source!, "Tests.Generated.Residual");
            var reference = new IntegerExecutor(lowering.IntegerGraph!);
            var random = new Random(6);
            var q = new sbyte[3 * 12 * 12];
            for (int i = 0; i < 100; i++)
            {
                random.NextBytes((byte[])(object)q);
                Assert.Equal(reference.RunQuantized(q), generated.Run(q));
            }
        }

        [Fact]
        public void QuantizedOutputsStayCloseToTheFloatModel()
        {
            var (_, lowering) = Compile();
            var floatModel = new FloatExecutor(lowering.FloatGraph!);
            var reference = new IntegerExecutor(lowering.IntegerGraph!);
            double worst = 0, range = 0;
            foreach (var sample in TinyModels.RandomInputs(50, 3 * 12 * 12, seed: 3))
            {
                var expected = floatModel.Run(sample);
                var actual = reference.Run(sample);
                range = Math.Max(range, expected.Max(Math.Abs));
                worst = Math.Max(worst, expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max());
            }
            // Eight layers of int8 rounding: a few percent of the output range, never more.
            Assert.True(worst < 0.05 * range, $"max abs error {worst} for output range {range}");
        }

        [Theory]
        [InlineData(RangeMethodOption.Percentile)]
        [InlineData(RangeMethodOption.Mse)]
        [InlineData(RangeMethodOption.Entropy)]
        public void EveryRangeMethodBuildsBitExactCode(RangeMethodOption method)
        {
            var (input, lowering) = Compile(new CompilationOptions { ActivationRange = method });
            var result = ModelCompiler.Compile(input);
            using var generated = new GeneratedModel(result.Source!, "Tests.Generated.Residual");
            var reference = new IntegerExecutor(lowering.IntegerGraph!);
            foreach (var sample in TinyModels.RandomInputs(20, 3 * 12 * 12, seed: 4))
                Assert.Equal(reference.Run(sample), generated.Run(sample));
        }

        [Fact]
        public void GeneratedSourceIsDeterministic()
        {
            var (input, _) = Compile();
            string? first = ModelCompiler.Compile(input).Source, second = ModelCompiler.Compile(input).Source;
            Assert.NotNull(first);
            Assert.Equal(first, second); // two independent compilations of the same inputs
        }

        /// <summary>
        /// The compiler runs inside the user's build, under the user's culture: decimal commas (de-DE, fr-FR), the
        /// U+2212 minus sign (sv-SE) and the dotless i (tr-TR) must not reach the INT8 or the FLOAT32 source.
        /// The test project does not use invariant globalization, so these cultures are real here.
        /// </summary>
        [Theory]
        [InlineData("de-DE")]
        [InlineData("fr-FR")]
        [InlineData("sv-SE")]
        [InlineData("tr-TR")]
        public void GeneratedSourceIsTheSameUnderEveryCulture(string cultureName)
        {
            var (input, _) = Compile();
            var floatInput = new ModelInput(input.ModelFileName, input.ModelBytes, null, null, input.Options, input.Target);
            string? int8 = ModelCompiler.Compile(input).Source, float32 = ModelCompiler.Compile(floatInput).Source;
            Assert.NotNull(int8);
            Assert.NotNull(float32);

            var culture = new System.Globalization.CultureInfo(cultureName);
            var saved = (System.Globalization.CultureInfo.CurrentCulture, System.Globalization.CultureInfo.CurrentUICulture);
            try
            {
                System.Globalization.CultureInfo.CurrentCulture = culture;
                System.Globalization.CultureInfo.CurrentUICulture = culture;
                Assert.NotEqual("-1.5", (-1.5).ToString()); // the culture is really in effect (not invariant globalization)
                Assert.Equal(int8, ModelCompiler.Compile(input).Source);
                Assert.Equal(float32, ModelCompiler.Compile(floatInput).Source);
            }
            finally
            {
                (System.Globalization.CultureInfo.CurrentCulture, System.Globalization.CultureInfo.CurrentUICulture) = saved;
            }
        }
    }
}
