using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;

namespace NetQuantGen.Calibration
{
    /// <summary>The static shape one graph input had during calibration.</summary>
    public sealed class InputShape
    {
        private readonly int[] _dims;

        public InputShape(string name, IReadOnlyList<int> dims)
        {
            Name = name ?? throw new ArgumentNullException(nameof(name));
            _dims = (dims ?? throw new ArgumentNullException(nameof(dims))).ToArray();
            Dims = Array.AsReadOnly(_dims);
        }

        public string Name { get; }

        public IReadOnlyList<int> Dims { get; }

        public override string ToString() => Name + Shapes.Format(_dims);
    }

    /// <summary>
    /// The contents of a calibration statistics file: which model (by hash) and which float passes they
    /// describe, how they were collected, and per-tensor statistics keyed by the Value names of the graph
    /// after the passes. Immutable; read with <see cref="StatisticsFile.Read"/>, made by <see cref="Calibrator"/>.
    /// </summary>
    public sealed class CalibrationStatistics
    {
        /// <summary>The format version this code writes and the newest it reads.</summary>
        public const int CurrentFormatVersion = 1;

        private readonly string[] _passes;
        private readonly InputShape[] _inputShapes;
        private readonly TensorStatistics[] _tensors;
        private readonly Dictionary<string, TensorStatistics> _byName;

        public CalibrationStatistics(string modelSha256, string modelFileName, IEnumerable<string> passes,
            IEnumerable<InputShape> inputShapes, ulong sampleCount, string dataDescription,
            IEnumerable<TensorStatistics> tensors, string producer = "", int formatVersion = CurrentFormatVersion)
        {
            ModelSha256 = modelSha256 ?? throw new ArgumentNullException(nameof(modelSha256));
            ModelFileName = modelFileName ?? "";
            _passes = passes.ToArray();
            _inputShapes = inputShapes.ToArray();
            SampleCount = sampleCount;
            DataDescription = dataDescription ?? "";
            _tensors = tensors.ToArray();
            Producer = producer ?? "";
            FormatVersion = formatVersion;
            Passes = Array.AsReadOnly(_passes);
            InputShapes = Array.AsReadOnly(_inputShapes);
            Tensors = Array.AsReadOnly(_tensors);
            _byName = new Dictionary<string, TensorStatistics>(StringComparer.Ordinal);
            foreach (var t in _tensors)
            {
                if (_byName.ContainsKey(t.Name))
                    throw new ArgumentException($"Tensor '{t.Name}' appears twice in the statistics.", nameof(tensors));
                _byName.Add(t.Name, t);
            }
        }

        public int FormatVersion { get; }

        /// <summary>SHA-256 of the ONNX model bytes, lowercase hex (see <see cref="ModelHash"/>).</summary>
        public string ModelSha256 { get; }

        public string ModelFileName { get; }

        /// <summary>The float passes applied before collection, in the order they ran.</summary>
        public IReadOnlyList<string> Passes { get; }

        public IReadOnlyList<InputShape> InputShapes { get; }

        public ulong SampleCount { get; }

        public string DataDescription { get; }

        /// <summary>The tool that wrote the statistics (informational).</summary>
        public string Producer { get; }

        /// <summary>Every tensor, in graph order.</summary>
        public IReadOnlyList<TensorStatistics> Tensors { get; }

        /// <summary>Integer weights chosen from data (AdaRound, GPFQ) by <c>netquant optimize</c>, in graph order; empty when none.</summary>
        public IReadOnlyList<RoundedWeights> RoundedWeights { get; private set; } = Array.Empty<RoundedWeights>();

        /// <summary>Empirical bias corrections by <c>netquant optimize</c>, in graph order; empty when none.</summary>
        public IReadOnlyList<SavedBiasCorrection> BiasCorrections { get; private set; } = Array.Empty<SavedBiasCorrection>();

        /// <summary>What produced <see cref="RoundedWeights"/> and <see cref="BiasCorrections"/> (informational).</summary>
        public string Optimization { get; private set; } = "";

        /// <summary>Measured per-layer sensitivities by <c>netquant optimize --sensitivity</c>, in graph order; empty when none.</summary>
        public IReadOnlyList<LayerSensitivity> LayerSensitivities { get; private set; } = Array.Empty<LayerSensitivity>();

        /// <summary>The same statistics carrying these data-dependent results instead of any it had (sensitivities are kept).</summary>
        public CalibrationStatistics WithOptimization(IEnumerable<RoundedWeights> roundedWeights, IEnumerable<SavedBiasCorrection> biasCorrections, string optimization) =>
            new(ModelSha256, ModelFileName, _passes, _inputShapes, SampleCount, DataDescription, _tensors, Producer, FormatVersion)
            {
                RoundedWeights = roundedWeights.ToArray(),
                BiasCorrections = biasCorrections.ToArray(),
                Optimization = optimization ?? "",
                LayerSensitivities = LayerSensitivities,
            };

