using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Google.Protobuf;
using NetQuantGen.Diagnostics;
using Proto = NetQuantGen.Calibration.Proto;

namespace NetQuantGen.Calibration
{
    /// <summary>The statistics read from a file, or the diagnostics that explain why there are none.</summary>
    public sealed class StatisticsReadResult
    {
        public StatisticsReadResult(CalibrationStatistics? statistics, IReadOnlyList<ModelDiagnostic> diagnostics)
        {
            Statistics = statistics;
            Diagnostics = diagnostics;
        }

        public CalibrationStatistics? Statistics { get; }

        public IReadOnlyList<ModelDiagnostic> Diagnostics { get; }

        public bool Succeeded => Statistics != null;
    }

    /// <summary>
    /// Serialization of <see cref="CalibrationStatistics"/> (schema: statistics.proto). Writing is
    /// deterministic: the same statistics give the same bytes. Reading never throws: anything that is not a
    /// well-formed statistics file of a version this code knows is one <see cref="DiagnosticCatalog.MalformedStatistics"/>.
    /// File access stays with the caller (the generator reads bytes it was given; the tool writes atomically).
    /// </summary>
    public static class StatisticsFile
    {
        /// <summary>The conventional extension: model.onnx → model.calib.</summary>
        public const string Extension = ".calib";

        public static byte[] Write(CalibrationStatistics statistics)
        {
            if (statistics == null) throw new ArgumentNullException(nameof(statistics));
            var file = new Proto.StatisticsFile
            {
                FormatVersion = (uint)statistics.FormatVersion,
                ModelSha256 = statistics.ModelSha256,
                ModelFileName = statistics.ModelFileName,
                SampleCount = statistics.SampleCount,
                DataDescription = statistics.DataDescription,
                Producer = statistics.Producer,
                TensorCount = (uint)statistics.Tensors.Count,
            };
            file.Passes.AddRange(statistics.Passes);
            foreach (var input in statistics.InputShapes)
            {
                var shape = new Proto.InputShape { Name = input.Name };
                shape.Dims.AddRange(input.Dims);
                file.InputShapes.Add(shape);
            }
            foreach (var t in statistics.Tensors)
            {
                var tensor = new Proto.TensorStatistics
                {
                    Name = t.Name,
                    Min = t.Min,
                    Max = t.Max,
                    Count = t.Count,
                    Mean = t.Mean,
                    StdDev = t.StandardDeviation,
                    NonFiniteCount = t.NonFiniteCount,
                    Histogram = new Proto.Histogram { Min = t.Histogram.Min, Max = t.Histogram.Max },
                };
                tensor.Shape.AddRange(t.Shape);
                tensor.Histogram.Counts.AddRange(t.Histogram.Counts);
                file.Tensors.Add(tensor);
            }
            foreach (var r in statistics.RoundedWeights)
            {
                var rounded = new Proto.RoundedWeights
                {
                    Node = r.Node,
                    Bits = (uint)r.Bits,
                    Granularity = RoundedWeights.GranularityName(r.Granularity),
                    Values = ByteString.CopyFrom((byte[])(Array)r.Values),
                    Method = r.Method,
                };
                rounded.Scales.AddRange(r.Scales);
                rounded.Shape.AddRange(r.Shape);
                file.RoundedWeights.Add(rounded);
            }
            foreach (var b in statistics.BiasCorrections)
            {
                var correction = new Proto.BiasCorrection { Node = b.Node, Bits = (uint)b.Bits, Granularity = b.Bits == 0 ? "" : RoundedWeights.GranularityName(b.Granularity) };
                correction.Correction.AddRange(b.Correction);
                file.BiasCorrections.Add(correction);
            }
            file.Optimization = statistics.Optimization;
            foreach (var l in statistics.LayerSensitivities)
            {
                var sensitivity = new Proto.LayerSensitivity { Node = l.Node, Granularity = RoundedWeights.GranularityName(l.Granularity) };
                sensitivity.OutputNoise.AddRange(l.OutputNoise);
                file.LayerSensitivities.Add(sensitivity);
            }
            return file.ToByteArray();
        }

        /// <summary>Parses and validates a statistics file whose name is unknown (messages call it "statistics").</summary>
        public static StatisticsReadResult Read(byte[] bytes) => Read(bytes, "statistics");

