using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using NetQuantGen.Calibration;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;
using NetQuantGen.Export;

namespace NetQuantGen.Cli
{
    /// <summary>
    /// `netquant export --qdq`: lower the model exactly as the build does (same statistics, same options) and
    /// write it as a QDQ ONNX model that ONNX Runtime runs as INT8 — the like-for-like baseline for benchmarks
    /// and a way to check our quantization with another runtime.
    /// </summary>
    internal static class ExportCommand
    {
        /// <summary>The attribute's quantization choices as options; export, optimize and report parse them with <see cref="ParseOptions"/>.</summary>
        internal static readonly OptionSpec[] QuantizationOptions =
        {
            new OptionSpec("weight-bits", "N", "Weight width, 2 to 8 (default 8), as the attribute's WeightBits."),
            new OptionSpec("granularity", "g", "Weight scales: per-channel (default) or per-tensor, as the attribute's WeightGranularity."),
            new OptionSpec("range", "method", "Activation range setting: minmax (default), percentile, mse or entropy, as the attribute's ActivationRange."),
            new OptionSpec("percentile", "P", "The percentile for --range percentile (default 99.99)."),
        };

        public static readonly CommandSpec Spec = new(
            "export",
            "Write the quantized model as a QDQ ONNX model (int8, opset 13) for ONNX Runtime and other runtimes.",
            "Quantizes the model exactly as the build does (the same statistics, options and float passes) and writes it as a QDQ ONNX model: QuantizeLinear/DequantizeLinear pairs with our scale and zero-point on every activation tensor, our int8 per-channel weights and int32 biases behind DequantizeLinear, and the float operators between them. ONNX Runtime fuses it into QLinearConv, QGemm, QLinearAdd, ...",
            new[] { new PositionalSpec("model.onnx", "The ONNX model (the float model the build compiles).") },
            [
                new OptionSpec("qdq", null, "Write QuantizeLinear/DequantizeLinear (QDQ) format, the only format so far.", Required: true),
                new OptionSpec("stats", "file.calib", "The statistics file from 'netquant calibrate' (the build's Calibration argument).", Required: true),
                new OptionSpec("out", "file.onnx", "The model to write (default: the model's path with .qdq.onnx). Written atomically."),
                new OptionSpec("activations", "type", "int8 (default: exactly our zero-points) or uint8 (the same quantization with zero-point + 128: what ONNX Runtime's x86 kernels run; it then fuses residual networks entirely)."),
                new OptionSpec("input-shape", "dims", "Static shape of the model's first input, e.g. 1,3,224,224, as the attribute's InputShape (the statistics must have been computed at the same shape)."),
                new OptionSpec("passes", "list", ModelLoader.PassesHelp),
                new OptionSpec("requantization", "arithmetic", "fixed-point (default, DESIGN §3) or float (ONNX Runtime's), as the attribute's Requantization: the arithmetic of the build this export is checked against (recorded in the model's metadata)."),
                .. QuantizationOptions,
            ],
            "With --requantization float the generated code computes what ONNX Runtime computes on this export (its\n" +
            "float requantization, QLinearAdd and QLinearGlobalAveragePool), bit for bit on the sample models. With the\n" +
            "default fixed-point arithmetic ONNX Runtime's results differ by a quantization step here and there: it rounds\n" +
            "once in float where fixed-point multipliers round twice, and adds and averages in float.\n\n" +
            "Example:\n" +
            "  netquant export --qdq resnet18.onnx --stats resnet18_224.calib --input-shape 1,3,224,224 --out resnet18_224.qdq.onnx");

