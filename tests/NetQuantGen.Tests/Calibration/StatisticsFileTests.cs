using System;
using System.Linq;
using System.Text;
using Google.Protobuf;
using NetQuantGen.Calibration;
using NetQuantGen.Diagnostics;
using Xunit;
using Proto = NetQuantGen.Calibration.Proto;

namespace NetQuantGen.Tests.Calibration
{
    public class StatisticsFileTests
    {
        private static CalibrationStatistics Calibrated(int samples = 20)
        {
            var (graph, passes) = CalibrationTestModels.Prepare(CalibrationTestModels.ConvNet());
            var metadata = new CalibrationMetadata(ModelHash.Sha256Hex(CalibrationTestModels.ConvNet()), "tiny.onnx", passes, "20 random samples", "tests 1.0");
            return new Calibrator(graph).Run(() => CalibrationTestModels.Samples(samples, 36), metadata);
        }

        [Fact]
        public void RoundTripsByteIdenticallyWithEveryField()
        {
            var stats = Calibrated();
            var bytes = StatisticsFile.Write(stats);
            var read = StatisticsFile.Read(bytes, "tiny.calib");
            Assert.Empty(read.Diagnostics);
            var back = read.Statistics!;
            Assert.Equal(bytes, StatisticsFile.Write(back));

            Assert.Equal(CalibrationStatistics.CurrentFormatVersion, back.FormatVersion);
            Assert.Equal(stats.ModelSha256, back.ModelSha256);
            Assert.Equal("tiny.onnx", back.ModelFileName);
            Assert.Equal(stats.Passes.ToArray(), back.Passes.ToArray());
            Assert.Equal("input", Assert.Single(back.InputShapes).Name);
            Assert.Equal(new[] { 1, 1, 6, 6 }, back.InputShapes[0].Dims.ToArray());
            Assert.Equal(20UL, back.SampleCount);
            Assert.Equal("20 random samples", back.DataDescription);
            Assert.Equal("tests 1.0", back.Producer);
            Assert.Equal(stats.Tensors.Select(t => t.Name), back.Tensors.Select(t => t.Name));
            foreach (var t in stats.Tensors)
            {
                Assert.True(back.TryGet(t.Name, out var u));
                Assert.Equal(t.Shape.ToArray(), u.Shape.ToArray());
                Assert.Equal(t.Min, u.Min);
                Assert.Equal(t.Max, u.Max);
                Assert.Equal(t.Count, u.Count);
                Assert.Equal(t.Mean, u.Mean);
                Assert.Equal(t.StandardDeviation, u.StandardDeviation);
                Assert.Equal(t.Histogram.Counts.ToArray(), u.Histogram.Counts.ToArray());
            }
            Assert.False(back.TryGet("no such tensor", out _));
        }

        [Fact]
        public void ReadNeverThrowsOnTruncatedOrCorruptedBytes()
        {
            var bytes = StatisticsFile.Write(Calibrated(3));
            for (int length = 0; length < bytes.Length; length += Math.Max(1, bytes.Length / 300))
            {
                var result = StatisticsFile.Read(bytes.Take(length).ToArray(), "cut.calib");
                Assert.False(result.Succeeded, $"a {length}-byte prefix read as valid");
                var d = Assert.Single(result.Diagnostics);
                Assert.Equal(DiagnosticCatalog.MalformedStatistics.Id, d.Id);
                Assert.Contains("cut.calib", d.Message);
            }
            var random = new Random(5);
            for (int i = 0; i < 200; i++)
            {
                var copy = (byte[])bytes.Clone();
                copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
                var result = StatisticsFile.Read(copy, "flipped.calib"); // must not throw; may be valid if a value bit flipped
                Assert.True(result.Succeeded || result.Diagnostics.Single().Id == "NQG0017");
            }
        }

