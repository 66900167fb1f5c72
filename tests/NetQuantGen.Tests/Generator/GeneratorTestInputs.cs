using System;
using System.Linq;
using System.Security.Cryptography;
using Microsoft.CodeAnalysis;
using NetQuantGen.Generator;
using Xunit;
using static NetQuantGen.Tests.OnnxBuilder;

namespace NetQuantGen.Tests.Generator
{
    /// <summary>Models, sources and assertions shared by the generator tests.</summary>
    public static class GeneratorTestInputs
    {
        public const string ModelPath = "models/tiny.onnx";
        public const string HintName = "Demo.Tiny.QuantizedModel.g.cs";

        /// <summary>
        /// A valid Conv → Relu model that also carries a UINT8 initializer whose raw_data is 0, 1, …, 255, so
        /// the file holds every byte value: any text decoding or newline translation on the way changes its hash.
        /// </summary>
        public static byte[] AllBytesModel(float weightScale = 0.01f) => new OnnxBuilder()
            .Input("x", 1, 2, 5, 5)
            .Initializer("w", new long[] { 3, 2, 3, 3 }, Enumerable.Range(0, 54).Select(i => (i - 27) * weightScale).ToArray())
            .ByteInitializer("all_bytes", Enumerable.Range(0, 256).Select(i => (byte)i).ToArray())
            .Node("Conv", new[] { "x", "w" }, new[] { "c" }, "conv1", Ints("pads", 1, 1, 1, 1))
            .Node("Relu", new[] { "c" }, new[] { "y" }, "relu1")
            .Output("y")
            .Bytes();

        /// <summary>A user file: <c>[QuantizedModel(arguments)] declaration</c> in namespace Demo.</summary>
        public static string Source(string arguments = "\"" + ModelPath + "\"", string declaration = "public static partial class Tiny { }") => $@"using NetQuantGen;

namespace Demo
{{
    [QuantizedModel({arguments})]
    {declaration}
}}
";

        public static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

        /// <summary>
        /// The header line a generated model source must carry: the model as named in the attribute (with '/'
        /// separators) and the SHA-256 of the file's bytes, as 64 lowercase hex digits.
        /// </summary>
        public static string ExpectedHeaderLine(string modelFileName, string sha256) => $"// Model: {modelFileName}, SHA-256 {sha256}";

        /// <summary>Asserts that the leading comment block of a generated source holds the expected header line.</summary>
        public static void AssertHeader(string source, string modelFileName, string sha256)
        {
            var header = source.Split('\n').Select(l => l.TrimEnd('\r'))
                .TakeWhile(l => l.Length == 0 || l.StartsWith("//", StringComparison.Ordinal) || l.StartsWith("#", StringComparison.Ordinal))
                .ToList();
            Assert.Contains(ExpectedHeaderLine(modelFileName, sha256), header);
        }

        /// <summary>Statistics for <see cref="AllBytesModel"/>, as <c>netquant calibrate</c> would write them.</summary>
        public static byte[] Statistics(byte[] model) =>
            TinyModels.Calibrate(model, ModelPath, TinyModels.RandomInputs(8, 2 * 5 * 5, seed: 5).ToList());

        /// <summary>The attribute arguments naming the model and its statistics.</summary>
        public const string CalibratedArguments = "\"" + ModelPath + "\", Calibration = \"" + CalibrationPath + "\"";

        public const string CalibrationPath = "models/tiny.calib";

        /// <summary>
        /// The model compiled: one source under <see cref="HintName"/>, no error, and a header that names the
        /// model as written in the attribute and the SHA-256 of its bytes.
        /// </summary>
        public static void AssertCompiled(GeneratorRunResult result, string modelFileName, string sha256)
        {
            Assert.Empty(result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
            var generated = Assert.Single(result.GeneratedSources, s => s.HintName == HintName);
            AssertHeader(generated.SourceText.ToString(), modelFileName, sha256);
        }

        /// <summary>The model output (hint name, source, diagnostics) of the last run, whatever the compiler did with it.</summary>
        internal static CompiledModel CompiledOutput(GeneratorRunResult result) =>
            (CompiledModel)Assert.Single(GeneratorDriverHarness.StepOutputs(result, TrackingNames.CompiledModels)).Value;

        /// <summary>The file contents the generator read in the last run.</summary>
        internal static FileContent[] FilesRead(GeneratorRunResult result) =>
            GeneratorDriverHarness.StepOutputs(result, TrackingNames.AdditionalFiles).Select(o => (FileContent)o.Value).ToArray();
    }
}
