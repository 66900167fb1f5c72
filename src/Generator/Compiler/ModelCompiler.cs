using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.Calibration;
using NetQuantGen.Emit;
using NetQuantGen.Import;
using NetQuantGen.Passes;
using NetQuantGen.Quantization;

namespace NetQuantGen.Compiler
{
    /// <summary>Where the generated code goes: the user's partial class.</summary>
    public sealed record TargetClass(string? Namespace, string Name, string Accessibility, bool IsStatic);

    /// <summary>Everything one model compilation reads: files as bytes (the build reads only files), options, target.</summary>
    public sealed class ModelInput
    {
        public ModelInput(string modelFileName, byte[] modelBytes, string? statisticsFileName, byte[]? statisticsBytes, CompilationOptions options, TargetClass target)
        {
            ModelFileName = modelFileName;
            ModelBytes = modelBytes;
            StatisticsFileName = statisticsFileName;
            StatisticsBytes = statisticsBytes;
            Options = options;
            Target = target;
        }

        public string ModelFileName { get; }

        public byte[] ModelBytes { get; }

        public string? StatisticsFileName { get; }

        public byte[]? StatisticsBytes { get; }

        public CompilationOptions Options { get; }

        public TargetClass Target { get; }
    }

    /// <summary>The stages before emission: the float graph after passes and the integer graph, when they could be built.</summary>
    public sealed class Lowering
    {
        public Lowering(string modelSha256, IR.Graph? floatGraph, IntegerIR.IntegerGraph? integerGraph, IReadOnlyList<ModelDiagnostic> diagnostics)
        {
            ModelSha256 = modelSha256;
            FloatGraph = floatGraph;
            IntegerGraph = integerGraph;
            Diagnostics = diagnostics;
        }

        public string ModelSha256 { get; }

        public IR.Graph? FloatGraph { get; }

        public IntegerIR.IntegerGraph? IntegerGraph { get; }

        public IReadOnlyList<ModelDiagnostic> Diagnostics { get; }

        /// <summary>What quantization the integer graph follows when it is not the options' (a quantized model's own), for the generated header.</summary>
        public string? Quantization { get; init; }
    }

    /// <summary>The generated source (null when an error stopped compilation) and every diagnostic.</summary>
    public sealed class CompilationResult
    {
        public CompilationResult(string? source, IReadOnlyList<ModelDiagnostic> diagnostics)
        {
            Source = source;
            Diagnostics = diagnostics;
        }

        public string? Source { get; }

        public IReadOnlyList<ModelDiagnostic> Diagnostics { get; }
    }

    /// <summary>
    /// The whole compiler behind one call: import → float passes → quantization → integer IR → C#.
    /// Used by the source generator and by the netquant tool; never throws.
    /// </summary>
    public static class ModelCompiler
    {
        public static CompilationResult Compile(ModelInput input)
        {
            var lowering = Lower(input);
            var diagnostics = lowering.Diagnostics.ToList();
            bool floatBuild = input.StatisticsBytes == null && lowering.FloatGraph != null && !diagnostics.Any(d => d.Kind.Level == DiagnosticLevel.Error);
            if (lowering.IntegerGraph == null && !floatBuild) return new CompilationResult(null, diagnostics);
            try
            {
                if (lowering.IntegerGraph == null)
                {
                    // No statistics: the model still builds, in FLOAT32, and the NQG0006 warning (and the header) say how to calibrate.
                    var floatProvenance = new Provenance(input.ModelFileName, lowering.ModelSha256, null, $"passes [{string.Join(", ", input.Options.PassNames())}]");
                    return new CompilationResult(FloatModelEmitter.Emit(lowering.FloatGraph!, input.Target, floatProvenance, HowToCalibrate(input)), diagnostics);
                }
                ReferenceOnlyQuantization.Check(lowering.IntegerGraph, input.ModelFileName);
                var provenance = new Provenance(input.ModelFileName, lowering.ModelSha256, input.StatisticsFileName,
                    lowering.Quantization ?? (input.StatisticsBytes == null ? DataFree.Describe(input.Options) : Describe(input.Options)));
                return new CompilationResult(ModelEmitter.Emit(lowering.IntegerGraph, input.Target, provenance), diagnostics);
            }
            catch (Exception e)
            {
                diagnostics.Add(Failure(input, e));
                return new CompilationResult(null, diagnostics);
            }
        }

