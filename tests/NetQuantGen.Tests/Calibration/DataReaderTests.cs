using System;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using NetQuantGen.Runtime.Data;
using Xunit;

namespace NetQuantGen.Tests.Calibration
{
    /// <summary>The runtime's data readers (IDX, .npy, netpbm folders) and the input preprocessing convention.</summary>
    public class DataReaderTests
    {
        private static string CalibImages => Repository.PathOf("samples", "data", "calib-images-idx3-ubyte.gz");

        private static string CalibLabels => Repository.PathOf("samples", "data", "calib-labels-idx1-ubyte.gz");

        [Fact]
        public void ReadsTheCommittedCalibrationSlice()
        {
            var images = IdxFile.Read(CalibImages);
            Assert.Equal(IdxDataType.UInt8, images.DataType);
            Assert.Equal(new[] { 1000, 28, 28 }, images.Dimensions);
            Assert.Equal(new[] { 28, 28 }, images.ItemShape);
            Assert.Equal(784, images.ItemLength);
            Assert.Contains("calib-images-idx3-ubyte.gz: 1000 items of 28x28 uint8", images.Description);
            var first = images.Read(0);
            Assert.Equal(new[] { 28, 28 }, first.Shape);
            Assert.All(first.Values, v => Assert.InRange(v, 0f, 1f));
            Assert.Contains(first.Values, v => v > 0.5f);
            Assert.Equal(images.ItemBytes(0)[300] / 255f, first.Values[300]);

            var labels = IdxFile.ReadLabels(CalibLabels);
            Assert.Equal(1000, labels.Length);
            Assert.All(labels, l => Assert.InRange(l, (byte)0, (byte)9));
            Assert.Equal(10, labels.Distinct().Count());
        }

        [Fact]
        public void ReadsRawAndGzipAlike()
        {
            byte[] compressed = File.ReadAllBytes(CalibLabels);
            using var raw = new MemoryStream();
            using (var gzip = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress)) gzip.CopyTo(raw);
            var a = IdxFile.FromBytes(compressed, "labels.gz");
            var b = IdxFile.FromBytes(raw.ToArray(), "labels");
            Assert.Equal(a.Dimensions, b.Dimensions);
            Assert.True(a.ItemBytes(0, a.Count).SequenceEqual(b.ItemBytes(0, b.Count)));
        }

        [Fact]
        public void TheCommittedTestSetEqualsDebiansFashionMnist()
        {
            string folder = Repository.RequireDebianFolder("/usr/share/datasets/fashion-mnist", "dataset-fashion-mnist");
            var debian = IdxFile.Read(Path.Combine(folder, "t10k-images-idx3-ubyte.gz"));
            var committed = IdxFile.Read(Repository.PathOf("samples", "data", "t10k-images-idx3-ubyte.gz"));
            Assert.Equal(new[] { 10000, 28, 28 }, debian.Dimensions);
            Assert.True(debian.ItemBytes(0, debian.Count).SequenceEqual(committed.ItemBytes(0, committed.Count)));
            var train = IdxFile.Read(Path.Combine(folder, "train-images-idx3-ubyte.gz"));
            var calib = IdxFile.Read(CalibImages);
            Assert.True(train.ItemBytes(0, 1000).SequenceEqual(calib.ItemBytes(0, 1000)), "the calibration slice is the first 1,000 training images");
        }

        [Theory]
        [InlineData(new byte[] { 0, 0 }, "too few")]
        [InlineData(new byte[] { 1, 0, 8, 1, 0, 0, 0, 0 }, "magic")]
        [InlineData(new byte[] { 0, 0, 7, 1, 0, 0, 0, 0 }, "type code 0x07")]
        [InlineData(new byte[] { 0, 0, 8, 3, 0, 0, 0, 2 }, "inside the header")]
        [InlineData(new byte[] { 0, 0, 8, 1, 0, 0, 0, 3, 1, 2 }, "truncated")]
        [InlineData(new byte[] { 0, 0, 8, 1, 0, 0, 0, 1, 1, 2 }, "trailing bytes")]
        [InlineData(new byte[] { 0x1F, 0x8B, 8, 0, 0, 0 }, "gzip")]
        public void BadIdxFilesGiveClearErrors(byte[] bytes, string expected)
        {
            var e = Assert.Throws<InvalidDataException>(() => IdxFile.FromBytes(bytes, "bad.idx"));
            Assert.Contains("'bad.idx'", e.Message);
            Assert.Contains(expected, e.Message);
        }

