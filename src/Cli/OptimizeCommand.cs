using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using NetQuantGen.Calibration;
using NetQuantGen.Cli.Optimization;
using NetQuantGen.Compiler;
using NetQuantGen.Runtime.Data;

namespace NetQuantGen.Cli
{
    /// <summary>
    /// `netquant optimize`: the data-dependent PTQ steps (AdaRound, GPFQ, empirical bias correction), run once
    /// here and saved into the statistics file, which the build then bakes (DESIGN §2).
    /// </summary>
    internal static class OptimizeCommand
    {
        public static readonly CommandSpec Spec = new(
            "optimize",
            "Choose integer weights from data (AdaRound, GPFQ), empirical bias corrections and/or measure layer sensitivity; save them in the .calib.",
            "Runs the float and the quantized model over calibration data layer by layer and saves, in the statistics file, " +
            "integer weights chosen by AdaRound or GPFQ and/or empirical bias corrections. The build bakes them when the " +
            "attribute's WeightBits and WeightGranularity match those given here (else NQG0040).",
            new[] { new PositionalSpec("model.onnx", "The ONNX model.") },
            [
                new OptionSpec("stats", "file.calib", "The statistics file from 'netquant calibrate' (any earlier optimization in it is replaced).", Required: true),
                new OptionSpec("data", "path", DataSources.DataHelp, Required: true),
                new OptionSpec("out", "file.calib", "The statistics file to write (default: --stats itself). Written atomically."),
                new OptionSpec("adaround", null, "Choose each weight's rounding with AdaRound (Nagel et al. 2020)."),
                new OptionSpec("gpfq", null, "Choose the integer weights with GPFQ, greedy path-following quantization (Zhang, Zhou, Saab)."),
                new OptionSpec("gpfq-sparsity", "λ", "Sparsity-promoting GPFQ: soft threshold λ in quantization steps for an input of average energy (default 0: plain GPFQ)."),
                new OptionSpec("bias-correction", "kind", "'empirical': subtract E[W~x~] - E[Wx] per output channel from each bias (alone or after --adaround/--gpfq)."),
                new OptionSpec("sensitivity", null, "Measure each layer's sensitivity (network output noise with only its weights at 2..8 bits) for SizeBudgetKiB's allocation."),
                new OptionSpec("sensitivity-count", "N", "Samples the sensitivity is measured on (default 32)."),
                new OptionSpec("count", "N", "Use the first N samples (default 256)."),
                new OptionSpec("patches", "N", "Input patches sampled per layer (default 2048)."),
                new OptionSpec("iterations", "N", "AdaRound Adam steps per layer (default 500)."),
                new OptionSpec("batch", "N", "AdaRound patches per Adam step (default 128)."),
                new OptionSpec("threads", "N", "Threads (default 2)."),
                new OptionSpec("input-shape", "dims", "Static shape of the model's first input, e.g. 1,3,32,32, as the attribute's InputShape."),
                new OptionSpec("passes", "list", ModelLoader.PassesHelp),
                .. ExportCommand.QuantizationOptions,
            ],
            "The quantized network the layers see uses the same weight and activation settings as the build will.\n\n" +
            "Example:\n" +
            "  netquant optimize resnet18.onnx --stats resnet18.calib --data train-images-idx3-ubyte.gz --input-shape 1,3,32,32 \\\n" +
            "      --adaround --weight-bits 4 --out resnet18.w4-adaround.calib");

