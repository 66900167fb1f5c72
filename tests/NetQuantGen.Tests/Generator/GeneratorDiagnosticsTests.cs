using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;
using NetQuantGen.Generator;
using Xunit;
using ModelOptions = NetQuantGen.Compiler.CompilationOptions;
using static NetQuantGen.Tests.Generator.GeneratorTestInputs;

namespace NetQuantGen.Tests.Generator
{
    /// <summary>
    /// Every problem the generator itself finds is one diagnostic from the catalog, located on the attribute,
    /// with a message that says what to do; no exception ever escapes the generator.
    /// </summary>
    public class GeneratorDiagnosticsTests
    {
        /// <summary>Runs the generator on one attributed class (and the listed model, unless told otherwise).</summary>
        private static (GeneratorRunResult Result, SyntaxTree Tree) Run(string source, Action<GeneratorDriverHarness>? files = null, bool projectDirectory = true)
        {
            using var harness = new GeneratorDriverHarness(projectDirectory);
            if (files == null) harness.AddFile(ModelPath, AllBytesModel());
            else files(harness);
            var tree = harness.SetSource("Tiny.cs", source);
            return (harness.Run(), tree);
        }

        /// <summary>The single diagnostic of the run, which must have <paramref name="kind"/>'s ID and sit on the attribute.</summary>
        private static Diagnostic Single(DiagnosticKind kind, (GeneratorRunResult Result, SyntaxTree Tree) run)
        {
            var diagnostic = Assert.Single(run.Result.Diagnostics);
            Assert.Equal(kind.Id, diagnostic.Id);
            Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
            Assert.Equal(kind.Title, diagnostic.Descriptor.Title.ToString());
            Assert.Equal(DiagnosticDescriptors.Category, diagnostic.Descriptor.Category);
            GeneratorDriverHarness.AssertOnAttribute(diagnostic, run.Tree);
            Assert.Empty(run.Result.GeneratedSources);
            return diagnostic;
        }

        [Fact]
        public void EveryCatalogKindHasADescriptor()
        {
            Assert.Equal(DiagnosticCatalog.All.Count, DiagnosticDescriptors.All.Count);
            Assert.Equal(DiagnosticCatalog.All.Count, DiagnosticCatalog.All.Select(k => k.Id).Distinct().Count());
            foreach (var kind in DiagnosticCatalog.All)
            {
                var descriptor = DiagnosticDescriptors.For(kind);
                Assert.Equal(kind.Id, descriptor.Id);
                Assert.Equal(kind.Title, descriptor.Title.ToString());
                Assert.Equal(DiagnosticDescriptors.Severity(kind.Level), descriptor.DefaultSeverity);
                Assert.True(descriptor.IsEnabledByDefault);
            }
        }

        [Fact]
        public void MissingModelFile()
        {
            var d = Single(DiagnosticCatalog.MissingFile, Run(Source("\"models/missing.onnx\"")));
            Assert.Contains("'models/missing.onnx' was not found", d.GetMessage());
            Assert.Contains("<AdditionalFiles Include=\"models/missing.onnx\" />", d.GetMessage());
            Assert.Contains("Demo.Tiny", d.GetMessage());
        }

        [Fact]
        public void ModelFileOnDiskButNotListed()
        {
            var d = Single(DiagnosticCatalog.MissingFile, Run(Source(), h => h.AddFile(ModelPath, AllBytesModel(), listed: false)));
            Assert.Contains("exists", d.GetMessage());
            Assert.Contains("not listed as an AdditionalFile", d.GetMessage());
            Assert.Contains("<AdditionalFiles Include=\"models/tiny.onnx\" />", d.GetMessage());
        }

        [Fact]
        public void MissingCalibrationFile()
        {
            var d = Single(DiagnosticCatalog.MissingFile, Run(Source($"\"{ModelPath}\", Calibration = \"models/tiny.calib\"")));
            Assert.Contains("Calibration file 'models/tiny.calib'", d.GetMessage());
            Assert.Contains("<AdditionalFiles Include=\"models/tiny.calib\" />", d.GetMessage());
        }

