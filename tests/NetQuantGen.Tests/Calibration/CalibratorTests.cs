using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Calibration;
using NetQuantGen.IR;
using NetQuantGen.Reference;
using Xunit;

namespace NetQuantGen.Tests.Calibration
{
    public class CalibratorTests
    {
        private const int InputLength = 36;

        private static CalibrationMetadata Metadata(IReadOnlyList<string> passes) =>
            new(ModelHash.Sha256Hex(CalibrationTestModels.ConvNet()), "tiny.onnx", passes, "test samples", "tests");

        /// <summary>Every value each tensor takes over the samples, collected independently of the calibrator.</summary>
        private static Dictionary<string, List<float>> Observe(Graph graph, IEnumerable<float[]> samples)
        {
            var seen = new Dictionary<string, List<float>>();
            var executor = new FloatExecutor(graph);
            foreach (var sample in samples)
                executor.Run(new Dictionary<string, float[]> { [CalibrationTestModels.InputName] = sample }, (value, data) =>
                {
                    if (!seen.TryGetValue(value.Name, out var list)) seen[value.Name] = list = new List<float>();
                    list.AddRange(data.Take((int)value.ElementCount));
                });
            return seen;
        }

        [Fact]
        public void RangesAndMomentsEqualThoseOfTheObservedValues()
        {
            var (graph, passes) = CalibrationTestModels.Prepare(CalibrationTestModels.ConvNet());
            var stats = new Calibrator(graph).Run(() => CalibrationTestModels.Samples(40, InputLength), Metadata(passes));
            var truth = Observe(graph, CalibrationTestModels.Samples(40, InputLength));

            Assert.Equal(40UL, stats.SampleCount);
            Assert.Equal(Calibrator.TensorsOf(graph).Select(v => v.Name), stats.Tensors.Select(t => t.Name));
            Assert.Contains(stats.Tensors, t => t.Name == CalibrationTestModels.InputName);
            foreach (var t in stats.Tensors)
            {
                var values = truth[t.Name];
                Assert.Equal((double)values.Min(), t.Min);
                Assert.Equal((double)values.Max(), t.Max);
                Assert.Equal((ulong)values.Count, t.Count);
                double mean = values.Average(v => (double)v);
                double std = Math.Sqrt(values.Average(v => ((double)v - mean) * ((double)v - mean)));
                Assert.Equal(mean, t.Mean, 1e-9);
                Assert.Equal(std, t.StandardDeviation, 1e-9);
                Assert.Equal(0UL, t.NonFiniteCount);
            }
        }

        [Fact]
        public void HistogramCountsSumToElementsTimesSamplesAndMatchTheBinningRule()
        {
            var (graph, passes) = CalibrationTestModels.Prepare(CalibrationTestModels.ConvNet());
            const int samples = 25;
            var stats = new Calibrator(graph).Run(() => CalibrationTestModels.Samples(samples, InputLength), Metadata(passes));
            var truth = Observe(graph, CalibrationTestModels.Samples(samples, InputLength));
            foreach (var value in Calibrator.TensorsOf(graph))
            {
                var t = stats[value.Name];
                Assert.Equal(Histogram.DefaultBinCount, t.Histogram.BinCount);
                Assert.Equal((ulong)(value.ElementCount * samples), t.Histogram.Total);
                Assert.Equal(t.Min, t.Histogram.Min);
                Assert.Equal(t.Max, t.Histogram.Max);
                var expected = new ulong[t.Histogram.BinCount];
                foreach (float x in truth[value.Name]) expected[t.Histogram.BinOf(x)]++;
                Assert.Equal(expected, t.Histogram.Counts.ToArray());
                Assert.True(t.Histogram[t.Histogram.BinOf(t.Max)] > 0);
                Assert.True(t.Histogram[0] > 0);
            }
        }

        [Fact]
        public void SameDataGivesByteIdenticalFiles()
        {
            var (graph, passes) = CalibrationTestModels.Prepare(CalibrationTestModels.ConvNet());
            var first = StatisticsFile.Write(new Calibrator(graph).Run(() => CalibrationTestModels.Samples(30, InputLength), Metadata(passes)));
            var (graph2, passes2) = CalibrationTestModels.Prepare(CalibrationTestModels.ConvNet());
            var second = StatisticsFile.Write(new Calibrator(graph2).Run(() => CalibrationTestModels.Samples(30, InputLength), Metadata(passes2)));
            Assert.Equal(first, second);
            var other = StatisticsFile.Write(new Calibrator(graph).Run(() => CalibrationTestModels.Samples(30, InputLength, seed: 99), Metadata(passes)));
            Assert.NotEqual(first, other);
        }

        [Fact]
        public void TheNumberOfThreadsDoesNotChangeTheBytes()
        {
            var (graph, passes) = CalibrationTestModels.Prepare(CalibrationTestModels.ConvNet());
            byte[] With(int threads) => StatisticsFile.Write(new Calibrator(graph) { DegreeOfParallelism = threads }
                .Run(() => CalibrationTestModels.Samples(37, InputLength), Metadata(passes)));
            var one = With(1);
            Assert.Equal(one, With(2));
            Assert.Equal(one, With(3));
            Assert.Equal(one, With(8));
        }

        [Fact]
        public void TensorsAreTheGraphsFloatValuesAfterThePassesInGraphOrder()
        {
            var (graph, passes) = CalibrationTestModels.Prepare(CalibrationTestModels.ConvNet());
            Assert.Equal(new[] { "remove-identity", "fold-batchnorm", "fuse-activation" }, passes);
            var names = Calibrator.TensorsOf(graph).Select(v => v.Name).ToList();
            // BN folded and ReLU fused: the Conv node now computes the Relu's output under its name.
            Assert.Equal(CalibrationTestModels.InputName, names[0]);
            Assert.DoesNotContain("bn", names);
            Assert.Equal(graph.Nodes.Count + 1, names.Count);
            Assert.Equal(graph.Nodes.SelectMany(n => n.Outputs).Select(v => v.Name), names.Skip(1));
        }

