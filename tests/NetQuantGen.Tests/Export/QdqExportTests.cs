using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using NetQuantGen.Cli;
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
    /// QDQ, against our integer reference executor and generated code, in both requantization arithmetics.
    ///
    /// Requantization = Float computes every operation of the sample models as ONNX Runtime (MLAS, x86) does:
    /// QLinearConv/QGemm's float32 scale (s_in·s_w[c])/s_out, float32(acc)·scale rounded half to even;
    /// QLinearAdd on uint8 with two fused multiply-adds; QLinearGlobalAveragePool's s_in/(s_out·count); MaxPool,
    /// Flatten and the ReLU/Clip clamps exactly. Measured: no output of any operation differs, end to end all
    /// logits are equal.
    ///
    /// Requantization = FixedPoint (DESIGN §3): on the same int8 input, an operation of ONNX Runtime and ours differ
    /// by exactly one step on 0.03–0.4 % of the outputs of a convolution, and nowhere else. ONNX Runtime requantizes
    /// the int32 accumulator once, in float (round half to even); the fixed-point requantization (TFLite/gemmlowp)
    /// rounds twice — SaturatingRoundingDoublingHighMul rounds acc·M0/2^31 to an integer before RoundingDivideByPOT
    /// shifts it right — so a value like 4.4992 becomes 1152/256 = 4.5 and then 5, always away from zero. Through a
    /// network those single steps are amplified (a step of one layer's input moves the next layer's output by
    /// |w|·s_in/s_out steps), so end to end the logits differ by a few steps in places while the top-1 class agrees.
    /// </summary>
    public class QdqExportTests
    {
        private readonly ITestOutputHelper _output;

        public QdqExportTests(ITestOutputHelper output) => _output = output;

        public static IEnumerable<object[]> Models => new[] { new object[] { "small_cnn" }, new object[] { "mobilenet_v2_small" } };

        public static IEnumerable<object[]> ModelsAndArithmetics =>
            from model in new[] { "small_cnn", "mobilenet_v2_small" }
            from requantization in new[] { RequantizationOption.FixedPoint, RequantizationOption.Float }
            select new object[] { model, requantization };

        private static ModelInput InputFor(string model, RequantizationOption requantization = RequantizationOption.Default) =>
            new(model + ".onnx", File.ReadAllBytes(SampleData.OnnxPath(model)), model + ".calib", File.ReadAllBytes(SampleData.StatisticsPath(model)),
                new CompilationOptions { InputShape = SampleData.InputShapeOption(model), Requantization = requantization }, new TargetClass(null, "Model", "public", true));

        private static QdqExportResult Export(string model, QdqActivationType activations = QdqActivationType.Int8, RequantizationOption requantization = RequantizationOption.Default)
        {
            var result = QdqExporter.Export(InputFor(model, requantization), new QdqExportOptions { Activations = activations });
            Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
            return result;
        }

        /// <summary>One intra-op thread, sequential, all graph optimizations: how the benchmarks run it.</summary>
        private static SessionOptions Options(string? optimizedPath = null, bool int8Allowed = false)
        {
            var options = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                IntraOpNumThreads = 1,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            };
            if (optimizedPath != null) options.OptimizedModelFilePath = optimizedPath;
            // On x86 ONNX Runtime turns int8 QDQ pairs into uint8 itself, but only for tensors with one consumer;
            // this keeps int8 (and its much slower int8 × int8 kernels) so that every pair fuses.
            if (int8Allowed) options.AddSessionConfigEntry("session.qdqisint8allowed", "1");
            return options;
        }

        /// <summary>The graph ONNX Runtime runs after its optimizations, read back from OptimizedModelFilePath.</summary>
        private static GraphProto OptimizedGraph(byte[] model, bool int8Allowed = false)
        {
            using var folder = new TempFolder();
            string path = Path.Combine(folder.Path, "optimized.onnx");
            using (var options = Options(path, int8Allowed))
            using (new InferenceSession(model, options)) { }
            return ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph;
        }

        private static string Census(GraphProto graph) =>
            string.Join(", ", graph.Node.GroupBy(n => n.OpType).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key}"));

        [Theory]
        [MemberData(nameof(Models))]
        public void TheExportCarriesExactlyOurScalesZeroPointsAndWeights(string model)
        {
            var result = Export(model);
            var uint8 = ModelProto.Parser.ParseFrom(Export(model, QdqActivationType.UInt8).Model);
            var qdq = ModelProto.Parser.ParseFrom(result.Model);
            var graph = result.Lowering!.IntegerGraph!;
            Assert.Equal(QdqExporter.Opset, qdq.OpsetImport.Single(o => o.Domain == "").Version);
            var initializers = qdq.Graph.Initializer.ToDictionary(t => t.Name);
            var uint8Initializers = uint8.Graph.Initializer.ToDictionary(t => t.Name);
            var producers = qdq.Graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n);

            // Every activation tensor: one QuantizeLinear with its scale and zero-point (uint8: zero-point + 128).
            var quantizers = qdq.Graph.Node.Where(n => n.OpType == "QuantizeLinear").ToList();
            var tensors = graph.Tensors().ToList();
            Assert.Equal(tensors.Count, quantizers.Count);
            foreach (var tensor in tensors)
            {
                var q = quantizers.Single(n => n.Name == tensor.Name + "_QuantizeLinear");
                Assert.Equal(tensor.Scale, BitConverter.ToSingle(initializers[q.Input[1]].RawData.ToByteArray()));
                Assert.Equal(TensorProto.Types.DataType.Int8, (TensorProto.Types.DataType)initializers[q.Input[2]].DataType);
                Assert.Equal(tensor.ZeroPoint, (sbyte)initializers[q.Input[2]].RawData[0]);
                Assert.Equal(TensorProto.Types.DataType.Uint8, (TensorProto.Types.DataType)uint8Initializers[q.Input[2]].DataType);
                Assert.Equal(tensor.ZeroPoint + 128, uint8Initializers[q.Input[2]].RawData[0]);
                var dq = qdq.Graph.Node.Single(n => n.OpType == "DequantizeLinear" && n.Input[0] == q.Output[0]);
                Assert.Equal(q.Input.Skip(1), dq.Input.Skip(1));
            }

            // Every conv / gemm: our int8 weights (per-channel scales, axis 0, zero-point 0) and our int32 bias at s_in·s_w[c].
            foreach (var conv in graph.Operations.OfType<QConvolution>())
            {
                var node = qdq.Graph.Node.Single(n => n.Name == conv.Source);
                Assert.Equal(conv.FromGemm ? "Gemm" : "Conv", node.OpType);
                var weightDq = producers[node.Input[1]];
                Assert.Equal("DequantizeLinear", weightDq.OpType);
                Assert.Equal(0, weightDq.Attribute.Single(a => a.Name == "axis").I);
                var weights = initializers[weightDq.Input[0]];
                Assert.Equal(TensorProto.Types.DataType.Int8, (TensorProto.Types.DataType)weights.DataType);
                Assert.Equal(conv.Weights.Select(w => unchecked((byte)w)).ToArray(), weights.RawData.ToByteArray());
                Assert.Equal(conv.WeightScales, Floats(initializers[weightDq.Input[1]]));
                Assert.All(initializers[weightDq.Input[2]].RawData, b => Assert.Equal(0, b));
                Assert.Equal(3, node.Input.Count);
                var biasDq = producers[node.Input[2]];
                var bias = initializers[biasDq.Input[0]];
                Assert.Equal(TensorProto.Types.DataType.Int32, (TensorProto.Types.DataType)bias.DataType);
                Assert.Equal(conv.Bias, Enumerable.Range(0, conv.Bias.Length).Select(i => BitConverter.ToInt32(bias.RawData.ToByteArray(), 4 * i)));
                Assert.Equal(conv.WeightScales.Select(s => (float)((double)conv.Input.Scale * s)), Floats(initializers[biasDq.Input[1]]));
            }
        }

        [Theory]
        [MemberData(nameof(Models))]
        public void OnnxRuntimeFusesEveryConvolutionAndAdd(string model)
        {
            var int8 = Export(model).Model!;
            var uint8 = Export(model, QdqActivationType.UInt8).Model!;
            var integerGraph = Export(model).Lowering!.IntegerGraph!;
            int convolutions = integerGraph.Operations.OfType<QConvolution>().Count(c => !c.FromGemm);
            int gemms = integerGraph.Operations.OfType<QConvolution>().Count(c => c.FromGemm);
            int adds = integerGraph.Operations.OfType<QAdd>().Count();

            var defaultInt8 = OptimizedGraph(int8);
            _output.WriteLine($"{model}, int8 export, default options: {Census(defaultInt8)}");
            foreach (var (name, graph) in new[] { ("uint8 export", OptimizedGraph(uint8)), ("int8 export, int8 allowed", OptimizedGraph(int8, int8Allowed: true)) })
            {
                _output.WriteLine($"{model}, {name}: {Census(graph)}");
                Assert.Equal(convolutions, graph.Node.Count(n => n.OpType == "QLinearConv"));
                Assert.Equal(gemms, graph.Node.Count(n => n.OpType == "QGemm"));
                Assert.Equal(adds, graph.Node.Count(n => n.OpType == "QLinearAdd"));
                Assert.DoesNotContain(graph.Node, n => n.OpType is "Conv" or "FusedConv" or "Gemm" or "Add" or "Relu" or "Clip");
                Assert.Equal(1, graph.Node.Count(n => n.OpType == "QuantizeLinear"));   // the model input
                Assert.Equal(1, graph.Node.Count(n => n.OpType == "DequantizeLinear")); // the model output
            }
        }

        /// <summary>
        /// ONNX Runtime running the export (uint8, fused) against our generated code on 1,000 test images: the top-1
        /// classes agree (≥ 99.9 %) and the int8 logits are within one step — identical in the float arithmetic, which
        /// computes every operation of these models as ONNX Runtime does (see EachOperationOnTheSameInput...).
        /// </summary>
        [Theory]
        [MemberData(nameof(ModelsAndArithmetics))]
        public void OnnxRuntimeAgreesWithTheGeneratedCode(string model, RequantizationOption requantization)
        {
            const int count = 1000;
            var result = Export(model, QdqActivationType.UInt8, requantization);
            var integerGraph = result.Lowering!.IntegerGraph!;
            var source = ModelCompiler.Compile(InputFor(model, requantization)).Source;
            Assert.NotNull(source);
            var generated = new GeneratedModel(source!, "Model");
            using var options = Options();
            using var session = new InferenceSession(result.Model, options);

            var inputs = SampleData.TestInputs(model, count);
            var inputTensor = integerGraph.Inputs[0].Output;
            var outputTensor = integerGraph.Outputs[0].Input;
            string inputName = session.InputNames.Single();
            var inputShape = session.InputMetadata[inputName].Dimensions.Select(d => (long)d).ToArray();
            var steps = new SortedDictionary<int, int>();
            int agree = 0;
            using var runOptions = new RunOptions();
            for (int i = 0; i < count; i++)
            {
                using var x = OrtValue.CreateTensorValueFromMemory(inputs[i], inputShape);
                using var outputs = session.Run(runOptions, new[] { inputName }, new[] { x }, session.OutputNames);
                var ort = outputs[0].GetTensorDataAsSpan<float>().ToArray();
                var ours = generated.Run(IntegerExecutor.Quantize(inputs[i], inputTensor));
                Assert.Equal(ours.Length, ort.Length);
                if (SampleData.ArgMax(ort) == SampleData.ArgMax(ours.Select(q => (float)q).ToArray())) agree++;
                // ORT's float output is (q − z)·s of its int8 logit q: back to q exactly by rounding.
                for (int k = 0; k < ours.Length; k++)
                {
                    int step = (int)Math.Round(ort[k] / outputTensor.Scale) + outputTensor.ZeroPoint - ours[k];
                    steps[step] = steps.TryGetValue(step, out int n) ? n + 1 : 1;
                }
            }
            double agreement = agree / (double)count;
            int total = steps.Values.Sum();
            _output.WriteLine($"{model}, {requantization}: top-1 agreement, ONNX Runtime (QDQ, fused) vs our generated code: {agreement:P1} ({agree}/{count})");
            _output.WriteLine($"{model}, {requantization}: int8 logits, ONNX Runtime − ours: " +
                string.Join(", ", steps.Select(p => $"{p.Key:+0;-0;0}: {p.Value}")) + $" (of {total}); equal: {steps.GetValueOrDefault(0) / (double)total:P2}; within ±1: {steps.Where(p => Math.Abs(p.Key) <= 1).Sum(p => p.Value) / (double)total:P2}");
            Assert.True(agreement >= 0.999, $"{model}: top-1 agreement {agreement:P1} is below 99.9%");
            if (requantization == RequantizationOption.Float)
                Assert.Equal(total, steps.GetValueOrDefault(0));
        }

        /// <summary>
        /// Each operation alone, on the very int8 tensors ONNX Runtime computed for its inputs: ONNX Runtime's
        /// outputs (every activation tensor made a graph output) within one step of ours.
        /// </summary>
        [Theory]
        [MemberData(nameof(ModelsAndArithmetics))]
        public void EachOperationOnTheSameInputIsWithinOneStep(string model, RequantizationOption requantization)
        {
            const int count = 200;
            var result = Export(model, QdqActivationType.UInt8, requantization);
            var integerGraph = result.Lowering!.IntegerGraph!;
            var qdq = ModelProto.Parser.ParseFrom(result.Model);
            var tensors = integerGraph.Tensors().ToList();
            var names = new List<string>();
            foreach (var tensor in tensors)
            {
                var q = qdq.Graph.Node.Single(n => n.Name == tensor.Name + "_QuantizeLinear");
                names.Add(q.Output[0]);
                qdq.Graph.Output.Add(new ValueInfoProto { Name = q.Output[0], Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Uint8 } } });
            }
            var optimized = OptimizedGraph(qdq.ToByteArray());
            Assert.Equal(integerGraph.Operations.OfType<QConvolution>().Count(c => !c.FromGemm), optimized.Node.Count(n => n.OpType == "QLinearConv"));
            using var options = Options();
            using var session = new InferenceSession(qdq.ToByteArray(), options);
            using var runOptions = new RunOptions();
            string inputName = session.InputNames.Single();
            var inputShape = session.InputMetadata[inputName].Dimensions.Select(d => (long)d).ToArray();

            var executors = integerGraph.Operations.ToDictionary(op => op, op => op.Inputs.Count == 1
                ? new IntegerExecutor(new IntegerGraph("op", new[] { new QuantizeInput("x", op.Input) }, new[] { new DequantizeOutput(op.Output, "y") }, new[] { op }))
                : null);
            var differences = integerGraph.Operations.ToDictionary(op => op, _ => new SortedDictionary<int, long>());
            foreach (var x in SampleData.TestInputs(model, count))
            {
                using var input = OrtValue.CreateTensorValueFromMemory(x, inputShape);
                using var outputs = session.Run(runOptions, new[] { inputName }, new[] { input }, names);
                var ort = new Dictionary<QTensor, sbyte[]>();
                for (int k = 0; k < tensors.Count; k++)
                    ort[tensors[k]] = outputs[k].GetTensorDataAsSpan<byte>().ToArray().Select(b => (sbyte)(b - 128)).ToArray();
                foreach (var op in integerGraph.Operations)
                {
                    var ours = executors[op] is IntegerExecutor single ? single.RunQuantized(ort[op.Input])
                        : op is QAdd add ? IntegerExecutor.Add(add, ort[add.Inputs[0]], ort[add.Inputs[1]])
                        : throw new NotSupportedException($"{op.Kind} has several inputs; add it here");
                    var theirs = ort[op.Output];
                    for (int i = 0; i < ours.Length; i++)
                        if (theirs[i] != ours[i])
                        {
                            int d = theirs[i] - ours[i];
                            differences[op][d] = differences[op].TryGetValue(d, out long n) ? n + 1 : 1;
                        }
                }
            }
            foreach (var op in integerGraph.Operations)
            {
                long total = (long)op.Output.Length * count, differ = differences[op].Values.Sum();
                _output.WriteLine($"{model}, {requantization}: {op.Kind,-14} {op.Output.Name,-60} ONNX Runtime ≠ ours on {differ / (double)total,8:P3}" +
                    (differ == 0 ? "" : $" ({string.Join(", ", differences[op].Select(p => $"{p.Key:+0;-0}: {p.Value}"))})"));
            }
            Assert.All(integerGraph.Operations, op => Assert.All(differences[op].Keys, d => Assert.InRange(d, -1, 1)));
            if (requantization == RequantizationOption.Float)
                Assert.All(integerGraph.Operations, op => Assert.Empty(differences[op]));
        }

        [Fact]
        public void TheCommandWritesTheSameBytesAsTheCore()
        {
            using var folder = new TempFolder();
            string outPath = Path.Combine(folder.Path, "small_cnn.qdq.onnx");
            var r = CliTests.Netquant("export", "--qdq", SampleData.OnnxPath("small_cnn"), "--stats", SampleData.StatisticsPath("small_cnn"), "--out", outPath);
            Assert.True(r.ExitCode == 0, r.Error);
            Assert.Contains("Wrote " + outPath, r.Out);
            var core = QdqExporter.Export(InputFor("small_cnn"), new QdqExportOptions { Producer = NetQuantGen.Cli.CliApp.Producer });
            Assert.Equal(core.Model, File.ReadAllBytes(outPath));

            r = CliTests.Netquant("export", "--qdq", SampleData.OnnxPath("small_cnn"), "--stats", SampleData.StatisticsPath("small_cnn"), "--out", outPath, "--activations", "uint8");
            Assert.True(r.ExitCode == 0, r.Error);
            var uint8 = QdqExporter.Export(InputFor("small_cnn"), new QdqExportOptions { Producer = NetQuantGen.Cli.CliApp.Producer, Activations = QdqActivationType.UInt8 });
            Assert.Equal(uint8.Model, File.ReadAllBytes(outPath));

            r = CliTests.Netquant("export", "--qdq", SampleData.OnnxPath("small_cnn"), "--stats", SampleData.StatisticsPath("small_cnn"), "--out", outPath, "--requantization", "float");
            Assert.True(r.ExitCode == 0, r.Error);
            var floatArithmetic = QdqExporter.Export(InputFor("small_cnn", RequantizationOption.Float), new QdqExportOptions { Producer = NetQuantGen.Cli.CliApp.Producer });
            Assert.Equal(floatArithmetic.Model, File.ReadAllBytes(outPath));
            Assert.Contains("requantization float", ModelProto.Parser.ParseFrom(floatArithmetic.Model).MetadataProps.Single(p => p.Key == "netquantgen.quantization").Value);
        }

        [Fact]
        public void TheCommandFailsCleanlyWithoutWritingAnything()
        {
            using var folder = new TempFolder();
            string outPath = Path.Combine(folder.Path, "out.onnx");
            string model = SampleData.OnnxPath("small_cnn");
            string stats = SampleData.StatisticsPath("small_cnn");

            var noStats = CliTests.Netquant("export", "--qdq", model, "--out", outPath);
            Assert.Equal(2, noStats.ExitCode);
            Assert.Contains("--stats", noStats.Error);

            var noFormat = CliTests.Netquant("export", model, "--stats", stats, "--out", outPath);
            Assert.Equal(2, noFormat.ExitCode);
            Assert.Contains("--qdq", noFormat.Error);

            var badType = CliTests.Netquant("export", "--qdq", model, "--stats", stats, "--out", outPath, "--activations", "int4");
            Assert.Equal(2, badType.ExitCode);

            var badArithmetic = CliTests.Netquant("export", "--qdq", model, "--stats", stats, "--out", outPath, "--requantization", "double");
            Assert.Equal(2, badArithmetic.ExitCode);
            Assert.Contains("--requantization", badArithmetic.Error);

            // Statistics of another model: the same NQG diagnostic the build gives, exit code 1.
            var stale = CliTests.Netquant("export", "--qdq", model, "--stats", SampleData.StatisticsPath("mobilenet_v2_small"), "--out", outPath);
            Assert.Equal(1, stale.ExitCode);
            Assert.Contains("error NQG0007", stale.Error);
            Assert.DoesNotContain("   at ", stale.Error);

            var missing = CliTests.Netquant("export", "--qdq", Path.Combine(folder.Path, "none.onnx"), "--stats", stats, "--out", outPath);
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains("error NQG0001", missing.Error);
            Assert.Empty(Directory.GetFiles(folder.Path));
        }

        private static float[] Floats(TensorProto tensor)
        {
            var bytes = tensor.RawData.ToByteArray();
            return Enumerable.Range(0, bytes.Length / 4).Select(i => BitConverter.ToSingle(bytes, 4 * i)).ToArray();
        }
    }
}
