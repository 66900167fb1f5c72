using System;
using System.Linq;
using Google.Protobuf;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;
using NetQuantGen.Import;
using NetQuantGen.Onnx.Proto;
using Xunit;
using static NetQuantGen.Tests.OnnxBuilder;

namespace NetQuantGen.Tests.Import
{
    /// <summary>
    /// Models whose declared size or shape is beyond the configured limits are refused with NQG0016 before anything is
    /// allocated: the checks read only dimensions and counts. Each test bounds the bytes the import allocates, which
    /// would be gigabytes (or an OutOfMemoryException) if the importer trusted the declaration.
    /// </summary>
    public class ResourceLimitTests
    {
        private const string ModelName = "huge.onnx";
        private const long AllocationBound = 64L << 20;

        private static OnnxBuilder ReluWithInitializer(TensorProto initializer) => new OnnxBuilder()
            .Input("x", 1, 4)
            .Initializer(initializer)
            .Node("Add", new[] { "x", initializer.Name }, new[] { "y" }, "add")
            .Output("y");

        private static ModelDiagnostic RefusedWithinAllocationBound(byte[] bytes, ImportOptions? options = null)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var result = OnnxImporter.Import(bytes, ModelName, options);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Null(result.Graph);
            var diagnostic = Assert.Single(result.Diagnostics);
            Assert.Equal(DiagnosticCatalog.ResourceLimit.Id, diagnostic.Id);
            Assert.Contains(ModelName, diagnostic.Message);
            Assert.True(allocated < AllocationBound, $"the import allocated {allocated >> 20} MB before refusing");
            return diagnostic;
        }

        [Theory]
        [InlineData(1L << 40)]
        [InlineData(1L << 29)]
        public void InitializerDeclaringHugeDimensionsIsRefusedBeforeItsDataIsRead(long dimension)
        {
            var tensor = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 1, dimension }, RawData = ByteString.CopyFrom(new byte[16]) };
            var d = RefusedWithinAllocationBound(ReluWithInitializer(tensor).Bytes());
            Assert.Contains("initializer 'w'", d.Message);
        }

        [Fact]
        public void DimensionsWhoseProductWrapsAroundAreRefused()
        {
            // 2^32 × 2^32 × 2 wraps a 64-bit product to 0: the count must be checked before each multiplication.
            var tensor = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 1L << 32, 1L << 32, 2 } };
            RefusedWithinAllocationBound(ReluWithInitializer(tensor).Bytes());
        }

        [Fact]
        public void InitializersTogetherOverTheByteLimitAreRefused()
        {
            var builder = new OnnxBuilder().Input("x", 1, 1024);
            string previous = "x";
            for (int i = 0; i < 4; i++)
            {
                builder.Initializer($"w{i}", new long[] { 1, 1024 }, new float[1024]);
                builder.Node("Add", new[] { previous, $"w{i}" }, new[] { $"a{i}" }, $"add{i}");
                previous = $"a{i}";
            }
            var bytes = builder.Output(previous).Bytes();
            Assert.NotNull(OnnxImporter.Import(bytes, ModelName).Graph); // 16 KiB: fine by default
            var d = RefusedWithinAllocationBound(bytes, new ImportOptions { MaxTensorBytes = 10_000 });
            Assert.Contains("MaxTensorBytes", d.Message);
        }

        [Fact]
        public void ExternalDataLengthThatDisagreesWithTheDimensionsIsRefusedBeforeReading()
        {
            var tensor = new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 1, 4 }, DataLocation = TensorProto.Types.DataLocation.External };
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = (1L << 40).ToString() });
            bool read = false;
            var options = new ImportOptions { ModelDirectory = "/tmp", ReadExternalData = (_, _, _) => { read = true; return new byte[16]; } };
            var result = OnnxImporter.Import(ReluWithInitializer(tensor).Bytes(), ModelName, options);
            Assert.Equal(DiagnosticCatalog.MalformedModel.Id, Assert.Single(result.Diagnostics).Id);
            Assert.False(read, "the external file was read although its length disagrees with the declared dimensions");
        }

        [Fact]
        public void GraphWithMoreNodesThanTheLimitIsRefused()
        {
            var d = RefusedWithinAllocationBound(ReluChain(50), new ImportOptions { MaxNodes = 40 });
            Assert.Contains("50 nodes", d.Message);
        }

        [Fact]
        public void GraphDeeperThanTheLimitIsRefused()
        {
            Assert.NotNull(OnnxImporter.Import(ReluChain(50), ModelName, new ImportOptions { MaxGraphDepth = 50 }).Graph);
            var d = RefusedWithinAllocationBound(ReluChain(51), new ImportOptions { MaxGraphDepth = 50 });
            Assert.Contains("51 nodes deep", d.Message);
        }

        [Fact]
        public void ActivationsOverTheByteLimitAreRefused()
        {
            var d = RefusedWithinAllocationBound(ReluChain(4), new ImportOptions { MaxTensorBytes = 4 * 4 * 64 });
            Assert.Contains("activations", d.Message);
        }

        [Fact]
        public void TheAttributesMaxTensorMegabytesSetsTheCompilersLimit()
        {
            // 2 MiB of weights: over a 1 MiB limit, well under the default.
            var big = new OnnxBuilder().Input("x", 1, 512 * 1024).Initializer("w", new long[] { 1, 512 * 1024 }, new float[512 * 1024])
                .Node("Add", new[] { "x", "w" }, new[] { "y" }, "add").Output("y").Bytes();
            ModelInput Input(CompilationOptions options) =>
                new(ModelName, big, null, null, options, new TargetClass(null, "Big", "public", true));
            var limited = ModelCompiler.Compile(Input(new CompilationOptions { MaxTensorMegabytes = 1 }));
            Assert.Null(limited.Source);
            Assert.Contains(limited.Diagnostics, d => d.Id == DiagnosticCatalog.ResourceLimit.Id);
            var unlimited = ModelCompiler.Compile(Input(new CompilationOptions()));
            Assert.DoesNotContain(unlimited.Diagnostics, d => d.Id == DiagnosticCatalog.ResourceLimit.Id);
            Assert.NotNull(unlimited.Source);
        }

        /// <summary>x[1,64] → Relu × <paramref name="length"/>.</summary>
        private static byte[] ReluChain(int length)
        {
            var builder = new OnnxBuilder().Input("x", 1, 64);
            for (int i = 0; i < length; i++)
                builder.Node("Relu", new[] { i == 0 ? "x" : $"r{i - 1}" }, new[] { $"r{i}" }, $"relu{i}");
            return builder.Output($"r{length - 1}").Bytes();
        }
    }
}