        [Fact]
        public void CalibrationFileIsFoundAndHandedOn()
        {
            byte[] statistics = { 1, 2, 3, 0xFF };
            var (result, _) = Run(Source($"\"{ModelPath}\", Calibration = \"models/tiny.calib\""), h =>
            {
                h.AddFile(ModelPath, AllBytesModel());
                h.AddFile("models/tiny.calib", statistics);
            });
            var resolved = (ResolvedModel)Assert.Single(GeneratorDriverHarness.StepOutputs(result, TrackingNames.ResolvedModels)).Value;
            Assert.Empty(resolved.Diagnostics);
            Assert.Equal(Sha256(statistics), resolved.Calibration!.Sha256);
            Assert.Equal(Sha256(AllBytesModel()), resolved.Model!.Sha256);
            // Whatever the compiler makes of the (fake) statistics, no file is reported missing.
            Assert.DoesNotContain(result.Diagnostics, d => d.Id == DiagnosticCatalog.MissingFile.Id);
        }

        [Fact]
        public void CalibratedModelCompilesWithTheHeader()
        {
            var model = AllBytesModel();
            var (result, _) = Run(Source(CalibratedArguments), h =>
            {
                h.AddFile(ModelPath, model);
                h.AddFile(CalibrationPath, Statistics(model));
            });
            AssertCompiled(result, ModelPath, Sha256(model));
        }

        [Fact]
        public void GeneratedSourceCompilesIntoTheUsersClass()
        {
            using var harness = new GeneratorDriverHarness();
            var model = AllBytesModel();
            harness.AddFile(ModelPath, model);
            harness.AddFile(CalibrationPath, Statistics(model));
            harness.SetSource("Tiny.cs", Source(CalibratedArguments));
            AssertCompiled(harness.Run(), ModelPath, Sha256(model));
            var errors = harness.OutputCompilation!.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
            Assert.True(errors.Count == 0, string.Join("\n", errors.Take(10)));
        }

        [Fact]
        public void NoCalibrationGivesNoGeneratorDiagnostic()
        {
            var (result, tree) = Run(Source());
            var resolved = (ResolvedModel)Assert.Single(GeneratorDriverHarness.StepOutputs(result, TrackingNames.ResolvedModels)).Value;
            Assert.Empty(resolved.Diagnostics);
            Assert.Empty(resolved.Spec.Diagnostics);
            Assert.Null(resolved.Calibration);
            // What the compiler says about it (no calibration statistics) is also placed on the attribute.
            Assert.NotEmpty(result.Diagnostics);
            foreach (var d in result.Diagnostics)
            {
                Assert.DoesNotContain(d.Id, new[] { DiagnosticCatalog.MissingFile.Id, DiagnosticCatalog.InvalidOption.Id });
                GeneratorDriverHarness.AssertOnAttribute(d, tree);
            }
        }

        [Fact]
        public void ClassNotPartial()
        {
            var d = Single(DiagnosticCatalog.ClassNotPartial, Run(Source(declaration: "public static class Tiny { }")));
            Assert.Contains("partial", d.GetMessage());
        }

        [Fact]
        public void NestedClass()
        {
            const string source = "using NetQuantGen;\nnamespace Demo\n{\n    public static partial class Outer\n    {\n" +
                "        [QuantizedModel(\"models/tiny.onnx\")]\n        public static partial class Tiny { }\n    }\n}\n";
            var d = Single(DiagnosticCatalog.UnsupportedTargetClass, Run(source));
            Assert.Contains("nested", d.GetMessage());
        }

        [Fact]
        public void GenericClass()
        {
            var d = Single(DiagnosticCatalog.UnsupportedTargetClass, Run(Source(declaration: "public partial class Tiny<T> { }")));
            Assert.Contains("generic", d.GetMessage());
        }

