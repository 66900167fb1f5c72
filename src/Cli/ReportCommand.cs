using System;
using System.IO;
using System.Linq;
using System.Threading;
using NetQuantGen.Calibration;
using NetQuantGen.Cli.Report;
using NetQuantGen.Compiler;
using NetQuantGen.Runtime.Data;

namespace NetQuantGen.Cli
{
    /// <summary>`netquant report`: per-layer SQNR, clipping ranges on histograms, per-channel weight ranges, as text and an HTML page.</summary>
    internal static class ReportCommand
    {
        public static readonly CommandSpec Spec = new(
            "report",
            "Per-layer SQNR, chosen clipping ranges and per-channel weight ranges, as text and an HTML page with plots.",
            "Quantizes the model as the build would (with the given options) and reports per-layer SQNR of weights and, with --data, of " +
            "activations (float vs integer reference executors), each tensor's histogram with the chosen clipping range, and per-channel " +
            "weight ranges before and after cross-layer equalization (white paper Figure 5). Prints the text; writes report.txt, report.html and PNGs.",
            new[] { new PositionalSpec("model.onnx", "The ONNX model.") },
            [
                new OptionSpec("stats", "file.calib", "The statistics file (the build's Calibration argument).", Required: true),
                new OptionSpec("out", "folder", "Where to write report.html, report.txt and the plots (default: <model>-report beside the model)."),
                new OptionSpec("data", "path", "Images for the activation SQNR. " + DataSources.DataHelp),
                new OptionSpec("count", "N", "Images to run for the activation SQNR (default 8)."),
                new OptionSpec("input-shape", "dims", "Static shape of the model's first input, e.g. 1,3,32,32, as the attribute's InputShape."),
                new OptionSpec("passes", "list", ModelLoader.PassesHelp),
                .. ExportCommand.QuantizationOptions,
            ],
            "Example:\n  netquant report resnet18.onnx --stats resnet18.calib --input-shape 1,3,32,32 --data calib-images-idx3-ubyte.gz --out resnet18-report");

        public static int Run(ParsedArguments args, Output output, CancellationToken cancellation)
        {
            string modelPath = args.Positionals[0];
            string statsPath = args.Value("stats")!;
            string folder = args.Value("out") ?? Path.Combine(Path.GetDirectoryName(modelPath) ?? "", Path.GetFileNameWithoutExtension(modelPath) + "-report");
            var options = ExportCommand.ParseOptions(args);
            if (args.Value("input-shape") is string shapeText)
            {
                var parsed = ModelLoader.ParseInputShapes(new[] { shapeText }, Spec);
                var dims = parsed.FirstInputShape ?? parsed.InputShapes.Values.First();
                options = options with { InputShape = string.Join(",", dims) };
            }
            int count = 8;
            if (args.Value("count") is string countText && (!int.TryParse(countText, out count) || count < 1))
                throw new UsageException($"--count '{countText}' is not a positive integer", Spec);

            if (!ModelLoader.TryReadModelAndStatistics(modelPath, statsPath, output, out var modelBytes, out var statsBytes)) return CliApp.Failure;
            var input = new ModelInput(Path.GetFileName(modelPath), modelBytes, Path.GetFileName(statsPath), statsBytes, options, new TargetClass(null, "Model", "public", true));
            var lowering = ModelCompiler.Lower(input);
            foreach (var d in lowering.Diagnostics) output.Diagnostic(modelPath, d);
            if (lowering.IntegerGraph == null) return CliApp.Failure;
            var statistics = StatisticsFile.Read(statsBytes).Statistics!;

            float[][] images = Array.Empty<float[]>();
            if (args.Value("data") is string dataPath)
            {
                try
                {
                    using var data = DataSources.Open(dataPath);
                    images = DataSources.Samples(data, Math.Min(count, data.Count), lowering.FloatGraph!.Inputs[0].Shape).Select(s => (float[])s.Clone()).ToArray();
                }
                catch (Exception e) when (e is IOException || e is InvalidDataException || e is ArgumentException)
                {
                    output.Fail(dataPath, e.Message);
                    return CliApp.Failure;
                }
            }
            cancellation.ThrowIfCancellationRequested();

            var report = QuantizationReport.Build(input, lowering, statistics, images);
            string text;
            try
            {
                text = ReportWriter.Write(report, folder);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                output.Fail(folder, $"cannot write the report: {e.Message}");
                return CliApp.Failure;
            }
            output.Out.Write(text);
            output.Out.WriteLine($"Wrote {Path.Combine(folder, ReportWriter.PageName)} and {Path.Combine(folder, ReportWriter.TextName)}.");
            return CliApp.Success;
        }
    }
}