        /// <summary>
        /// Everything up to the integer IR: import, float passes, statistics check, quantization. Never throws.
        /// Without statistics the float graph is set, the integer graph is null and NQG0006 (a warning) says
        /// the model builds in FLOAT32 and how to calibrate it.
        /// </summary>
        public static Lowering Lower(ModelInput input)
        {
            var diagnostics = new List<ModelDiagnostic>();
            string modelHash = ModelHash.Sha256Hex(input.ModelBytes);
            try
            {
                foreach (var (_, problem) in input.Options.RangeProblems())
                    throw new ModelException(DiagnosticCatalog.InvalidOption, $"Model '{input.ModelFileName}': {problem}");
                // A quantized model (QDQ or QOperator) is read as its float graph plus the quantization it prescribes.
                var quantized = QdqModelReader.Read(input.ModelBytes, input.ModelFileName, ImportOptionsFor(input));
                var import = OnnxImporter.Import(quantized?.FloatModel ?? input.ModelBytes, input.ModelFileName, ImportOptionsFor(input));
                diagnostics.AddRange(import.Diagnostics);
                if (import.Graph == null) return new Lowering(modelHash, null, null, diagnostics);
                var graph = import.Graph;
                if (quantized != null) return QuantizedModelLowering.Lower(input, modelHash, graph, quantized, diagnostics);
                string? dataFreeProblem = null;
                if (input.StatisticsBytes == null && input.Options.DataFree
                    && DataFree.TryLower(input, graph, diagnostics, out var dataFreeGraph, out dataFreeProblem) is IntegerIR.IntegerGraph dataFree)
                {
                    FloatArithmeticCoverage.Check(dataFree, input.ModelFileName, diagnostics);
                    return new Lowering(modelHash, dataFreeGraph, dataFree, diagnostics);
                }
                var passes = PassPipeline.FromNames(input.Options.PassNames());
                passes.Run(graph);

                if (input.StatisticsBytes == null)
                {
                    diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.MissingStatistics,
                        $"Model '{input.ModelFileName}' has no calibration statistics, so it was built in FLOAT32 (not quantized)" +
                        (dataFreeProblem != null ? $"; data-free INT8 was not possible: {dataFreeProblem.TrimEnd('.')}" : "") + $". {HowToCalibrate(input)}"));
                    return new Lowering(modelHash, graph, null, diagnostics);
                }
                string statisticsName = input.StatisticsFileName ?? "statistics";
                var read = StatisticsFile.Read(input.StatisticsBytes, statisticsName);
                diagnostics.AddRange(read.Diagnostics);
                if (read.Statistics == null) return new Lowering(modelHash, graph, null, diagnostics);
                var mismatches = read.Statistics.CheckAgainst(graph, modelHash, passes.PassNames, statisticsName);
                diagnostics.AddRange(mismatches);
                if (mismatches.Count > 0) return new Lowering(modelHash, graph, null, diagnostics);
                var savedMismatches = SavedOptimization.Check(graph, read.Statistics, input.Options, statisticsName);
                diagnostics.AddRange(savedMismatches);
                if (savedMismatches.Count > 0) return new Lowering(modelHash, graph, null, diagnostics);