        [Theory]
        [InlineData("1,x,5,5")]
        [InlineData("1,2,0,5")]
        [InlineData("1;2;5;5")]
        [InlineData("1,2,,5")]
        [InlineData("-1,2,5,5")]
        public void InvalidInputShape(string shape)
        {
            var d = Single(DiagnosticCatalog.InvalidOption, Run(Source($"\"{ModelPath}\", InputShape = \"{shape}\"")));
            Assert.Contains($"InputShape \"{shape}\"", d.GetMessage());
        }

        [Theory]
        [InlineData(0)]
        [InlineData(1)]
        [InlineData(9)]
        [InlineData(16)]
        [InlineData(-8)]
        public void WeightBitsOutOfRange(int bits)
        {
            var d = Single(DiagnosticCatalog.InvalidOption, Run(Source($"\"{ModelPath}\", WeightBits = {bits}")));
            Assert.Contains($"WeightBits is {bits}", d.GetMessage());
            Assert.Contains("2 to 8", d.GetMessage());
        }

        [Theory]
        [InlineData(2)]
        [InlineData(4)]
        [InlineData(8)]
        public void WeightBitsInRangeAreAccepted(int bits)
        {
            var (result, _) = Run(Source($"\"{ModelPath}\", WeightBits = {bits}"));
            var spec = (ModelSpec)Assert.Single(GeneratorDriverHarness.StepOutputs(result, TrackingNames.ModelSpecs)).Value;
            Assert.Empty(spec.Diagnostics);
            Assert.Equal(bits, spec.Options.WeightBits);
        }

        [Theory]
        [InlineData("ActivationBits = 12", "ActivationBits is 12")]
        [InlineData("ActivationRange = (RangeMethod)9", "ActivationRange is 9")]
        [InlineData("WeightGranularity = (WeightGranularity)5", "WeightGranularity is 5")]
        [InlineData("Passes = (QuantizationPasses)64", "Passes is 64")]
        [InlineData("Percentile = 20.0", "Percentile is 20")]
        [InlineData("Percentile = 100.5", "Percentile is 100.5")]
        [InlineData("MaxTensorMegabytes = 0", "MaxTensorMegabytes is 0")]
        [InlineData("Calibration = \"\"", "Calibration is empty")]
        [InlineData("Calibration = \"models/tiny.json\"", "does not end in .calib")]
        [InlineData("LayerWeightBits = \"conv=9\"", "layer 'conv' has 9 bits")]
        [InlineData("LayerWeightBits = \"conv\"", "'conv' is not of the form node=bits")]
        [InlineData("SizeBudgetKiB = -1", "SizeBudgetKiB is -1")]
        [InlineData("WeightRange = (WeightRangeMethod)4", "WeightRange is 4")]
        [InlineData("BiasCorrection = (BiasCorrection)7", "BiasCorrection is 7")]
        [InlineData("Requantization = (Requantization)3", "Requantization is 3")]
        public void OtherInvalidArguments(string argument, string expected)
        {
            var d = Single(DiagnosticCatalog.InvalidOption, Run(Source($"\"{ModelPath}\", {argument}")));
            Assert.Contains(expected, d.GetMessage());
        }

        [Fact]
        public void ModelPathMustNameAnOnnxFile()
        {
            var d = Single(DiagnosticCatalog.InvalidOption, Run(Source("\"models/tiny.pb\"")));
            Assert.Contains("does not end in .onnx", d.GetMessage());
        }