        /// <summary>Parses and validates a statistics file; <paramref name="fileName"/> names it in messages.</summary>
        public static StatisticsReadResult Read(byte[] bytes, string fileName)
        {
            try
            {
                return new StatisticsReadResult(Parse(bytes, fileName), Array.Empty<ModelDiagnostic>());
            }
            catch (ModelException e)
            {
                return new StatisticsReadResult(null, new[] { e.ToDiagnostic() });
            }
            catch (Exception e) when (e is InvalidProtocolBufferException || e is InvalidOperationException && e.Source == "Google.Protobuf")
            {
                return new StatisticsReadResult(null, new[] { new ModelDiagnostic(DiagnosticCatalog.MalformedStatistics,
                    $"Statistics file '{fileName}' is not a valid statistics protobuf ({e.Message}); it is truncated or not a file written by `netquant calibrate`: re-run calibration.") });
            }
            catch (Exception e)
            {
                return new StatisticsReadResult(null, new[] { new ModelDiagnostic(DiagnosticCatalog.MalformedStatistics,
                    $"Statistics file '{fileName}' could not be read ({e.GetType().Name}: {e.Message}); re-run calibration.") });
            }
        }

        private static CalibrationStatistics Parse(byte[] bytes, string fileName)
        {
            if (bytes == null || bytes.Length == 0) throw Error(fileName, "the file is empty");
            var file = Proto.StatisticsFile.Parser.ParseFrom(bytes);

            if (file.FormatVersion == 0)
                throw Error(fileName, "it has no format version, so it is not a statistics file written by `netquant calibrate` (was an ONNX model or another file given instead?)");
            if (file.FormatVersion > CalibrationStatistics.CurrentFormatVersion)
                throw Error(fileName, $"it has format version {file.FormatVersion}, but this version of NetQuantGen reads up to {CalibrationStatistics.CurrentFormatVersion}: update NetQuantGen or re-run calibration with this version's tool");
            if (file.TensorCount != file.Tensors.Count)
                throw Error(fileName, file.TensorCount == 0
                    ? "it is truncated (its closing tensor count is missing)"
                    : $"it is truncated or damaged: it declares {file.TensorCount} tensors but holds {file.Tensors.Count}");
            if (!ModelHash.IsSha256Hex(file.ModelSha256))
                throw Error(fileName, $"its model hash '{Clip(file.ModelSha256)}' is not a SHA-256 hex digest");

            var seen = new HashSet<string>(StringComparer.Ordinal);
            var tensors = new List<TensorStatistics>(file.Tensors.Count);
            for (int i = 0; i < file.Tensors.Count; i++)
            {
                var t = file.Tensors[i];
                string what = string.IsNullOrEmpty(t.Name) ? $"tensor #{i}" : $"tensor '{t.Name}'";
                if (string.IsNullOrEmpty(t.Name)) throw Error(fileName, $"{what} has no name");
                if (!seen.Add(t.Name)) throw Error(fileName, $"{what} appears twice");
                if (t.Shape.Any(d => d < 0)) throw Error(fileName, $"{what} has a negative dimension");
                if (t.Histogram == null || t.Histogram.Counts.Count == 0) throw Error(fileName, $"{what} has no histogram");
                if (t.Count > 0)
                {
                    if (!Finite(t.Min) || !Finite(t.Max) || t.Min > t.Max)
                        throw Error(fileName, $"{what} has an invalid range [{Num(t.Min)}, {Num(t.Max)}]");
                    if (!Finite(t.Mean) || !Finite(t.StdDev) || t.StdDev < 0)
                        throw Error(fileName, $"{what} has an invalid mean {Num(t.Mean)} or standard deviation {Num(t.StdDev)}");
                }
                var h = t.Histogram;
                if (!Finite(h.Min) || !Finite(h.Max) || h.Min > h.Max)
                    throw Error(fileName, $"{what} has an invalid histogram range [{Num(h.Min)}, {Num(h.Max)}]");
                ulong total = 0;
                foreach (ulong c in h.Counts)
                {
                    if (total + c < total) throw Error(fileName, $"{what}'s histogram counts overflow");
                    total += c;
                }
                if (total != t.Count)
                    throw Error(fileName, $"{what}'s histogram holds {total} elements but its count is {t.Count}");
                tensors.Add(new TensorStatistics(t.Name, t.Shape.ToArray(), t.Min, t.Max, t.Count, t.Mean, t.StdDev,
                    t.NonFiniteCount, new Histogram(h.Min, h.Max, h.Counts.ToArray())));
            }

            var inputs = new List<InputShape>(file.InputShapes.Count);
            foreach (var input in file.InputShapes)
            {
                if (string.IsNullOrEmpty(input.Name)) throw Error(fileName, "an input shape has no input name");
                if (input.Dims.Any(d => d < 0)) throw Error(fileName, $"input '{input.Name}' has a negative dimension");
                inputs.Add(new InputShape(input.Name, input.Dims.ToArray()));
            }

            var statistics = new CalibrationStatistics(file.ModelSha256, file.ModelFileName, file.Passes,
                inputs, file.SampleCount, file.DataDescription, tensors, file.Producer, (int)file.FormatVersion);
            if (file.LayerSensitivities.Count > 0)
                statistics = statistics.WithSensitivities(file.LayerSensitivities.Select(l => ParseSensitivity(l, fileName)));
            if (file.RoundedWeights.Count == 0 && file.BiasCorrections.Count == 0) return statistics;
            return statistics.WithOptimization(file.RoundedWeights.Select(r => ParseRounded(r, fileName)),
                file.BiasCorrections.Select(b => ParseCorrection(b, fileName)), file.Optimization);
        }