        [Fact]
        public void TruncatedGzipIsAnError()
        {
            var bytes = File.ReadAllBytes(CalibImages);
            var e = Assert.Throws<InvalidDataException>(() => IdxFile.FromBytes(bytes.Take(bytes.Length / 2).ToArray(), "half.gz"));
            Assert.Contains("half.gz", e.Message);
        }

        /// <summary>Writes a version-1 .npy as NumPy does (header padded to a multiple of 64 bytes).</summary>
        internal static byte[] Npy(string descr, int[] shape, byte[] data, bool fortran = false)
        {
            string dims = string.Join(", ", shape) + (shape.Length == 1 ? "," : "");
            string header = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': ({dims}), }}";
            int total = 10 + header.Length + 1;
            header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
            var result = new MemoryStream();
            result.Write(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 });
            result.Write(BitConverter.GetBytes((ushort)header.Length));
            result.Write(Encoding.ASCII.GetBytes(header));
            result.Write(data);
            return result.ToArray();
        }

        internal static byte[] Floats(float[] values)
        {
            var bytes = new byte[values.Length * 4];
            Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
            return bytes;
        }

        [Fact]
        public void ReadsNpyFloat32AndUInt8()
        {
            var values = Enumerable.Range(0, 2 * 3 * 4).Select(i => i * 0.25f - 1).ToArray();
            using var f = NpyFile.FromBytes(Npy("<f4", new[] { 2, 3, 4 }, Floats(values)), "x.npy");
            Assert.Equal(NpyDataType.Float32, f.DataType);
            Assert.Equal(2, f.Count);
            Assert.Equal(new[] { 3, 4 }, f.ItemShape);
            Assert.Equal(values.Skip(12).ToArray(), f.Read(1).Values);
            Assert.Equal(values.Take(12).ToArray(), f.Read(0).Values);

            var pixels = Enumerable.Range(0, 3 * 4).Select(i => (byte)(i * 20)).ToArray();
            using var u = NpyFile.FromBytes(Npy("|u1", new[] { 3, 2, 2 }, pixels), "u.npy");
            Assert.Equal(NpyDataType.UInt8, u.DataType);
            Assert.Equal(new[] { 80 / 255f, 100 / 255f, 120 / 255f, 140 / 255f }, u.Read(1).Values);
        }

        [Fact]
        public void OpensNpyFilesLazily()
        {
            using var folder = new TempFolder();
            string path = Path.Combine(folder.Path, "big.npy");
            var values = Enumerable.Range(0, 500 * 10).Select(i => (float)i).ToArray();
            File.WriteAllBytes(path, Npy("<f4", new[] { 500, 10 }, Floats(values)));
            using var f = NpyFile.Open(path);
            Assert.Equal(500, f.Count);
            Assert.Equal(4990f, f.Read(499).Values[0]);
            Assert.Equal(15f, f.Read(1).Values[5]);
        }

        [Theory]
        [InlineData("<f8", "'<f8'")]
        [InlineData(">f4", "big-endian")]
        [InlineData("fortran", "Fortran")]
        [InlineData("truncated", "truncated")]
        [InlineData("magic", "magic")]
        [InlineData("scalar", "scalar")]
        public void BadNpyFilesGiveClearErrors(string kind, string expected)
        {
            byte[] bytes = kind switch
            {
                "<f8" => Npy("<f8", new[] { 2 }, new byte[16]),
                ">f4" => Npy(">f4", new[] { 2 }, new byte[8]),
                "fortran" => Npy("<f4", new[] { 2, 2 }, new byte[16], fortran: true),
                "truncated" => Npy("<f4", new[] { 3, 2 }, new byte[20]),
                "scalar" => Npy("<f4", Array.Empty<int>(), new byte[4]),
                _ => Encoding.ASCII.GetBytes("PK\u0003\u0004 a zip, not an npy"),
            };
            var e = Assert.Throws<InvalidDataException>(() => NpyFile.FromBytes(bytes, "bad.npy"));
            Assert.Contains("'bad.npy'", e.Message);
            Assert.Contains(expected, e.Message);
        }

        [Fact]
        public void FitImagePadsCentredAndReplicatesChannels()
        {
            var pixels = Enumerable.Range(0, 784).Select(i => (byte)(i % 251)).ToArray();
            var same = InputPreprocessing.FitImage(pixels, new[] { 1, 1, 28, 28 });
            Assert.Equal(pixels.Select(p => p / 255f).ToArray(), same);

            var padded = InputPreprocessing.FitImage(pixels, new[] { 1, 3, 32, 32 });
            Assert.Equal(3 * 32 * 32, padded.Length);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++)
                    {
                        bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
                        float expected = inside ? pixels[(y - 2) * 28 + x - 2] / 255f : 0f;
                        Assert.Equal(expected, padded[c * 1024 + y * 32 + x]);
                    }

            var floats = pixels.Select(p => p / 255f).ToArray();
            Assert.Equal(padded, InputPreprocessing.FitImage(floats, new[] { 1, 3, 32, 32 }));
            // An odd margin puts the extra row and column at the bottom right.
            var odd = InputPreprocessing.FitImage(new float[] { 1, 2, 3, 4 }, new[] { 2, 2 }, new[] { 1, 1, 3, 3 });
            Assert.Equal(new float[] { 1, 2, 0, 3, 4, 0, 0, 0, 0 }, odd);
        }

        [Fact]
        public void FitRejectsLargerImagesAndUnsupportedChannels()
        {
            var e = Assert.Throws<ArgumentException>(() => InputPreprocessing.FitImage(new byte[32 * 32], new[] { 1, 1, 28, 28 }));
            Assert.Contains("32x32", e.Message);
            Assert.Throws<ArgumentException>(() => InputPreprocessing.FitImage(new float[2 * 4], new[] { 2, 2, 2 }, new[] { 1, 3, 2, 2 }));
            Assert.Throws<ArgumentException>(() => InputPreprocessing.FitImage(new float[4], new[] { 2, 2 }, new[] { 2, 1, 2, 2 }));
        }

        [Fact]
        public void FitCopiesDataAlreadyShapedLikeTheInput()
        {
            var item = new DataItem(new float[] { 5, 6, 7, 8 }, new[] { 1, 2, 2 });
            Assert.Equal(new float[] { 5, 6, 7, 8 }, InputPreprocessing.Fit(item, new[] { 1, 1, 2, 2 }));
            var vector = new DataItem(new float[] { 1, 2, 3 }, new[] { 3 });
            Assert.Equal(new float[] { 1, 2, 3 }, InputPreprocessing.Fit(vector, new[] { 1, 3 }));
        }

        [Fact]
        public void ReadsNetpbmFoldersInPathOrder()
        {
            using var folder = new TempFolder();
            Directory.CreateDirectory(Path.Combine(folder.Path, "b"));
            var grey = Enumerable.Range(0, 6).Select(i => (byte)(i * 40)).ToArray();
            File.WriteAllBytes(Path.Combine(folder.Path, "b", "1.pgm"), Netpbm.EncodePgm(grey, 2, 3));
            File.WriteAllText(Path.Combine(folder.Path, "a.pgm"), "P2\n# a comment\n2 1\n15\n0 15\n");
            File.WriteAllBytes(Path.Combine(folder.Path, "c.ppm"), Encoding.ASCII.GetBytes("P6 1 1 255\n").Concat(new byte[] { 10, 20, 30 }).ToArray());
            File.WriteAllText(Path.Combine(folder.Path, "notes.txt"), "ignored");

            using var images = new ImageFolder(folder.Path);
            Assert.Equal(new[] { "a.pgm", "b/1.pgm", "c.ppm" }, images.Files);
            var a = images.Decode(0);
            Assert.Equal((1, 1, 2), (a.Channels, a.Height, a.Width));
            Assert.Equal(new byte[] { 0, 255 }, a.Pixels);
            Assert.Equal(grey, images.Decode(1).Pixels);
            var c = images.Read(2);
            Assert.Equal(new[] { 3, 1, 1 }, c.Shape);
            Assert.Equal(new[] { 10 / 255f, 20 / 255f, 30 / 255f }, c.Values);

            var e = Assert.Throws<InvalidDataException>(() => Netpbm.Decode(Encoding.ASCII.GetBytes("P5 4 4 255\n"), "short.pgm"));
            Assert.Contains("truncated", e.Message);
            Directory.CreateDirectory(Path.Combine(folder.Path, "empty"));
            Assert.Contains("no images", Assert.Throws<InvalidDataException>(() => new ImageFolder(Path.Combine(folder.Path, "empty"))).Message);
            Assert.Throws<DirectoryNotFoundException>(() => new ImageFolder(Path.Combine(folder.Path, "missing")));
        }
    }
}
