using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using NetQuantGen.Calibration;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;
using NetQuantGen.Runtime.Data;

namespace NetQuantGen.Cli
{
    /// <summary>
    /// `netquant calibrate`: import → float passes → run the float graph over the data (two passes) →
    /// write the statistics file atomically.
    /// </summary>
    internal static class CalibrateCommand
    {
        public static readonly CommandSpec Spec = new(
            "calibrate",
            "Run the float model over calibration data and write its statistics file (model.calib).",
            "Runs the float model (after the float passes) over calibration data and writes the per-tensor statistics (ranges, moments, histograms) that the build quantizes with.",
            new[] { new PositionalSpec("model.onnx", "The ONNX model.") },
            new[]
            {
                new OptionSpec("data", "path", DataSources.DataHelp, Required: true),
                new OptionSpec("out", "file.calib", "The statistics file to write (default: the model's path with .calib). Written atomically."),
                new OptionSpec("count", "N", "Use the first N samples (default: all)."),
                new OptionSpec("input-shape", "dims", ModelLoader.InputShapeHelp, Repeatable: true),
                new OptionSpec("passes", "list", ModelLoader.PassesHelp),
                new OptionSpec("threads", "N", "Samples run at once, one executor each (default: the processor count, at most 8). The file is identical whatever N."),
            },
            "Images are fitted to the model's input as the sample models expect: pixel/255, zero-padded (centred) to the\n" +
            "input's height and width, a grey channel replicated to the input's channels. Data already shaped like the\n" +
            "input (e.g. a float32 .npy of N x 1 x 28 x 28) is used as is.\n\n" +
            "Example:\n" +
            "  netquant calibrate resnet18.onnx --input-shape 1,3,32,32 --data calib-images-idx3-ubyte.gz --out resnet18.calib");

        public static int Run(ParsedArguments args, Output output, CancellationToken cancellation)
        {
            string modelPath = args.Positionals[0];
            string dataPath = args.Value("data")!;
            string outPath = args.Value("out") ?? Path.ChangeExtension(modelPath, StatisticsFile.Extension);
            int? count = null;
            if (args.Value("count") is string countText)
            {
                if (!int.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
                    throw new UsageException($"--count '{countText}' is not a positive integer", Spec);
                count = n;
            }
            int threads = Math.Min(Environment.ProcessorCount, 8);
            if (args.Value("threads") is string threadsText)
            {
                if (!int.TryParse(threadsText, NumberStyles.None, CultureInfo.InvariantCulture, out threads) || threads < 1 || threads > 256)
                    throw new UsageException($"--threads '{threadsText}' is not a number of threads between 1 and 256", Spec);
            }
            var importOptions = ModelLoader.ParseInputShapes(args.Values("input-shape"), Spec);
            var passes = ModelLoader.ParsePasses(args.Value("passes"), Spec);
            if (Path.GetFullPath(outPath) == Path.GetFullPath(modelPath))
                throw new UsageException($"--out '{outPath}' would overwrite the model", Spec);

            var clock = Stopwatch.StartNew();
            var model = ModelLoader.Load(modelPath, importOptions, passes, output);
            if (model == null) return CliApp.Failure;
            if (model.Quantized != null)
            {
                output.Out.WriteLine($"{model.FileName} is already quantized (QuantizeLinear/DequantizeLinear or QOperator nodes): the build takes its scales, zero-points and weights and needs no statistics, so none were written. Build it without Calibration (netquant inspect shows its quantization).");
                return CliApp.Success;
            }
            var graph = model.Graph;
            if (graph.Inputs.Count != 1)
            {
                output.Fail(modelPath, $"the model has {graph.Inputs.Count} inputs ({string.Join(", ", graph.Inputs.Select(i => i.Name))}); calibrate feeds one input from --data.");
                return CliApp.Failure;
            }
            var input = graph.Inputs[0];
            if (input.Type != ElementType.Float32)
            {
                output.Fail(modelPath, $"input '{input.Name}' is {input.Type}; calibrate feeds float32 inputs.");
                return CliApp.Failure;
            }

            IDataSet data;
            try
            {
                data = DataSources.Open(dataPath);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                output.Fail(dataPath, e.Message);
                return CliApp.Failure;
            }

            using (data)
            {
                int n = count ?? data.Count;
                if (n > data.Count)
                {
                    output.Fail(dataPath, $"--count {n} asks for more samples than the data holds ({data.Count}).");
                    return CliApp.Failure;
                }
                if (n == 0)
                {
                    output.Fail(dataPath, "the data holds no samples.");
                    return CliApp.Failure;
                }
                try
                {
                    // Fail early, with the shapes in the message, when the data cannot feed this input.
                    InputPreprocessing.Fit(data.Read(0), input.Shape);
                }
                catch (Exception e) when (e is ArgumentException || e is InvalidDataException || e is IOException)
                {
                    output.Fail(dataPath, $"cannot feed input '{input.Name}' {Shapes.Format(input.Shape)}: {e.Message}");
                    return CliApp.Failure;
                }

                string description = string.Format(CultureInfo.InvariantCulture,
                    "{0}; first {1} of {2} samples; pixel/255 fitted to {3} {4}",
                    data.Description, n, data.Count, input.Name, Shapes.Format(input.Shape));
                var metadata = new CalibrationMetadata(model.Sha256, model.FileName, model.Passes.Ran, description, CliApp.Producer);
                var progress = new ProgressReporter(output);
                CalibrationStatistics statistics;
                try
                {
                    var calibrator = new Calibrator(graph) { DegreeOfParallelism = threads };
                    statistics = calibrator.Run(() => DataSources.Samples(data, n, input.Shape), metadata, progress.Report, n, cancellation);
                }
                catch (ModelException e)
                {
                    progress.Finish();
                    output.Diagnostic(modelPath, e.ToDiagnostic());
                    return CliApp.Failure;
                }
                catch (Exception e) when (e is InvalidDataException || e is IOException || e is ArgumentException || e is InvalidOperationException)
                {
                    progress.Finish();
                    output.Fail(dataPath, e.Message);
                    return CliApp.Failure;
                }
                finally
                {
                    progress.Finish();
                }

                var bytes = StatisticsFile.Write(statistics);
                try
                {
                    AtomicFile.Write(outPath, bytes);
                }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                {
                    output.Fail(outPath, $"cannot write the statistics: {e.Message}");
                    return CliApp.Failure;
                }
                output.Out.WriteLine(string.Format(CultureInfo.InvariantCulture,
                    "Wrote {0}: {1} tensors, {2} samples, {3:F1} s ({4:F1} KB; model sha256 {5}, passes {6}).",
                    outPath, statistics.Tensors.Count, statistics.SampleCount, clock.Elapsed.TotalSeconds, bytes.Length / 1024.0,
                    model.Sha256.Substring(0, 12), statistics.Passes.Count == 0 ? "none" : string.Join(",", statistics.Passes)));
                return CliApp.Success;
            }
        }
    }
}
