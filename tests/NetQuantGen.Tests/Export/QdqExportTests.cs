using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.ML.OnnxRuntime;
using NetQuantGen.Compiler;
using NetQuantGen.Export;
using NetQuantGen.IntegerIR;
using NetQuantGen.Onnx.Proto;
using NetQuantGen.Tests.Cli;
using Xunit;
using Xunit.Abstractions;

namespace NetQuantGen.Tests.Export
{
    /// <summary>
    /// `netquant export --qdq`: the sample models with their committed statistics, run by ONNX Runtime as
    /// QDQ, against our integer reference executor.
    /// </summary>
    public class QdqExportTests
    {
        private readonly ITestOutputHelper _output;

        public QdqExportTests(ITestOutputHelper output) => _output = output;

        public static IEnumerable<object[]> Models => new[] { new object[] { "small_cnn" }, new object[] { "mobilenet_v2_small" } };

        private static ModelInput InputFor(string model) =>
            new(model + ".onnx", File.ReadAllBytes(SampleData.OnnxPath(model)), model + ".calib", File.ReadAllBytes(SampleData.StatisticsPath(model)),
                new CompilationOptions { InputShape = SampleData.InputShapeOption(model) }, new TargetClass(null, "Model", "public", true));

        private static QdqExportResult Export(string model)
        {
            var result = QdqExporter.Export(InputFor(model));
            Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
            return result;
        }

        [Theory]
        [MemberData(nameof(Models))]
        public void TheExportCarriesExactlyOurScalesZeroPointsAndWeights(string model)
        {
            var result = Export(model);
            var qdq = ModelProto.Parser.ParseFrom(result.Model);
            var graph = result.Lowering!.IntegerGraph!;
            Assert.Equal(QdqExporter.Opset, qdq.OpsetImport.Single(o => o.Domain == "").Version);
            var initializers = qdq.Graph.Initializer.ToDictionary(t => t.Name);
            var producers = qdq.Graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n);

            // Every activation tensor: one QuantizeLinear with its scale and zero-point, read back from the file.
            var quantizers = qdq.Graph.Node.Where(n => n.OpType == "QuantizeLinear").ToList();
            var tensors = graph.Tensors().ToList();
            Assert.Equal(tensors.Count, quantizers.Count);
            foreach (var tensor in tensors)
            {
                var q = quantizers.Single(n => n.Name == tensor.Name + "_QuantizeLinear");
                Assert.Equal(tensor.Scale, BitConverter.ToSingle(initializers[q.Input[1]].RawData.ToByteArray()));
                Assert.Equal(TensorProto.Types.DataType.Int8, (TensorProto.Types.DataType)initializers[q.Input[2]].DataType);
                Assert.Equal(tensor.ZeroPoint, (sbyte)initializers[q.Input[2]].RawData[0]);
            }

            // Every conv / gemm: our int8 weights (per-channel scales, axis 0, zero-point 0) and our int32 bias at s_in·s_w[c].
            foreach (var conv in graph.Operations.OfType<QConvolution>())
            {
                var node = qdq.Graph.Node.Single(n => n.Name == conv.Source);
                var weightDq = producers[node.Input[1]];
                Assert.Equal("DequantizeLinear", weightDq.OpType);
                Assert.Equal(0, weightDq.Attribute.Single(a => a.Name == "axis").I);
                var weights = initializers[weightDq.Input[0]];
                Assert.Equal(conv.Weights.Select(w => unchecked((byte)w)).ToArray(), weights.RawData.ToByteArray());
                Assert.Equal(conv.WeightScales, Floats(initializers[weightDq.Input[1]]));
                Assert.All(initializers[weightDq.Input[2]].RawData, b => Assert.Equal(0, b));
                if (node.Input.Count > 2)
                {
                    var biasDq = producers[node.Input[2]];
                    var bias = initializers[biasDq.Input[0]];
                    Assert.Equal(TensorProto.Types.DataType.Int32, (TensorProto.Types.DataType)bias.DataType);
                    Assert.Equal(conv.Bias, Enumerable.Range(0, conv.Bias.Length).Select(i => BitConverter.ToInt32(bias.RawData.ToByteArray(), 4 * i)));
                    Assert.Equal(conv.WeightScales.Select(s => (float)((double)conv.Input.Scale * s)), Floats(initializers[biasDq.Input[1]]));
                }
            }
        }

        [Theory]
        [MemberData(nameof(Models))]
        public void OnnxRuntimeFusesTheExportAndAgreesWithTheIntegerReference(string model)
        {
            const int count = 1000;
            var result = Export(model);
            var integerGraph = result.Lowering!.IntegerGraph!;
            using var folder = new TempFolder();
            string optimizedPath = Path.Combine(folder.Path, model + ".optimized.onnx");
            using var options = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                OptimizedModelFilePath = optimizedPath,
                IntraOpNumThreads = 1,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            };
            using var session = new InferenceSession(result.Model, options);