        public static int Run(ParsedArguments args, Output output, CancellationToken cancellation)
        {
            string modelPath = args.Positionals[0];
            string statsPath = args.Value("stats")!;
            string outPath = args.Value("out") ?? DefaultOutput(modelPath);
            var options = ParseOptions(args) with { Requantization = ParseRequantization(args, Spec) };
            var activations = args.Value("activations") switch
            {
                null or "int8" => QdqActivationType.Int8,
                "uint8" => QdqActivationType.UInt8,
                string other => throw new UsageException($"--activations '{other}' is not int8 or uint8", Spec),
            };
            string? inputName = null;
            if (args.Value("input-shape") is string shapeText)
            {
                var parsed = ModelLoader.ParseInputShapes(new[] { shapeText }, Spec);
                if (parsed.InputShapes.Count > 0) inputName = parsed.InputShapes.Keys.First();
                var dims = parsed.FirstInputShape ?? parsed.InputShapes.Values.First();
                options = options with { InputShape = string.Join(",", dims.Select(d => d.ToString(CultureInfo.InvariantCulture))) };
            }
            string fullOut = Path.GetFullPath(outPath);
            if (fullOut == Path.GetFullPath(modelPath)) throw new UsageException($"--out '{outPath}' would overwrite the model", Spec);
            if (fullOut == Path.GetFullPath(statsPath)) throw new UsageException($"--out '{outPath}' would overwrite the statistics", Spec);

            byte[]? modelBytes = ReadFile(modelPath, "Model", output);
            if (modelBytes == null) return CliApp.Failure;
            byte[]? statsBytes = ReadFile(statsPath, "Statistics", output);
            if (statsBytes == null) return CliApp.Failure;
            cancellation.ThrowIfCancellationRequested();

            var input = new ModelInput(Path.GetFileName(modelPath), modelBytes, Path.GetFileName(statsPath), statsBytes, options,
                new TargetClass(null, "Model", "public", true));
            var result = QdqExporter.Export(input, new QdqExportOptions { Activations = activations, Producer = CliApp.Producer });
            foreach (var d in result.Diagnostics) output.Diagnostic(IsAboutStatistics(d) ? statsPath : modelPath, d);
            if (result.Diagnostics.Any(d => d.Kind == DiagnosticCatalog.UnpinnedDynamicDimension))
                output.Error.WriteLine("netquant: note: pin dynamic dimensions with --input-shape, as the statistics were (e.g. --input-shape 1,3,32,32).");
            if (!result.Succeeded) return CliApp.Failure;
            if (inputName != null && result.Lowering!.FloatGraph!.Inputs[0].Name != inputName)
            {
                output.Fail(modelPath, $"--input-shape names input '{inputName}', but the model's first input is '{result.Lowering.FloatGraph.Inputs[0].Name}' (export pins the first input, as the attribute's InputShape does).");
                return CliApp.Failure;
            }
            cancellation.ThrowIfCancellationRequested();

            try
            {
                AtomicFile.Write(outPath, result.Model!);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                output.Fail(outPath, $"cannot write the QDQ model: {e.Message}");
                return CliApp.Failure;
            }
            output.Out.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "Wrote {0} ({1:F1} KB, opset {2}): {3}. From {4} (sha256 {5}) with {6}.",
                outPath, result.Model!.Length / 1024.0, QdqExporter.Opset, result.Summary!.Describe(),
                Path.GetFileName(modelPath), result.Lowering!.ModelSha256.Substring(0, 12), Path.GetFileName(statsPath)));
            return CliApp.Success;
        }

        private static string DefaultOutput(string modelPath)
        {
            string folder = Path.GetDirectoryName(modelPath) ?? "";
            return Path.Combine(folder, Path.GetFileNameWithoutExtension(modelPath) + ".qdq.onnx");
        }

        /// <summary>--requantization: fixed-point (the default) or float.</summary>
        internal static RequantizationOption ParseRequantization(ParsedArguments args, CommandSpec spec) => args.Value("requantization") switch
        {
            null or "fixed-point" => RequantizationOption.FixedPoint,
            "float" => RequantizationOption.Float,
            string other => throw new UsageException($"--requantization '{other}' is not fixed-point or float", spec),
        };

        internal static CompilationOptions ParseOptions(ParsedArguments args)
        {
            var options = new CompilationOptions();
            if (args.Value("passes") is string passesText)
            {
                var names = ModelLoader.ParsePasses(passesText, Spec);
                // The attribute carries passes as flags; each flag's name comes from CompilationOptions itself.
                var flagOf = Enumerable.Range(0, 31).Select(b => 1 << b)
                    .Select(f => (Flag: f, Names: new CompilationOptions { Passes = f }.PassNames()))
                    .Where(p => p.Names.Count == 1).ToDictionary(p => p.Names[0], p => p.Flag, StringComparer.Ordinal);
                int flags = 0;
                foreach (var name in names)
                {
                    if (!flagOf.TryGetValue(name, out int flag))
                        throw new UsageException($"--passes: pass '{name}' cannot be selected in a build", Spec);
                    flags |= flag;
                }
                if (!new CompilationOptions { Passes = flags }.PassNames().SequenceEqual(names))
                    throw new UsageException($"--passes: a build runs passes in the order {string.Join(",", new CompilationOptions { Passes = flags }.PassNames())}; give them in that order", Spec);
                options = options with { Passes = flags };
            }
            if (args.Value("weight-bits") is string bitsText)
            {
                if (!int.TryParse(bitsText, NumberStyles.None, CultureInfo.InvariantCulture, out int bits) || bits < 2 || bits > 8)
                    throw new UsageException($"--weight-bits '{bitsText}' is not a width from 2 to 8", Spec);
                options = options with { WeightBits = bits };
            }
            if (args.Value("granularity") is string granularity)
            {
                options = options with
                {
                    WeightGranularity = granularity switch
                    {
                        "per-channel" => WeightGranularityOption.PerChannel,
                        "per-tensor" => WeightGranularityOption.PerTensor,
                        _ => throw new UsageException($"--granularity '{granularity}' is not per-channel or per-tensor", Spec),
                    },
                };
            }
            if (args.Value("range") is string range)
            {
                options = options with
                {
                    ActivationRange = range switch
                    {
                        "minmax" or "min-max" => RangeMethodOption.MinMax,
                        "percentile" => RangeMethodOption.Percentile,
                        "mse" => RangeMethodOption.Mse,
                        "entropy" => RangeMethodOption.Entropy,
                        _ => throw new UsageException($"--range '{range}' is not minmax, percentile, mse or entropy", Spec),
                    },
                };
            }
            if (args.Value("percentile") is string percentileText)
            {
                if (!double.TryParse(percentileText, NumberStyles.Float, CultureInfo.InvariantCulture, out double p) || !(p > 50 && p <= 100))
                    throw new UsageException($"--percentile '{percentileText}' must be above 50 and at most 100 (e.g. 99.99)", Spec);
                options = options with { Percentile = p };
            }
            return options;
        }

        private static bool IsAboutStatistics(ModelDiagnostic d) =>
            d.Kind == DiagnosticCatalog.StaleStatistics || d.Kind == DiagnosticCatalog.TensorNameMismatch || d.Kind == DiagnosticCatalog.MalformedStatistics;

        private static byte[]? ReadFile(string path, string what, Output output)
        {
            try
            {
                return File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                string why = e is FileNotFoundException || e is DirectoryNotFoundException ? "does not exist" : $"cannot be read ({e.Message})";
                output.Diagnostic(path, new ModelDiagnostic(DiagnosticCatalog.MissingFile, $"{what} file '{path}' {why}."));
                return null;
            }
        }
    }
}