        [Fact]
        public void AllArgumentsAreRead()
        {
            var (result, _) = Run(Source($"\"{ModelPath}\", InputShape = \"1,2,5,5\", WeightBits = 4, ActivationBits = 8, " +
                "WeightGranularity = WeightGranularity.PerTensor, ActivationRange = RangeMethod.Percentile, Percentile = 99.9, " +
                "Passes = QuantizationPasses.FoldBatchNorm | QuantizationPasses.RemoveIdentity, MaxTensorMegabytes = 64, Requantization = Requantization.Float"));
            var spec = (ModelSpec)Assert.Single(GeneratorDriverHarness.StepOutputs(result, TrackingNames.ModelSpecs)).Value;
            Assert.Empty(spec.Diagnostics);
            Assert.Equal(new NetQuantGen.Compiler.CompilationOptions
            {
                InputShape = "1,2,5,5",
                WeightBits = 4,
                ActivationBits = 8,
                WeightGranularity = NetQuantGen.Compiler.WeightGranularityOption.PerTensor,
                ActivationRange = NetQuantGen.Compiler.RangeMethodOption.Percentile,
                Percentile = 99.9,
                Passes = 3,
                MaxTensorMegabytes = 64,
                Requantization = NetQuantGen.Compiler.RequantizationOption.Float,
            }, spec.Options);
            Assert.Equal(("Demo", "Tiny", "public", true), (spec.Namespace, spec.ClassName, spec.Accessibility, spec.IsStatic));
            Assert.Equal(HintName, spec.HintName);
        }

        [Fact]
        public void PostTrainingQuantizationArgumentsAreRead()
        {
            var (result, _) = Run(Source($"\"{ModelPath}\", WeightRange = WeightRangeMethod.Mse, BiasCorrection = BiasCorrection.Analytic, " +
                "LayerWeightBits = \"conv=4,fc=6\", SizeBudgetKiB = 12, DataFree = false, " +
                "Passes = QuantizationPasses.Default | QuantizationPasses.ReplaceRelu6 | QuantizationPasses.CrossLayerEqualization | QuantizationPasses.HighBiasAbsorption"));
            var spec = (ModelSpec)Assert.Single(GeneratorDriverHarness.StepOutputs(result, TrackingNames.ModelSpecs)).Value;
            Assert.Empty(spec.Diagnostics);
            Assert.Equal(new NetQuantGen.Compiler.CompilationOptions
            {
                WeightRange = NetQuantGen.Compiler.WeightRangeOption.Mse,
                BiasCorrection = NetQuantGen.Compiler.BiasCorrectionOption.Analytic,
                LayerWeightBits = "conv=4,fc=6",
                SizeBudgetKiB = 12,
                DataFree = false,
                Passes = 63,
            }, spec.Options);
            Assert.Equal(new[] { "remove-identity", "fold-batchnorm", "fuse-activation", "relu6-to-relu", "cross-layer-equalization", "high-bias-absorption" },
                spec.Options.PassNames());
        }

        [Fact]
        public void GlobalNamespaceAndInternalClass()
        {
            using var harness = new GeneratorDriverHarness();
            harness.AddFile(ModelPath, AllBytesModel());
            harness.SetSource("Tiny.cs", "[NetQuantGen.QuantizedModel(\"models/tiny.onnx\")]\ninternal partial class Tiny { }\n");
            var spec = (ModelSpec)Assert.Single(GeneratorDriverHarness.StepOutputs(harness.Run(), TrackingNames.ModelSpecs)).Value;
            Assert.Equal((null, "Tiny", "internal", false), (spec.Namespace, spec.ClassName, spec.Accessibility, spec.IsStatic));
            Assert.Equal("Tiny.QuantizedModel.g.cs", spec.HintName);
        }

        [Fact]
        public void MalformedModelIsNqg0002WithoutAnException()
        {
            var random = new Random(3);
            var garbage = new byte[1000];
            random.NextBytes(garbage);
            var run = Run(Source(), h => h.AddFile(ModelPath, garbage));
            Assert.Null(run.Result.Exception);
            var d = Single(DiagnosticCatalog.MalformedModel, run);
            Assert.Contains(ModelPath, d.GetMessage());
        }