        public static int Run(ParsedArguments args, Output output, CancellationToken cancellation)
        {
            string modelPath = args.Positionals[0];
            string statsPath = args.Value("stats")!;
            string outPath = args.Value("out") ?? statsPath;
            var options = ExportCommand.ParseOptions(args);
            if (args.Value("input-shape") is string shapeText)
            {
                var parsed = ModelLoader.ParseInputShapes(new[] { shapeText }, Spec);
                var dims = parsed.FirstInputShape ?? parsed.InputShapes.Values.First();
                options = options with { InputShape = string.Join(",", dims.Select(d => d.ToString(CultureInfo.InvariantCulture))) };
            }
            if (args.Has("adaround") && args.Has("gpfq")) throw new UsageException("choose one of --adaround and --gpfq", Spec);
            bool biasCorrection = args.Value("bias-correction") switch
            {
                null => false,
                "empirical" => true,
                string other => throw new UsageException($"--bias-correction '{other}' is not 'empirical' (analytic bias correction is a build option)", Spec),
            };
            var rounding = args.Has("adaround") ? RoundingMethod.AdaRound : args.Has("gpfq") ? RoundingMethod.Gpfq : RoundingMethod.Nearest;
            double sparsity = Number(args, "gpfq-sparsity", 0, 0, 1000);
            if (sparsity > 0 && rounding != RoundingMethod.Gpfq) throw new UsageException("--gpfq-sparsity needs --gpfq", Spec);
            bool sensitivity = args.Has("sensitivity");
            bool layerwise = rounding != RoundingMethod.Nearest || biasCorrection;
            if (!layerwise && !sensitivity) throw new UsageException("nothing to do: give --adaround, --gpfq, --bias-correction empirical or --sensitivity", Spec);
            int sensitivityCount = (int)Number(args, "sensitivity-count", 32, 1, int.MaxValue);
            var settings = new OptimizationSettings
            {
                Rounding = rounding,
                EmpiricalBiasCorrection = biasCorrection,
                GpfqSparsity = sparsity,
                Patches = (int)Number(args, "patches", 2048, 16, 1 << 20),
                Threads = (int)Number(args, "threads", 2, 1, 256),
                AdaRound = new AdaRoundSettings { Iterations = (int)Number(args, "iterations", 500, 1, 1_000_000), BatchSize = (int)Number(args, "batch", 128, 1, 1 << 20) },
            };
            int count = (int)Number(args, "count", 256, 1, int.MaxValue);
            if (Path.GetFullPath(outPath) == Path.GetFullPath(modelPath)) throw new UsageException($"--out '{outPath}' would overwrite the model", Spec);

            var clock = Stopwatch.StartNew();
            if (!ModelLoader.TryReadModelAndStatistics(modelPath, statsPath, output, out var modelBytes, out var statsBytes)) return CliApp.Failure;
            var read = StatisticsFile.Read(statsBytes, Path.GetFileName(statsPath));
            foreach (var d in read.Diagnostics) output.Diagnostic(statsPath, d);
            if (read.Statistics == null) return CliApp.Failure;
            var plain = read.Statistics.WithOptimization(Array.Empty<RoundedWeights>(), Array.Empty<SavedBiasCorrection>(), "");
            var lowering = ModelCompiler.Lower(new ModelInput(Path.GetFileName(modelPath), modelBytes, Path.GetFileName(statsPath),
                StatisticsFile.Write(plain), options, new TargetClass(null, "Model", "public", true)));
            foreach (var d in lowering.Diagnostics) output.Diagnostic(modelPath, d);
            if (lowering.IntegerGraph == null) return CliApp.Failure;
            var graph = lowering.FloatGraph!;

            float[][] samples;
            try
            {
                using var data = DataSources.Open(args.Value("data")!);
                count = Math.Min(count, data.Count);
                samples = DataSources.Samples(data, count, graph.Inputs[0].Shape).Select(s => (float[])s.Clone()).ToArray();
            }
            catch (Exception e) when (e is IOException || e is InvalidDataException || e is ArgumentException)
            {
                output.Fail(args.Value("data"), e.Message);
                return CliApp.Failure;
            }
            cancellation.ThrowIfCancellationRequested();

            var quantization = ModelCompiler.SettingsFor(options, plain);
            var optimized = plain;
            var summary = new System.Collections.Generic.List<string>();
            if (layerwise)
            {
                var result = LayerwiseOptimizer.Run(graph, quantization, samples, settings, line => output.Error.WriteLine(line));
                string method = rounding switch
                {
                    RoundingMethod.AdaRound => FormattableString.Invariant($"AdaRound ({settings.AdaRound.Iterations} iterations, batch {settings.AdaRound.BatchSize})"),
                    RoundingMethod.Gpfq => sparsity > 0 ? FormattableString.Invariant($"sparse GPFQ (lambda {sparsity})") : "GPFQ",
                    _ => "round to nearest",
                };
                string description = FormattableString.Invariant(
                    $"{method}{(biasCorrection ? " + empirical bias correction" : "")}; W{options.WeightBits} {RoundedWeights.GranularityName(quantization.Granularity)}; {ModelCompiler.Describe(options)}; {count} samples of {Path.GetFileName(args.Value("data"))}, {settings.Patches} patches per layer");
                optimized = optimized.WithOptimization(result.RoundedWeights, result.BiasCorrections, description);
                long zeros = result.RoundedWeights.Sum(r => (long)r.Values.Count(v => v == 0));
                long total = result.RoundedWeights.Sum(r => (long)r.Values.Length);
                summary.Add(string.Format(CultureInfo.InvariantCulture, "{0}; {1} layers, mean relative layer error {2:E2} (nearest {3:E2}){4}",
                    description, result.Layers.Count, result.Layers.Average(l => l.ChosenError), result.Layers.Average(l => l.NearestError),
                    total > 0 ? string.Format(CultureInfo.InvariantCulture, ", {0:F2}% zero weights", 100.0 * zeros / total) : ""));
            }
            if (sensitivity)
            {
                var measured = SensitivityMeasurement.Run(graph, quantization, samples.Take(sensitivityCount).ToList(), settings.Threads, line => output.Error.WriteLine(line));
                optimized = optimized.WithSensitivities(measured);
                summary.Add(FormattableString.Invariant($"sensitivity of {measured.Count} layers on {Math.Min(sensitivityCount, samples.Length)} samples"));
            }
            try
            {
                AtomicFile.Write(outPath, StatisticsFile.Write(optimized));
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                output.Fail(outPath, $"cannot write the statistics: {e.Message}");
                return CliApp.Failure;
            }
            output.Out.WriteLine(string.Format(CultureInfo.InvariantCulture, "Wrote {0}: {1}, {2:F1} s.", outPath, string.Join("; ", summary), clock.Elapsed.TotalSeconds));
            return CliApp.Success;
        }

        private static double Number(ParsedArguments args, string option, double fallback, double min, double max)
        {
            if (args.Value(option) is not string text) return fallback;
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !(value >= min && value <= max))
                throw new UsageException($"--{option} '{text}' must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}", Spec);
            return value;
        }
    }
}