        private static RoundedWeights ParseRounded(Proto.RoundedWeights r, string fileName)
        {
            string what = $"the rounded weights of node '{r.Node}'";
            if (string.IsNullOrEmpty(r.Node)) throw Error(fileName, "rounded weights name no node");
            if (r.Bits < 2 || r.Bits > 8) throw Error(fileName, $"{what} have {r.Bits} bits (2 to 8 are possible)");
            if (r.Granularity != "per-channel" && r.Granularity != "per-tensor") throw Error(fileName, $"{what} have an unknown granularity '{Clip(r.Granularity)}'");
            if (r.Shape.Count == 0 || r.Shape.Any(d => d <= 0)) throw Error(fileName, $"{what} have an invalid shape");
            long length = r.Shape.Aggregate(1L, (a, d) => a * d);
            if (length != r.Values.Length || r.Scales.Count != r.Shape[0])
                throw Error(fileName, $"{what} hold {r.Values.Length} values and {r.Scales.Count} scales for shape [{string.Join(", ", r.Shape)}]");
            if (r.Scales.Any(s => !(s > 0) || float.IsInfinity(s))) throw Error(fileName, $"{what} have a scale that is not positive and finite");
            int qmax = (1 << ((int)r.Bits - 1)) - 1;
            var values = (sbyte[])(Array)r.Values.ToByteArray();
            if (values.Any(v => v < -qmax || v > qmax)) throw Error(fileName, $"{what} hold a value outside the {r.Bits}-bit range [-{qmax}, {qmax}]");
            return new RoundedWeights(r.Node, (int)r.Bits, r.Granularity == "per-tensor" ? Quantization.WeightGranularity.PerTensor : Quantization.WeightGranularity.PerChannel,
                r.Scales.ToArray(), r.Shape.ToArray(), values, r.Method);
        }

        private static SavedBiasCorrection ParseCorrection(Proto.BiasCorrection b, string fileName)
        {
            if (string.IsNullOrEmpty(b.Node)) throw Error(fileName, "a bias correction names no node");
            if (b.Correction.Any(c => !Finite(c))) throw Error(fileName, $"the bias correction of node '{b.Node}' holds a non-finite value");
            if (b.Bits > 8) throw Error(fileName, $"the bias correction of node '{b.Node}' was computed for {b.Bits}-bit weights; weights are 2 to 8 bits wide");
            return new SavedBiasCorrection(b.Node, b.Correction.ToArray(), (int)b.Bits,
                b.Granularity == "per-tensor" ? Quantization.WeightGranularity.PerTensor : Quantization.WeightGranularity.PerChannel);
        }

        private static LayerSensitivity ParseSensitivity(Proto.LayerSensitivity l, string fileName)
        {
            if (string.IsNullOrEmpty(l.Node)) throw Error(fileName, "a layer sensitivity names no node");
            if (l.OutputNoise.Count != Quantization.LayerBitWidths.MaxBits + 1 || l.OutputNoise.Any(n => !Finite(n) || n < 0))
                throw Error(fileName, $"the sensitivity of node '{l.Node}' does not hold {Quantization.LayerBitWidths.MaxBits + 1} finite non-negative values");
            return new LayerSensitivity(l.Node, l.Granularity == "per-tensor" ? Quantization.WeightGranularity.PerTensor : Quantization.WeightGranularity.PerChannel, l.OutputNoise.ToArray());
        }

        private static bool Finite(double x) => !double.IsNaN(x) && !double.IsInfinity(x);

        private static string Num(double x) => x.ToString("R", CultureInfo.InvariantCulture);

        private static string Clip(string text) => text.Length > 70 ? text.Substring(0, 70) + "..." : text;

        private static ModelException Error(string fileName, string detail) =>
            new(DiagnosticCatalog.MalformedStatistics, $"Statistics file '{fileName}': {detail}.");
    }
}
