using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using NetQuantGen.IR;
using NetQuantGen.Reference;

namespace NetQuantGen.Calibration
{
    /// <summary>Where a calibration run is: <see cref="Pass"/> 1 collects ranges and moments, pass 2 histograms.</summary>
    public sealed record CalibrationProgress(int Pass, long Done, long? Total)
    {
        public const int PassCount = 2;

        /// <summary>Overall completion in [0, 1] when the total is known.</summary>
        public double? Fraction => Total is long total && total > 0
            ? Math.Min(1.0, ((Pass - 1) * (double)total + Done) / (PassCount * (double)total))
            : null;
    }

    /// <summary>What the statistics file records about a run besides the numbers.</summary>
    public sealed class CalibrationMetadata
    {
        public CalibrationMetadata(string modelSha256, string modelFileName, IReadOnlyList<string> passes, string dataDescription, string producer = "")
        {
            ModelSha256 = modelSha256;
            ModelFileName = modelFileName;
            Passes = passes;
            DataDescription = dataDescription;
            Producer = producer;
        }

        /// <summary>SHA-256 of the ONNX bytes the graph was imported from (<see cref="ModelHash.Sha256Hex"/>).</summary>
        public string ModelSha256 { get; }

        public string ModelFileName { get; }

        /// <summary>The float passes that ran on the graph before calibration (PassReport.Ran).</summary>
        public IReadOnlyList<string> Passes { get; }

        public string DataDescription { get; }

        public string Producer { get; }
    }

    /// <summary>
    /// Collects per-tensor statistics of a float graph (after the float passes) over a sequence of input
    /// samples, with memory that does not depend on the number of samples: each sample is run through the
    /// <see cref="FloatExecutor"/>, every observed tensor is folded into fixed-size accumulators inside the
    /// observe callback, and nothing of the sample is kept. Two passes over the samples: the first gives
    /// min, max, count, mean and standard deviation (moments merged per sample with Chan et al.'s update),
    /// the second fills histograms of equal-width bins over the now-known [min, max]. The sample source is
    /// therefore enumerated twice and must give the same samples both times. Results are deterministic:
    /// samples are folded in order and tensors are listed in graph order.
    /// </summary>
    public sealed class Calibrator
    {
        private readonly Graph _graph;
        private readonly int _binCount;
        private readonly Value[] _tensors;
        private readonly Dictionary<Value, int> _index = new();

        /// <param name="graph">The graph after the float passes; it must not change while the calibrator runs.</param>
        /// <param name="binCount">Histogram bins per tensor (the file format's default is 2048).</param>
        public Calibrator(Graph graph, int binCount = Histogram.DefaultBinCount)
        {
            _graph = graph ?? throw new ArgumentNullException(nameof(graph));
            if (binCount < 1) throw new ArgumentOutOfRangeException(nameof(binCount), binCount, "At least one bin.");
            _binCount = binCount;
            _tensors = TensorsOf(graph).ToArray();
            for (int i = 0; i < _tensors.Length; i++) _index[_tensors[i]] = i;
        }

        /// <summary>The tensors that get statistics, in file order.</summary>
        public IReadOnlyList<Value> Tensors => _tensors;

        /// <summary>
        /// The tensors a statistics file holds for <paramref name="graph"/>: its float inputs, then every float
        /// node output in node order (constants have no statistics: their data is in the model).
        /// </summary>
        public static IReadOnlyList<Value> TensorsOf(Graph graph)
        {
            var result = new List<Value>();
            var seen = new HashSet<Value>();
            foreach (var input in graph.Inputs)
                if (input.Type == ElementType.Float32 && !input.IsConstant && seen.Add(input)) result.Add(input);
            foreach (var node in graph.Nodes)
                foreach (var output in node.Outputs)
                    if (output.Type == ElementType.Float32 && !output.IsConstant && seen.Add(output)) result.Add(output);
            return result;
        }

