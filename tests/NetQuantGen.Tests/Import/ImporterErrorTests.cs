using System;
using System.IO;
using System.Linq;
using Google.Protobuf;
using NetQuantGen.Diagnostics;
using NetQuantGen.Import;
using NetQuantGen.IR;
using NetQuantGen.Onnx.Proto;
using Xunit;
using static NetQuantGen.Tests.OnnxBuilder;

namespace NetQuantGen.Tests.Import
{
    /// <summary>Every kind of bad model ends in one diagnostic naming the model (and node), never an exception.</summary>
    public class ImporterErrorTests
    {
        private const string ModelName = "bad.onnx";

        /// <summary>A valid Conv → Relu model that the error tests start from.</summary>
        private static OnnxBuilder ConvRelu() => new OnnxBuilder()
            .Input("x", 1, 2, 5, 5)
            .Initializer("w", new long[] { 3, 2, 3, 3 }, Enumerable.Range(0, 54).Select(i => i * 0.01f).ToArray())
            .Node("Conv", new[] { "x", "w" }, new[] { "c" }, "conv1", Ints("pads", 1, 1, 1, 1))
            .Node("Relu", new[] { "c" }, new[] { "y" }, "relu1")
            .Output("y");

        private static ModelDiagnostic SingleError(byte[] bytes, ImportOptions? options = null)
        {
            var result = OnnxImporter.Import(bytes, ModelName, options);
            Assert.Null(result.Graph);
            var diagnostic = Assert.Single(result.Diagnostics);
            Assert.Contains(ModelName, diagnostic.Message);
            return diagnostic;
        }

        [Fact]
        public void ValidModelImportsWithInferredShapes()
        {
            var result = OnnxImporter.Import(ConvRelu().Bytes(), ModelName);
            Assert.Empty(result.Diagnostics);
            Assert.Equal(new[] { 1, 3, 5, 5 }, result.Graph!.Outputs[0].Shape);
        }

        [Fact]
        public void EmptyFileIsMalformed()
        {
            var d = SingleError(Array.Empty<byte>());
            Assert.Equal(DiagnosticCatalog.MalformedModel.Id, d.Id);
            Assert.Contains("empty", d.Message);
        }

        [Fact]
        public void TruncatedFileIsMalformedAtEveryCut()
        {
            var bytes = ConvRelu().Bytes();
            // Every prefix must end in a diagnostic; most are malformed protobuf, some parse but are incomplete.
            for (int length = 1; length < bytes.Length; length += 7)
            {
                var result = OnnxImporter.Import(bytes.Take(length).ToArray(), ModelName);
                if (result.Graph != null) continue; // a prefix that happens to be a complete smaller model
                var d = Assert.Single(result.Diagnostics);
                Assert.NotEqual(DiagnosticCatalog.InternalError.Id, d.Id);
                Assert.Contains(ModelName, d.Message);
            }
        }

        [Fact]
        public void RandomBytesAreMalformed()
        {
            var random = new Random(1);
            var bytes = new byte[4096];
            random.NextBytes(bytes);
            Assert.Equal(DiagnosticCatalog.MalformedModel.Id, SingleError(bytes).Id);
        }

        [Fact]
        public void UnknownOperatorIsNamedWithItsNode()
        {
            var bytes = new OnnxBuilder().Input("x", 1, 4).Node("Frobnicate", new[] { "x" }, new[] { "y" }, "mystery").Output("y").Bytes();
            var d = SingleError(bytes);
            Assert.Equal(DiagnosticCatalog.UnsupportedOperator.Id, d.Id);
            Assert.Contains("mystery", d.Message);
            Assert.Contains("Frobnicate", d.Message);
        }

        [Fact]
        public void UnknownAttributeIsRejected()
        {
            var bytes = new OnnxBuilder().Input("x", 1, 4).Node("Relu", new[] { "x" }, new[] { "y" }, "r", Int("fancy", 1)).Output("y").Bytes();
            var d = SingleError(bytes);
            Assert.Equal(DiagnosticCatalog.UnsupportedAttribute.Id, d.Id);
            Assert.Contains("fancy", d.Message);
        }