        /// <summary>The same statistics carrying these sensitivities instead of any it had.</summary>
        public CalibrationStatistics WithSensitivities(IEnumerable<LayerSensitivity> sensitivities) =>
            new(ModelSha256, ModelFileName, _passes, _inputShapes, SampleCount, DataDescription, _tensors, Producer, FormatVersion)
            {
                RoundedWeights = RoundedWeights,
                BiasCorrections = BiasCorrections,
                Optimization = Optimization,
                LayerSensitivities = sensitivities.ToArray(),
            };

        public bool Contains(string valueName) => _byName.ContainsKey(valueName);

        public bool TryGet(string valueName, out TensorStatistics statistics)
        {
            if (_byName.TryGetValue(valueName, out var found))
            {
                statistics = found;
                return true;
            }
            statistics = null!;
            return false;
        }

        /// <summary>The statistics of a value; throws <see cref="KeyNotFoundException"/> when there are none.</summary>
        public TensorStatistics this[string valueName] =>
            _byName.TryGetValue(valueName, out var found) ? found
                : throw new KeyNotFoundException($"No calibration statistics for tensor '{valueName}'.");

        /// <summary>
        /// Whether these statistics describe <paramref name="graph"/> (imported from bytes hashing to
        /// <paramref name="modelSha256"/>, after <paramref name="passes"/>): a different model hash or pass
        /// list is <see cref="DiagnosticCatalog.StaleStatistics"/>; a float tensor of the graph without
        /// statistics, statistics for a tensor the graph does not have, or a different shape is
        /// <see cref="DiagnosticCatalog.TensorNameMismatch"/>. Empty when they match.
        /// </summary>
        public IReadOnlyList<ModelDiagnostic> CheckAgainst(Graph graph, string modelSha256, IReadOnlyList<string> passes, string statisticsFileName)
        {
            var diagnostics = new List<ModelDiagnostic>();
            string model = graph.ModelName;
            string rerun = $"re-run `netquant calibrate {model} --data <calibration data> --out {statisticsFileName}`";

            if (!string.Equals(ModelSha256, modelSha256, StringComparison.OrdinalIgnoreCase))
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.StaleStatistics,
                    $"Model '{model}': statistics file '{statisticsFileName}' was collected for a model with SHA-256 {Short(ModelSha256)}" +
                    (ModelFileName.Length > 0 && ModelFileName != model ? $" ('{ModelFileName}')" : "") +
                    $", but the model now hashes to {Short(modelSha256)}: the model changed since calibration; {rerun}."));

            if (!_passes.SequenceEqual(passes, StringComparer.Ordinal))
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.StaleStatistics,
                    $"Model '{model}': statistics file '{statisticsFileName}' was collected after the float passes [{string.Join(", ", _passes)}], " +
                    $"but this build runs [{string.Join(", ", passes)}]; {rerun} --passes {(passes.Count == 0 ? "none" : string.Join(",", passes))}, or use the same passes."));

            var expected = Calibrator.TensorsOf(graph);
            var expectedNames = new HashSet<string>(expected.Select(v => v.Name), StringComparer.Ordinal);
            var missing = expected.Where(v => !_byName.ContainsKey(v.Name)).Select(v => v.Name).ToList();
            var extra = _tensors.Where(t => !expectedNames.Contains(t.Name)).Select(t => t.Name).ToList();
            var reshaped = expected
                .Where(v => _byName.TryGetValue(v.Name, out var t) && !t.ShapeArray.SequenceEqual(v.Shape))
                .Select(v => $"'{v.Name}' is {Shapes.Format(v.Shape)} in the model but {Shapes.Format(_byName[v.Name].ShapeArray)} in the statistics")
                .ToList();
            if (missing.Count > 0 || extra.Count > 0 || reshaped.Count > 0)
            {
                var parts = new List<string>();
                if (missing.Count > 0) parts.Add($"{missing.Count} tensor(s) of the model have no statistics ({List(missing)})");
                if (extra.Count > 0) parts.Add($"{extra.Count} tensor(s) in the statistics are not in the model ({List(extra)})");
                if (reshaped.Count > 0) parts.Add($"{reshaped.Count} tensor(s) changed shape ({string.Join("; ", reshaped.Take(3))}{(reshaped.Count > 3 ? "; ..." : "")})");
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.TensorNameMismatch,
                    $"Model '{model}': statistics file '{statisticsFileName}' does not match the graph after the float passes: {string.Join("; ", parts)}. " +
                    $"Check the input shape and passes, or {rerun}."));
            }
            return diagnostics;
        }

        private static string Short(string hash) => hash.Length > 12 ? hash.Substring(0, 12) + "..." : hash;

        private static string List(List<string> names) =>
            string.Join(", ", names.Take(5).Select(n => "'" + n + "'")) + (names.Count > 5 ? string.Format(CultureInfo.InvariantCulture, ", and {0} more", names.Count - 5) : "");
    }
}