        /// <summary>Single-input convenience: each sample is the flat row-major data of the graph's only input.</summary>
        public CalibrationStatistics Run(Func<IEnumerable<float[]>> samples, CalibrationMetadata metadata,
            Action<CalibrationProgress>? progress = null, long? expectedCount = null, CancellationToken cancellation = default)
        {
            if (samples == null) throw new ArgumentNullException(nameof(samples));
            if (_graph.Inputs.Count != 1)
                throw new InvalidOperationException(
                    $"Model '{_graph.ModelName}' has {_graph.Inputs.Count} inputs; give each sample as a dictionary of input name to data.");
            string name = _graph.Inputs[0].Name;
            return Run(() => Wrap(samples(), name), metadata, progress, expectedCount, cancellation);
        }

        /// <summary>
        /// Runs both passes. <paramref name="samples"/> is called once per pass and must yield the same samples
        /// each time (input name → flat row-major data). <paramref name="progress"/> is called after every
        /// sample; <paramref name="expectedCount"/>, when the caller knows it, gives pass 1 a total.
        /// </summary>
        public CalibrationStatistics Run(Func<IEnumerable<IReadOnlyDictionary<string, float[]>>> samples, CalibrationMetadata metadata,
            Action<CalibrationProgress>? progress = null, long? expectedCount = null, CancellationToken cancellation = default)
        {
            if (samples == null) throw new ArgumentNullException(nameof(samples));
            if (metadata == null) throw new ArgumentNullException(nameof(metadata));

            var executor = new FloatExecutor(_graph);
            var accumulators = new Accumulator[_tensors.Length];
            for (int i = 0; i < accumulators.Length; i++) accumulators[i] = new Accumulator();
            LastAccumulatorCount = accumulators.Length;

            // Pass 1: ranges and moments.
            long count = 0;
            Action<Value, float[]> observeMoments = (value, data) =>
            {
                if (_index.TryGetValue(value, out int i)) accumulators[i].AddMoments(data, (int)value.ElementCount);
            };
            foreach (var sample in samples())
            {
                cancellation.ThrowIfCancellationRequested();
                executor.Run(CheckSample(sample, count), observeMoments);
                count++;
                progress?.Invoke(new CalibrationProgress(1, count, expectedCount));
            }
            if (count == 0) throw new ArgumentException($"Model '{_graph.ModelName}': the calibration data has no samples.", nameof(samples));

            // Pass 2: histograms over [min, max].
            foreach (var a in accumulators) a.StartHistogram(_binCount);
            long second = 0;
            Action<Value, float[]> observeHistogram = (value, data) =>
            {
                if (_index.TryGetValue(value, out int i) && !accumulators[i].AddHistogram(data, (int)value.ElementCount))
                    throw new InvalidOperationException(
                        $"Model '{_graph.ModelName}': tensor '{value.Name}' has values outside the range seen in the first pass: " +
                        "the calibration data source gave different samples when enumerated again.");
            };
            foreach (var sample in samples())
            {
                cancellation.ThrowIfCancellationRequested();
                if (second == count) { second++; break; }
                executor.Run(CheckSample(sample, second), observeHistogram);
                second++;
                progress?.Invoke(new CalibrationProgress(2, second, count));
            }
            if (second != count)
                throw new InvalidOperationException(
                    $"Model '{_graph.ModelName}': the calibration data source gave {count} samples in the first pass but {(second > count ? "more" : second.ToString(System.Globalization.CultureInfo.InvariantCulture))} in the second; it must give the same samples each time it is enumerated.");

            var tensors = new List<TensorStatistics>(_tensors.Length);
            for (int i = 0; i < _tensors.Length; i++)
            {
                if (!accumulators[i].HistogramComplete)
                    throw new InvalidOperationException(
                        $"Model '{_graph.ModelName}': tensor '{_tensors[i].Name}' had a different number of finite values in the second pass: " +
                        "the calibration data source gave different samples when enumerated again.");
                tensors.Add(accumulators[i].ToStatistics(_tensors[i]));
            }
            var inputs = _graph.Inputs.Select(v => new InputShape(v.Name, v.Shape));
            return new CalibrationStatistics(metadata.ModelSha256, metadata.ModelFileName, metadata.Passes, inputs,
                (ulong)count, metadata.DataDescription, tensors, metadata.Producer);
        }

        /// <summary>How many accumulators the last run kept (one per tensor, whatever the sample count; for tests).</summary>
        internal int LastAccumulatorCount { get; private set; }

        /// <summary>The size of one accumulator's state in 8-byte words (fixed: scalars plus the bins; for tests).</summary>
        internal int AccumulatorWords => Accumulator.ScalarWords + _binCount;