        /// <summary>
        /// Bounded memory by construction: the calibrator keeps one fixed-size accumulator per tensor and no
        /// sample. A source that overwrites one buffer before yielding the next sample gives exactly the
        /// statistics of fresh arrays (anything kept across samples would see the overwritten data), and the
        /// accumulator state is the same size for 5 and for 500 samples.
        /// </summary>
        [Fact]
        public void KeepsNoPerSampleStateWhateverTheSampleCount()
        {
            var (graph, passes) = CalibrationTestModels.Prepare(CalibrationTestModels.ConvNet());
            IEnumerable<float[]> Reused(int count)
            {
                var buffer = new float[InputLength];
                foreach (var sample in CalibrationTestModels.Samples(count, InputLength))
                {
                    sample.CopyTo(buffer, 0);
                    yield return buffer;
                    Array.Fill(buffer, float.NaN); // poison: a calibrator that looked at it later would count NaNs
                }
            }

            var calibrator = new Calibrator(graph);
            var fresh = StatisticsFile.Write(calibrator.Run(() => CalibrationTestModels.Samples(500, InputLength), Metadata(passes)));
            int accumulatorsFor500 = calibrator.LastAccumulatorCount;
            var reused = StatisticsFile.Write(calibrator.Run(() => Reused(500), Metadata(passes)));
            Assert.Equal(fresh, reused);

            int workersFor500 = calibrator.LastWorkerCount;
            calibrator.Run(() => CalibrationTestModels.Samples(5, InputLength), Metadata(passes));
            Assert.Equal(accumulatorsFor500, calibrator.LastAccumulatorCount);
            Assert.Equal(workersFor500, calibrator.LastWorkerCount);
            Assert.Equal(Calibrator.TensorsOf(graph).Count, calibrator.LastAccumulatorCount);
            Assert.Equal(8 + Histogram.DefaultBinCount, calibrator.AccumulatorWords);
        }

        [Fact]
        public void SamplesAreConsumedOneAtATime()
        {
            var (graph, passes) = CalibrationTestModels.Prepare(CalibrationTestModels.ConvNet());
            int outstanding = 0, maxOutstanding = 0, enumerations = 0;
            IEnumerable<float[]> Tracked()
            {
                enumerations++;
                foreach (var sample in CalibrationTestModels.Samples(50, InputLength))
                {
                    outstanding++;
                    maxOutstanding = Math.Max(maxOutstanding, outstanding);
                    yield return sample;
                    outstanding--;
                }
            }
            var progress = new List<CalibrationProgress>();
            new Calibrator(graph).Run(Tracked, Metadata(passes), progress.Add, expectedCount: 50);
            Assert.Equal(2, enumerations);
            Assert.Equal(1, maxOutstanding);
            Assert.Equal(100, progress.Count);
            Assert.Equal(new CalibrationProgress(1, 1, 50), progress[0]);
            Assert.Equal(new CalibrationProgress(2, 50, 50), progress[^1]);
            Assert.Equal(1.0, progress[^1].Fraction);
        }

        [Fact]
        public void ASourceThatChangesBetweenPassesIsAnError()
        {
            var (graph, passes) = CalibrationTestModels.Prepare(CalibrationTestModels.ConvNet());
            int calls = 0;
            var e = Assert.Throws<InvalidOperationException>(() => new Calibrator(graph).Run(
                () => CalibrationTestModels.Samples(++calls == 1 ? 10 : 7, InputLength), Metadata(passes)));
            Assert.Contains("10 samples in the first pass but 7", e.Message);

            calls = 0;
            e = Assert.Throws<InvalidOperationException>(() => new Calibrator(graph).Run(
                () => CalibrationTestModels.Samples(10, InputLength, seed: ++calls), Metadata(passes)));
            Assert.Contains("different samples", e.Message);
        }

        [Fact]
        public void WrongSampleLengthAndEmptySourceAreErrors()
        {
            var (graph, passes) = CalibrationTestModels.Prepare(CalibrationTestModels.ConvNet());
            var e = Assert.Throws<ArgumentException>(() => new Calibrator(graph).Run(() => CalibrationTestModels.Samples(3, 35), Metadata(passes)));
            Assert.Contains("35 values for input 'input' [1x1x6x6]", e.Message);
            Assert.Throws<ArgumentException>(() => new Calibrator(graph).Run(() => Array.Empty<float[]>(), Metadata(passes)));
        }

        [Fact]
        public void NonFiniteValuesAreCountedApartAndConstantTensorsGetOneBin()
        {
            var (graph, passes) = CalibrationTestModels.Prepare(CalibrationTestModels.ConvNet());
            IEnumerable<float[]> Samples()
            {
                var sample = new float[InputLength];
                yield return (float[])sample.Clone();
                sample[5] = float.NaN;
                yield return sample;
            }
            var stats = new Calibrator(graph).Run(Samples, Metadata(passes));
            var input = stats[CalibrationTestModels.InputName];
            Assert.Equal(1UL, input.NonFiniteCount);
            Assert.Equal(71UL, input.Count);
            Assert.Equal(0.0, input.Min);
            Assert.Equal(0.0, input.Max);
            Assert.Equal(71UL, input.Histogram[0]);
            Assert.Equal(0.0, input.StandardDeviation);
            // The written file is valid and reads back.
            Assert.True(StatisticsFile.Read(StatisticsFile.Write(stats), "nan.calib").Succeeded);
        }
    }
}
