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
    /// therefore enumerated twice and must give the same samples both times. Samples run on
    /// <see cref="DegreeOfParallelism"/> threads, one executor each, in batches read in order; results are
    /// deterministic and independent of the thread count: per-sample moments are merged in sample order,
    /// ranges and histogram counts are exact, and tensors are listed in graph order. One run at a time per
    /// instance.
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
        /// each time (input name → flat row-major data; the arrays may be reused between samples: each is
        /// copied before the next is asked for). <paramref name="progress"/> is called after every sample, on
        /// the calling thread; <paramref name="expectedCount"/>, when the caller knows it, gives pass 1 a total.
        /// </summary>
        public CalibrationStatistics Run(Func<IEnumerable<IReadOnlyDictionary<string, float[]>>> samples, CalibrationMetadata metadata,
            Action<CalibrationProgress>? progress = null, long? expectedCount = null, CancellationToken cancellation = default)
        {
            if (samples == null) throw new ArgumentNullException(nameof(samples));
            if (metadata == null) throw new ArgumentNullException(nameof(metadata));

            int workerCount = Math.Max(1, DegreeOfParallelism);
            var workers = new Worker[workerCount];
            for (int w = 0; w < workerCount; w++) workers[w] = new Worker(this);
            var accumulators = new Accumulator[_tensors.Length];
            for (int i = 0; i < accumulators.Length; i++) accumulators[i] = new Accumulator();
            LastAccumulatorCount = accumulators.Length;
            LastWorkerCount = workerCount;

            // Pass 1: ranges and moments. Workers compute each sample's moments; they are merged here in
            // sample order, so the result does not depend on the number of workers.
            long count = 0;
            foreach (int batch in Batches(samples(), workers, 0, long.MaxValue, cancellation))
            {
                RunBatch(workers, batch, pass: 1);
                for (int w = 0; w < batch; w++)
                {
                    for (int i = 0; i < accumulators.Length; i++) accumulators[i].Merge(workers[w].Moments[i]);
                    count++;
                    progress?.Invoke(new CalibrationProgress(1, count, expectedCount));
                }
            }
            if (count == 0) throw new ArgumentException($"Model '{_graph.ModelName}': the calibration data has no samples.", nameof(samples));

            // Pass 2: histograms over [min, max], one set of bins per worker, summed at the end.
            foreach (var a in accumulators) a.StartHistogram(_binCount);
            foreach (var worker in workers) worker.StartHistograms(accumulators, _binCount);
            long second = 0;
            foreach (int batch in Batches(samples(), workers, second, count, cancellation))
            {
                RunBatch(workers, batch, pass: 2);
                for (int w = 0; w < batch; w++)
                {
                    second++;
                    progress?.Invoke(new CalibrationProgress(2, second, count));
                }
            }
            if (_extraSamples || second != count)
                throw new InvalidOperationException(
                    $"Model '{_graph.ModelName}': the calibration data source gave {count} samples in the first pass but {(_extraSamples ? "more" : second.ToString(System.Globalization.CultureInfo.InvariantCulture))} in the second; it must give the same samples each time it is enumerated.");
            foreach (var worker in workers)
                for (int i = 0; i < accumulators.Length; i++) accumulators[i].AddBins(worker.Bins[i]);

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

        /// <summary>
        /// Threads that run samples at once, each with its own executor (default 1; the netquant tool uses the
        /// processor count). The statistics are identical whatever the value; memory grows with it, never with
        /// the number of samples.
        /// </summary>
        public int DegreeOfParallelism { get; set; } = 1;

        /// <summary>How many accumulators the last run kept (one per tensor, whatever the sample count; for tests).</summary>
        internal int LastAccumulatorCount { get; private set; }

        /// <summary>How many workers (executor + per-tensor scratch) the last run used (for tests).</summary>
        internal int LastWorkerCount { get; private set; }

        /// <summary>The size of one accumulator's state in 8-byte words (fixed: scalars plus the bins; for tests).</summary>
        internal int AccumulatorWords => Accumulator.ScalarWords + _binCount;

        private bool _extraSamples;

        /// <summary>
        /// Reads samples in order, copying each into the next worker's input buffers, and yields the size of
        /// every full (or final) batch. Stops after <paramref name="limit"/> samples, noting whether more came.
        /// </summary>
        private IEnumerable<int> Batches(IEnumerable<IReadOnlyDictionary<string, float[]>> source, Worker[] workers, long first, long limit,
            CancellationToken cancellation)
        {
            _extraSamples = false;
            long index = first;
            int filled = 0;
            foreach (var sample in source)
            {
                cancellation.ThrowIfCancellationRequested();
                if (index - first == limit)
                {
                    _extraSamples = true;
                    break;
                }
                workers[filled++].Load(CheckSample(sample, index++));
                if (filled == workers.Length)
                {
                    yield return filled;
                    filled = 0;
                }
            }
            if (filled > 0) yield return filled;
        }

        private static void RunBatch(Worker[] workers, int batch, int pass)
        {
            if (batch == 1)
            {
                workers[0].Run(pass);
                return;
            }
            try
            {
                System.Threading.Tasks.Parallel.For(0, batch, w => workers[w].Run(pass));
            }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
                throw;
            }
        }

        /// <summary>One thread's executor, its own copy of the current sample, and per-tensor scratch.</summary>
        private sealed class Worker
        {
            private readonly Calibrator _owner;
            private readonly FloatExecutor _executor;
            private readonly Dictionary<string, float[]> _inputs = new(StringComparer.Ordinal);
            private readonly Action<Value, float[]> _observeMoments;
            private readonly Action<Value, float[]> _observeHistogram;
            private Accumulator[] _ranges = Array.Empty<Accumulator>();

            public Worker(Calibrator owner)
            {
                _owner = owner;
                _executor = new FloatExecutor(owner._graph);
                foreach (var input in owner._graph.Inputs) _inputs[input.Name] = new float[input.ElementCount];
                Moments = new SampleMoments[owner._tensors.Length];
                Bins = new ulong[owner._tensors.Length][];
                _observeMoments = (value, data) =>
                {
                    if (_owner._index.TryGetValue(value, out int i)) Moments[i] = SampleMoments.Of(data, (int)value.ElementCount);
                };
                _observeHistogram = (value, data) =>
                {
                    if (_owner._index.TryGetValue(value, out int i) && !_ranges[i].AddHistogram(Bins[i], data, (int)value.ElementCount))
                        throw new InvalidOperationException(
                            $"Model '{_owner._graph.ModelName}': tensor '{value.Name}' has values outside the range seen in the first pass: " +
                            "the calibration data source gave different samples when enumerated again.");
                };
            }

            /// <summary>The moments of each tensor in the last sample run in pass 1.</summary>
            public SampleMoments[] Moments { get; }

            /// <summary>This worker's histogram counts per tensor in pass 2.</summary>
            public ulong[][] Bins { get; }

            public void Load(IReadOnlyDictionary<string, float[]> sample)
            {
                foreach (var entry in _inputs) Array.Copy(sample[entry.Key], entry.Value, entry.Value.Length);
            }

            public void StartHistograms(Accumulator[] ranges, int bins)
            {
                _ranges = ranges;
                for (int i = 0; i < Bins.Length; i++) Bins[i] = new ulong[bins];
            }

            public void Run(int pass)
            {
                for (int i = 0; i < Moments.Length; i++) Moments[i] = default;
                _executor.Run(_inputs, pass == 1 ? _observeMoments : _observeHistogram);
            }
        }

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

        /// <summary>The finite elements of one tensor in one sample: count, range and moments about their mean.</summary>
        private struct SampleMoments
        {
            public long Count;
            public long NonFinite;
            public float Min;
            public float Max;
            public double Mean;
            public double M2;

            public static SampleMoments Of(float[] data, int length)
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
                var result = new SampleMoments { Count = n, NonFinite = length - n, Min = min, Max = max };
                if (n == 0) return result;
                double mean = sum / n, m2 = 0;
                for (int i = 0; i < length; i++)
                {
                    float x = data[i];
                    if (float.IsNaN(x) || float.IsInfinity(x)) continue;
                    double d = x - mean;
                    m2 += d * d;
                }
                result.Mean = mean;
                result.M2 = m2;
                return result;
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

            /// <summary>Folds one sample in (Chan et al.'s pairwise update; samples are merged in order).</summary>
            public void Merge(SampleMoments s)
            {
                _nonFinite += (ulong)s.NonFinite;
                if (s.Count == 0) return;
                if (s.Min < _min) _min = s.Min;
                if (s.Max > _max) _max = s.Max;
                double before = _count, n = s.Count, total = before + n;
                double delta = s.Mean - _mean;
                _mean += delta * (n / total);
                _m2 += s.M2 + delta * delta * (before * n / total);
                _count += (ulong)s.Count;
            }

            public void StartHistogram(int bins)
            {
                _bins = new ulong[bins];
                if (_count == 0) _min = _max = 0;
                _scale = Histogram.Scale(_min, _max, bins);
            }

            /// <summary>Bins a sample's finite elements into <paramref name="bins"/>; false when one lies outside [min, max].</summary>
            public bool AddHistogram(ulong[] bins, float[] data, int length)
            {
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

            public void AddBins(ulong[] bins)
            {
                for (int i = 0; i < bins.Length; i++) _bins[i] += bins[i];
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