                var settings = SettingsFor(input.Options, read.Statistics, graph, input.ModelFileName, diagnostics);
                var widthMismatches = SavedOptimization.CheckWidths(graph, read.Statistics, settings, statisticsName);
                diagnostics.AddRange(widthMismatches);
                if (widthMismatches.Count > 0) return new Lowering(modelHash, graph, null, diagnostics);
                var integerGraph = Quantizer.Run(graph, settings);
                FloatArithmeticCoverage.Check(integerGraph, input.ModelFileName, diagnostics);
                return new Lowering(modelHash, graph, integerGraph, diagnostics);
            }
            catch (ModelException e)
            {
                diagnostics.Add(e.ToDiagnostic());
                return new Lowering(modelHash, null, null, diagnostics);
            }
            catch (Exception e)
            {
                diagnostics.Add(Failure(input, e));
                return new Lowering(modelHash, null, null, diagnostics);
            }
        }

        /// <summary>
        /// The sentence that tells a user of a FLOAT32 build how to get the INT8 one: the <c>netquant calibrate</c>
        /// command line for this model (with its input shape and float passes) and the Calibration argument to set.
        /// </summary>
        public static string HowToCalibrate(ModelInput input)
        {
            string statistics = System.IO.Path.ChangeExtension(input.ModelFileName, StatisticsFile.Extension);
            var command = new System.Text.StringBuilder("netquant calibrate ").Append(input.ModelFileName);
            if (!string.IsNullOrWhiteSpace(input.Options.InputShape))
                command.Append(" --input-shape ").Append(input.Options.InputShape!.Replace(" ", ""));
            var passes = input.Options.PassNames();
            if (!passes.SequenceEqual(PassPipeline.DefaultOrder))
                command.Append(" --passes ").Append(passes.Count == 0 ? "none" : string.Join(",", passes));
            command.Append(" --data <calibration images> --out ").Append(statistics);
            return $"To build INT8, run `{command}` and set Calibration = \"{statistics}\" on the [QuantizedModel] attribute.";
        }

        private static ModelDiagnostic Failure(ModelInput input, Exception e) =>
            e is ModelException m ? m.ToDiagnostic() : new ModelDiagnostic(DiagnosticCatalog.InternalError,
                $"Model '{input.ModelFileName}': the compiler failed unexpectedly ({e.GetType().Name}: {e.Message}). Please report this with the model.");

        public static QuantizationSettings SettingsFor(CompilationOptions options, CalibrationStatistics statistics) =>
            new(name => statistics.TryGet(name, out var t) ? RangeSetting.Choose(t, options.ActivationRange, options.Percentile) : null)
            {
                WeightBits = options.WeightBits,
                Granularity = options.WeightGranularity == WeightGranularityOption.PerTensor ? WeightGranularity.PerTensor : WeightGranularity.PerChannel,
                WeightRange = options.WeightRange == WeightRangeOption.Mse ? WeightRangeMethod.Mse : WeightRangeMethod.MinMax,
                Arithmetic = options.ArithmeticFor(quantizedModel: false),
                WeightOverride = SavedOptimization.WeightOverride(statistics),
                BiasCorrectionOf = SavedOptimization.BiasCorrectionOf(statistics),
                MeasuredSensitivity = SavedOptimization.MeasuredSensitivity(statistics, options),
            };

        /// <summary>
        /// The settings for the float graph after passes: activation ranges from the statistics, plus what needs the graph:
        /// per-layer weight bit-widths (given, or chosen under the size budget) and analytic bias correction's expected inputs.
        /// </summary>
        public static QuantizationSettings SettingsFor(CompilationOptions options, CalibrationStatistics statistics, IR.Graph graph, string modelName, List<ModelDiagnostic> diagnostics) =>
            WithGraphOptions(SettingsFor(options, statistics), options, graph, modelName, diagnostics, analyticBiasCorrection: options.BiasCorrection == BiasCorrectionOption.Analytic);

        /// <summary>Adds per-layer bit-widths and (when asked) analytic bias correction to <paramref name="settings"/>.</summary>
        internal static QuantizationSettings WithGraphOptions(QuantizationSettings settings, CompilationOptions options, IR.Graph graph, string modelName,
            List<ModelDiagnostic> diagnostics, bool analyticBiasCorrection)
        {
            var layerBits = LayerBitAllocation.Choose(graph, options, settings, modelName, diagnostics);
            var layerActivationBits = LayerBitAllocation.ActivationWidths(graph, options, modelName);
            Func<string, double[]?>? expected = null;
            if (analyticBiasCorrection)
            {
                var estimates = PriorPropagation.Run(graph).ToDictionary(p => p.Key.Name, p => p.Value.Mean, StringComparer.Ordinal);
                expected = name => estimates.TryGetValue(name, out var mean) ? mean : null;
            }
            return new QuantizationSettings(settings.RangeOf)
            {
                WeightBits = settings.WeightBits,
                Granularity = settings.Granularity,
                WeightRange = settings.WeightRange,
                Arithmetic = settings.Arithmetic,
                LayerWeightBits = layerBits,
                ActivationBits = options.ActivationBits,
                LayerActivationBits = layerActivationBits,
                ExpectedValue = expected,
                WeightOverride = settings.WeightOverride,
                BiasCorrectionOf = settings.BiasCorrectionOf,
            };
        }

        /// <summary>One line for the generated header: what quantization this build used.</summary>
        public static string Describe(CompilationOptions o) =>
            $"W{o.WeightBits}A{o.ActivationBits}; weights symmetric {(o.WeightGranularity == WeightGranularityOption.PerTensor ? "per-tensor" : "per-channel")}; " +
            $"activations {(o.ActivationBits == 16 ? "int16 symmetric" : "asymmetric")} per-tensor, range {o.ActivationRange switch { RangeMethodOption.Percentile => "percentile " + o.Percentile.ToString(System.Globalization.CultureInfo.InvariantCulture), RangeMethodOption.Mse => "MSE", RangeMethodOption.Entropy => "entropy", _ => "min-max" }}; " +
            $"passes [{string.Join(", ", o.PassNames())}]" +
            (o.WeightRange == WeightRangeOption.Mse ? "; weight range MSE" : "") +
            (o.BiasCorrection != BiasCorrectionOption.None ? $"; bias correction {o.BiasCorrection.ToString().ToLowerInvariant()}" : "") +
            (string.IsNullOrWhiteSpace(o.LayerWeightBits) ? "" : $"; layer weight bits {o.LayerWeightBits}") +
            (string.IsNullOrWhiteSpace(o.LayerActivationBits) ? "" : $"; layer activation bits {o.LayerActivationBits}") +
            (o.SizeBudgetKiB > 0 ? $"; weight budget {o.SizeBudgetKiB} KiB" : "") +
            (o.ArithmeticFor(quantizedModel: false) == IntegerIR.RequantizationArithmetic.Float ? "; requantization float (ONNX Runtime)" : "");

        /// <summary>Parses the InputShape option ("1,3,224,224"), which pins the model's first input.</summary>
        public static ImportOptions ImportOptionsFor(ModelInput input)
        {
            var options = new ImportOptions { MaxTensorBytes = Math.Max(1L, input.Options.MaxTensorMegabytes) << 20 };
            var text = input.Options.InputShape;
            if (string.IsNullOrWhiteSpace(text)) return options;
            var parts = text!.Split(',');
            var dims = new int[parts.Length];
            for (int i = 0; i < parts.Length; i++)
                if (!int.TryParse(parts[i].Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out dims[i]) || dims[i] <= 0)
                    throw new ModelException(DiagnosticCatalog.InvalidOption,
                        $"Model '{input.ModelFileName}': InputShape \"{text}\" is not a comma-separated list of positive integers (e.g. \"1,3,224,224\").");
            options.FirstInputShape = dims;
            return options;
        }
    }
}