            // ONNX Runtime fused every Conv into a QLinearConv (and did not leave the QDQ graph in float).
            var optimized = ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimizedPath));
            var ops = optimized.Graph.Node.GroupBy(n => n.OpType).OrderByDescending(g => g.Count()).Select(g => $"{g.Count()} {g.Key}");
            _output.WriteLine($"{model}: ONNX Runtime's optimized graph: {string.Join(", ", ops)}");
            int convolutions = integerGraph.Operations.OfType<QConvolution>().Count(c => !c.FromGemm);
            Assert.Equal(convolutions, optimized.Graph.Node.Count(n => n.OpType == "QLinearConv"));
            Assert.DoesNotContain(optimized.Graph.Node, n => n.OpType == "Conv" || n.OpType == "FusedConv");

            // Same test images through ONNX Runtime and the integer reference executor.
            var inputs = SampleData.TestInputs(model, count);
            var outputTensor = integerGraph.Outputs[0].Input;
            string inputName = session.InputMetadata.Keys.Single();
            var inputShape = session.InputMetadata[inputName].Dimensions.Select(d => (long)d).ToArray();
            var steps = new Dictionary<int, int>();
            int agree = 0, elements = 0;
            var references = new float[count][];
            Parallel.For(0, 2, part =>
            {
                var executor = new IntegerExecutor(integerGraph);
                for (int i = part; i < count; i += 2) references[i] = executor.Run(inputs[i]);
            });
            for (int i = 0; i < count; i++)
            {
                using var x = OrtValue.CreateTensorValueFromMemory(inputs[i], inputShape);
                using var outputs = session.Run(new RunOptions(), new[] { inputName }, new[] { x }, session.OutputNames);
                var ort = outputs[0].GetTensorDataAsSpan<float>().ToArray();
                var ours = references[i];
                Assert.Equal(ours.Length, ort.Length);
                if (SampleData.ArgMax(ort) == SampleData.ArgMax(ours)) agree++;
                for (int k = 0; k < ours.Length; k++)
                {
                    int step = (int)Math.Round((ort[k] - ours[k]) / outputTensor.Scale);
                    steps[step] = steps.TryGetValue(step, out int n) ? n + 1 : 1;
                    elements++;
                }
            }
            double agreement = agree / (double)count;
            _output.WriteLine($"{model}: top-1 agreement ONNX Runtime QDQ vs integer reference {agreement:P2} ({agree}/{count}); " +
                $"output steps (ORT − ours, in units of s_out = {outputTensor.Scale:G6}) over {elements} logits: " +
                string.Join(", ", steps.OrderBy(p => p.Key).Select(p => $"{p.Key:+0;-0;0}: {p.Value}")));
            Assert.True(agreement >= 0.999, $"{model}: top-1 agreement {agreement:P2} is below 99.9%");
            Assert.All(steps.Keys, step => Assert.InRange(step, -1, 1));
        }

        [Fact]
        public void TheCommandWritesTheSameBytesAsTheCore()
        {
            using var folder = new TempFolder();
            string outPath = Path.Combine(folder.Path, "small_cnn.qdq.onnx");
            var r = CliTests.Netquant("export", "--qdq", SampleData.OnnxPath("small_cnn"), "--stats", SampleData.StatisticsPath("small_cnn"), "--out", outPath);
            Assert.True(r.ExitCode == 0, r.Error);
            Assert.Contains("Wrote " + outPath, r.Out);
            var core = QdqExporter.Export(InputFor("small_cnn"), NetQuantGen.Cli.CliApp.Producer);
            Assert.Equal(core.Model, File.ReadAllBytes(outPath));
        }

        [Fact]
        public void TheCommandFailsCleanlyWithoutWritingAnything()
        {
            using var folder = new TempFolder();
            string outPath = Path.Combine(folder.Path, "out.onnx");
            string model = SampleData.OnnxPath("small_cnn");

            var noStats = CliTests.Netquant("export", "--qdq", model, "--out", outPath);
            Assert.Equal(2, noStats.ExitCode);
            Assert.Contains("--stats", noStats.Error);

            var noFormat = CliTests.Netquant("export", model, "--stats", SampleData.StatisticsPath("small_cnn"), "--out", outPath);
            Assert.Equal(2, noFormat.ExitCode);
            Assert.Contains("--qdq", noFormat.Error);

            // Statistics of another model: the same NQG diagnostic the build gives, exit code 1.
            var stale = CliTests.Netquant("export", "--qdq", model, "--stats", SampleData.StatisticsPath("mobilenet_v2_small"), "--out", outPath);
            Assert.Equal(1, stale.ExitCode);
            Assert.Contains("error NQG0007", stale.Error);
            Assert.DoesNotContain("   at ", stale.Error);

            var missing = CliTests.Netquant("export", "--qdq", Path.Combine(folder.Path, "none.onnx"), "--stats", SampleData.StatisticsPath("small_cnn"), "--out", outPath);
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains("error NQG0001", missing.Error);
            Assert.False(File.Exists(outPath));
            Assert.Empty(Directory.GetFiles(folder.Path));
        }

        private static float[] Floats(TensorProto tensor)
        {
            var bytes = tensor.RawData.ToByteArray();
            return Enumerable.Range(0, bytes.Length / 4).Select(i => BitConverter.ToSingle(bytes, 4 * i)).ToArray();
        }
    }
}