        private IReadOnlyDictionary<string, float[]> CheckSample(IReadOnlyDictionary<string, float[]> sample, long index)
        {
            if (sample == null)
                throw new ArgumentException($"Model '{_graph.ModelName}': calibration sample #{index} is null.");
            foreach (var input in _graph.Inputs)
            {
                if (!sample.TryGetValue(input.Name, out var data) || data == null)
                    throw new ArgumentException($"Model '{_graph.ModelName}': calibration sample #{index} has no data for input '{input.Name}'.");
                if (data.Length != input.ElementCount)
                    throw new ArgumentException(
                        $"Model '{_graph.ModelName}': calibration sample #{index} has {data.Length} values for input '{input.Name}' {Shapes.Format(input.Shape)}, which takes {input.ElementCount}.");
            }
            return sample;
        }

        private static IEnumerable<IReadOnlyDictionary<string, float[]>> Wrap(IEnumerable<float[]> samples, string inputName)
        {
            // One dictionary reused for every sample: the calibrator never keeps a sample past its run.
            var holder = new Dictionary<string, float[]>(1, StringComparer.Ordinal);
            foreach (var sample in samples)
            {
                holder[inputName] = sample;
                yield return holder;
            }
        }

        /// <summary>Fixed-size running statistics of one tensor.</summary>
        private sealed class Accumulator
        {
            public const int ScalarWords = 8;

            private double _min = double.PositiveInfinity;
            private double _max = double.NegativeInfinity;
            private ulong _count;
            private ulong _nonFinite;
            private double _mean;
            private double _m2; // sum of squared deviations from the mean
            private double _scale;
            private ulong[] _bins = Array.Empty<ulong>();

            public void AddMoments(float[] data, int length)
            {
                float min = float.PositiveInfinity, max = float.NegativeInfinity;
                double sum = 0;
                long n = 0;
                for (int i = 0; i < length; i++)
                {
                    float x = data[i];
                    if (float.IsNaN(x) || float.IsInfinity(x)) continue;
                    if (x < min) min = x;
                    if (x > max) max = x;
                    sum += x;
                    n++;
                }
                _nonFinite += (ulong)(length - n);
                if (n == 0) return;
                if (min < _min) _min = min;
                if (max > _max) _max = max;

                // This sample's mean and M2 (two-pass, exact enough in double), merged into the running ones.
                double mean = sum / n, m2 = 0;
                for (int i = 0; i < length; i++)
                {
                    float x = data[i];
                    if (float.IsNaN(x) || float.IsInfinity(x)) continue;
                    double d = x - mean;
                    m2 += d * d;
                }
                double before = _count, total = before + n;
                double delta = mean - _mean;
                _mean += delta * (n / total);
                _m2 += m2 + delta * delta * (before * n / total);
                _count += (ulong)n;
            }

            public void StartHistogram(int bins)
            {
                _bins = new ulong[bins];
                if (_count == 0) _min = _max = 0;
                _scale = Histogram.Scale(_min, _max, bins);
            }

            /// <summary>False when an element lies outside [min, max] (the data changed between passes).</summary>
            public bool AddHistogram(float[] data, int length)
            {
                var bins = _bins;
                int n = bins.Length;
                double min = _min, max = _max, scale = _scale;
                for (int i = 0; i < length; i++)
                {
                    float x = data[i];
                    if (float.IsNaN(x) || float.IsInfinity(x)) continue;
                    if (x < min || x > max) return false;
                    bins[Histogram.BinIndex(x, min, scale, n)]++;
                }
                return true;
            }

            /// <summary>True when pass 2 binned exactly the finite elements pass 1 counted.</summary>
            public bool HistogramComplete
            {
                get
                {
                    ulong total = 0;
                    foreach (ulong c in _bins) total += c;
                    return total == _count;
                }
            }

            public TensorStatistics ToStatistics(Value value)
            {
                double std = _count > 0 ? Math.Sqrt(Math.Max(0.0, _m2 / _count)) : 0.0;
                return new TensorStatistics(value.Name, value.Shape, _min, _max, _count, _count > 0 ? _mean : 0.0, std,
                    _nonFinite, new Histogram(_min, _max, _bins));
            }
        }
    }
}