        [Fact]
        public void TruncatedModelIsADiagnosticWithoutAnException()
        {
            var bytes = AllBytesModel();
            var run = Run(Source(), h => h.AddFile(ModelPath, bytes.Take(bytes.Length / 2).ToArray()));
            Assert.Null(run.Result.Exception);
            var d = Assert.Single(run.Result.Diagnostics);
            Assert.Equal(DiagnosticSeverity.Error, d.Severity);
            Assert.NotEqual(DiagnosticCatalog.InternalError.Id, d.Id);
            GeneratorDriverHarness.AssertOnAttribute(d, run.Tree);
        }

        [Fact]
        public void EmptyModelFileIsMalformed()
        {
            var d = Single(DiagnosticCatalog.MalformedModel, Run(Source(), h => h.AddFile(ModelPath, Array.Empty<byte>())));
            Assert.Contains("empty", d.GetMessage());
        }

        [Fact]
        public void UnreadableListedFileIsADiagnostic()
        {
            // A listed AdditionalFile that is gone by the time the generator reads it (deleted, or a folder).
            var run = Run(Source(), h =>
            {
                var path = h.AddFile(ModelPath, AllBytesModel());
                System.IO.File.Delete(path);
            });
            var d = Single(DiagnosticCatalog.MissingFile, run);
            Assert.Contains("could not be read", d.GetMessage());
        }

        [Fact]
        public void AttributeThatDoesNotBindIsLeftToTheCompiler()
        {
            var (result, _) = Run(Source("42"));
            Assert.Empty(result.Diagnostics); // CS1503 from the C# compiler says it all
            Assert.Empty(result.GeneratedSources);
        }

        [Fact]
        public void BackslashesAndDotSegmentsInThePathResolve()
        {
            var (result, _) = Run(Source("@\".\\models\\tiny.onnx\""));
            var resolved = (ResolvedModel)Assert.Single(GeneratorDriverHarness.StepOutputs(result, TrackingNames.ResolvedModels)).Value;
            Assert.Empty(resolved.Diagnostics);
            Assert.NotNull(resolved.Model);
        }

        [Fact]
        public void AmbiguousSuffixIsAnError()
        {
            var run = Run(Source("\"tiny.onnx\""), h =>
            {
                h.AddFile("a/tiny.onnx", AllBytesModel());
                h.AddFile("b/tiny.onnx", AllBytesModel(0.02f));
            });
            var d = Single(DiagnosticCatalog.AmbiguousFile, run);
            Assert.Contains("a/tiny.onnx", d.GetMessage().Replace('\\', '/'));
            Assert.Contains("b/tiny.onnx", d.GetMessage().Replace('\\', '/'));
        }

        [Fact]
        public void TheFileRelativeToTheProjectWinsOverOtherSuffixMatches()
        {
            using var harness = new GeneratorDriverHarness();
            harness.AddFile("elsewhere/models/tiny.onnx", AllBytesModel(0.02f));
            var expected = harness.AddFile(ModelPath, AllBytesModel());
            harness.SetSource("Tiny.cs", Source());
            var resolved = (ResolvedModel)Assert.Single(GeneratorDriverHarness.StepOutputs(harness.Run(), TrackingNames.ResolvedModels)).Value;
            Assert.Empty(resolved.Diagnostics);
            Assert.Equal(expected, resolved.Model!.Path);
        }

        [Fact]
        public void WithoutTheProjectFolderASingleSuffixMatchIsUsed()
        {
            var (result, _) = Run(Source(), projectDirectory: false);
            var resolved = (ResolvedModel)Assert.Single(GeneratorDriverHarness.StepOutputs(result, TrackingNames.ResolvedModels)).Value;
            Assert.Empty(resolved.Diagnostics);
            Assert.NotNull(resolved.Model);
        }

        [Fact]
        public void SuffixMatchesOnlyOnAFolderBoundary()
        {
            // "models/tiny.onnx" must not match ".../mymodels/tiny.onnx".
            var d = Single(DiagnosticCatalog.MissingFile, Run(Source(), h => h.AddFile("mymodels/tiny.onnx", AllBytesModel()), projectDirectory: false));
            Assert.Contains("was not found", d.GetMessage());
        }
    }
}