        [Fact]
        public void CycleIsReportedWithANodeOnIt()
        {
            var bytes = new OnnxBuilder().Input("x", 1, 4)
                .Node("Add", new[] { "x", "b" }, new[] { "a" }, "first")
                .Node("Relu", new[] { "a" }, new[] { "b" }, "second")
                .Output("b").Bytes();
            var d = SingleError(bytes);
            Assert.Equal(DiagnosticCatalog.GraphCycle.Id, d.Id);
            Assert.True(d.Message.Contains("first") || d.Message.Contains("second"), d.Message);
        }

        [Fact]
        public void ShapeThatDoesNotFitNamesTheNode()
        {
            // Weight expects 3 input channels, the input has 2.
            var bytes = new OnnxBuilder().Input("x", 1, 2, 5, 5)
                .Initializer("w", new long[] { 4, 3, 3, 3 }, new float[108])
                .Node("Conv", new[] { "x", "w" }, new[] { "y" }, "conv_bad")
                .Output("y").Bytes();
            var d = SingleError(bytes);
            Assert.Equal(DiagnosticCatalog.ShapeMismatch.Id, d.Id);
            Assert.Contains("conv_bad", d.Message);
        }

        [Fact]
        public void BroadcastMismatchIsAShapeError()
        {
            var bytes = new OnnxBuilder().Input("x", 1, 3).Input("z", 1, 4)
                .Node("Add", new[] { "x", "z" }, new[] { "y" }, "add_bad").Output("y").Bytes();
            Assert.Equal(DiagnosticCatalog.ShapeMismatch.Id, SingleError(bytes).Id);
        }

        [Fact]
        public void UndefinedInputIsMalformed()
        {
            var bytes = new OnnxBuilder().Input("x", 1, 4).Node("Relu", new[] { "nowhere" }, new[] { "y" }, "r").Output("y").Bytes();
            var d = SingleError(bytes);
            Assert.Equal(DiagnosticCatalog.MalformedModel.Id, d.Id);
            Assert.Contains("nowhere", d.Message);
        }

        [Fact]
        public void DynamicDimensionMustBePinned()
        {
            var builder = new OnnxBuilder().Input("x", new long?[] { 1, 3, null, null })
                .Node("Relu", new[] { "x" }, new[] { "y" }, "r").Output("y");
            var d = SingleError(builder.Bytes());
            Assert.Equal(DiagnosticCatalog.UnpinnedDynamicDimension.Id, d.Id);
            Assert.Contains("'x'", d.Message);
            Assert.Contains("InputShape", d.Message);

            var pinned = OnnxImporter.Import(builder.Bytes(), ModelName, new ImportOptions
            {
                InputShapes = new System.Collections.Generic.Dictionary<string, int[]> { ["x"] = new[] { 1, 3, 8, 6 } },
            });
            Assert.Equal(new[] { 1, 3, 8, 6 }, pinned.Graph!.Outputs[0].Shape);
        }

        [Fact]
        public void PinnedShapeMustKeepFixedDimensions()
        {
            var bytes = new OnnxBuilder().Input("x", new long?[] { 1, 3, null }).Node("Relu", new[] { "x" }, new[] { "y" }, "r").Output("y").Bytes();
            var d = SingleError(bytes, new ImportOptions
            {
                InputShapes = new System.Collections.Generic.Dictionary<string, int[]> { ["x"] = new[] { 1, 4, 8 } },
            });
            Assert.Equal(DiagnosticCatalog.ShapeMismatch.Id, d.Id);
        }

        [Fact]
        public void UnsupportedOpsetIsRejected()
        {
            var bytes = new OnnxBuilder(opset: 99).Input("x", 1, 4).Node("Relu", new[] { "x" }, new[] { "y" }).Output("y").Bytes();
            Assert.Equal(DiagnosticCatalog.UnsupportedOpset.Id, SingleError(bytes).Id);
        }