        [Theory]
        [InlineData("empty")]
        [InlineData("garbage")]
        [InlineData("onnx")]
        [InlineData("newer")]
        [InlineData("hash")]
        [InlineData("histogram")]
        [InlineData("duplicate")]
        [InlineData("cut")]
        public void MalformedFilesGiveOneDiagnostic(string kind)
        {
            var file = Proto.StatisticsFile.Parser.ParseFrom(StatisticsFile.Write(Calibrated(2)));
            byte[] bytes;
            string expected;
            switch (kind)
            {
                case "empty": bytes = Array.Empty<byte>(); expected = "empty"; break;
                case "garbage": bytes = Encoding.ASCII.GetBytes("this is not a statistics file, just text"); expected = "statistics"; break;
                case "onnx": bytes = CalibrationTestModels.ConvNet(); expected = "not a"; break;
                case "newer": file.FormatVersion = 2; bytes = file.ToByteArray(); expected = "format version 2"; break;
                case "hash": file.ModelSha256 = "abc"; bytes = file.ToByteArray(); expected = "SHA-256"; break;
                case "histogram": file.Tensors[1].Histogram.Counts[0] += 1; bytes = file.ToByteArray(); expected = "histogram holds"; break;
                case "cut": file.Tensors.RemoveAt(file.Tensors.Count - 1); bytes = file.ToByteArray(); expected = "truncated or damaged"; break;
                default: file.Tensors.Add(file.Tensors[0].Clone()); file.TensorCount++; bytes = file.ToByteArray(); expected = "appears twice"; break;
            }
            var result = StatisticsFile.Read(bytes, "bad.calib");
            Assert.Null(result.Statistics);
            var d = Assert.Single(result.Diagnostics);
            Assert.Equal("NQG0017", d.Id);
            Assert.Equal(DiagnosticLevel.Error, d.Kind.Level);
            Assert.Contains("bad.calib", d.Message);
            Assert.Contains(expected, d.Message);
        }

        [Fact]
        public void MalformedStatisticsIsInTheCatalog()
        {
            Assert.Contains(DiagnosticCatalog.MalformedStatistics, DiagnosticCatalog.All);
            Assert.Equal("NQG0017", DiagnosticCatalog.MalformedStatistics.Id);
            Assert.Equal(DiagnosticCatalog.All.Count, DiagnosticCatalog.All.Select(k => k.Id).Distinct().Count());
        }

        [Fact]
        public void CheckAgainstReportsStaleHashPassesAndTensorMismatches()
        {
            var stats = Calibrated(2);
            var model = CalibrationTestModels.ConvNet();
            var (graph, passes) = CalibrationTestModels.Prepare(model);
            Assert.Empty(stats.CheckAgainst(graph, ModelHash.Sha256Hex(model), passes, "tiny.calib"));

            var stale = Assert.Single(stats.CheckAgainst(graph, ModelHash.Sha256Hex(CalibrationTestModels.ConvNet(seed: 4)), passes, "tiny.calib"));
            Assert.Equal(DiagnosticCatalog.StaleStatistics, stale.Kind);
            Assert.Contains("netquant calibrate", stale.Message);

            var import = NetQuantGen.Import.OnnxImporter.Import(model, "tiny.onnx");
            var unfolded = import.Graph!;
            var problems = stats.CheckAgainst(unfolded, ModelHash.Sha256Hex(model), Array.Empty<string>(), "tiny.calib");
            Assert.Equal(new[] { DiagnosticCatalog.StaleStatistics, DiagnosticCatalog.TensorNameMismatch }, problems.Select(p => p.Kind));
            Assert.Contains("'bn'", problems[1].Message);
        }

        [Fact]
        public void ModelHashIsSha256Hex()
        {
            Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ModelHash.Sha256Hex(Encoding.ASCII.GetBytes("abc")));
            Assert.True(ModelHash.IsSha256Hex(ModelHash.Sha256Hex(Array.Empty<byte>())));
            Assert.False(ModelHash.IsSha256Hex("xyz"));
        }
    }
}