        [Fact]
        public void RawDataOfWrongLengthIsMalformed()
        {
            var w = FloatTensor("w", new long[] { 2, 2 }, new float[] { 1, 2, 3 });
            var bytes = new OnnxBuilder().Input("x", 2, 2).Initializer(w)
                .Node("MatMul", new[] { "x", "w" }, new[] { "y" }).Output("y").Bytes();
            var d = SingleError(bytes);
            Assert.Equal(DiagnosticCatalog.MalformedModel.Id, d.Id);
            Assert.Contains("'w'", d.Message);
        }

        [Fact]
        public void TypedFieldAndRawDataTensorsImportAlike()
        {
            var typed = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float };
            typed.Dims.AddRange(new long[] { 2, 2 });
            typed.FloatData.AddRange(new[] { 1f, -2f, 3.5f, 4f });
            var raw = FloatTensor("w", new long[] { 2, 2 }, new[] { 1f, -2f, 3.5f, 4f });
            float[] Weights(TensorProto t) => OnnxImporter.Import(new OnnxBuilder().Input("x", 2, 2).Initializer(t)
                .Node("MatMul", new[] { "x", "w" }, new[] { "y" }).Output("y").Bytes(), ModelName).Graph!.Nodes[0].Input(1).Constant!.Floats!;
            Assert.Equal(Weights(typed), Weights(raw));
        }

        [Fact]
        public void ExternalDataInsideTheModelFolderIsRead()
        {
            using var folder = new TempFolder();
            var values = new[] { 1f, 2f, 3f, 4f };
            var bytes = new byte[8 + 16];
            Buffer.BlockCopy(values, 0, bytes, 8, 16);
            File.WriteAllBytes(Path.Combine(folder.Path, "weights.bin"), bytes);
            var result = OnnxImporter.Import(ModelWithExternalWeight("weights.bin", offset: 8).ToByteArray(), ModelName, ExternalOptions(folder.Path));
            Assert.Empty(result.Diagnostics);
            Assert.Equal(values, result.Graph!.Nodes[0].Input(1).Constant!.Floats);
        }

        [Theory]
        [InlineData("../outside.bin")]
        [InlineData("/etc/passwd")]
        [InlineData("sub/../../outside.bin")]
        public void ExternalDataOutsideTheModelFolderIsRefused(string location)
        {
            using var folder = new TempFolder();
            var d = SingleError(ModelWithExternalWeight(location, offset: 0).ToByteArray(), ExternalOptions(folder.Path));
            Assert.Equal(DiagnosticCatalog.ExternalDataOutsideModelFolder.Id, d.Id);
            Assert.Contains("'w'", d.Message);
        }

        [Fact]
        public void MissingExternalFileIsReported()
        {
            using var folder = new TempFolder();
            var d = SingleError(ModelWithExternalWeight("absent.bin", offset: 0).ToByteArray(), ExternalOptions(folder.Path));
            Assert.Equal(DiagnosticCatalog.MissingFile.Id, d.Id);
        }

        private static ImportOptions ExternalOptions(string folder) => new()
        {
            ModelDirectory = folder,
            ReadExternalData = (path, offset, length) =>
            {
                using var stream = File.OpenRead(path);
                stream.Seek(offset, SeekOrigin.Begin);
                var buffer = new byte[length];
                int read = 0;
                while (read < length) { int n = stream.Read(buffer, read, (int)length - read); if (n == 0) break; read += n; }
                return buffer.Take(read).ToArray();
            },
        };

        private static ModelProto ModelWithExternalWeight(string location, long offset)
        {
            var w = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
            w.Dims.AddRange(new long[] { 2, 2 });
            w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
            w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString() });
            w.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = "16" });
            return new OnnxBuilder().Input("x", 2, 2).Initializer(w).Node("MatMul", new[] { "x", "w" }, new[] { "y" }).Output("y").Model();
        }
    }
}
