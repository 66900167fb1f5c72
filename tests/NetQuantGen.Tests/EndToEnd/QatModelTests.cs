using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.ML.OnnxRuntime;
using NetQuantGen.Cli;
using NetQuantGen.Compiler;
using NetQuantGen.IntegerIR;
using NetQuantGen.Tests.Import;
using Xunit;
using Xunit.Abstractions;

namespace NetQuantGen.Tests.EndToEnd
{
    /// <summary>
    /// The quantization-aware-trained small CNNs (samples/models/train_qat.py: FX prepare_qat, BN folded, uint8
    /// activations, int8 weights per channel in the 8-, 4- and 2-bit ranges, written as QDQ ONNX) built by the generator with no
    /// statistics: bit-exact with the integer reference, top-1 as the training script measured it, and
    /// ONNX Runtime running the same file agrees.
    /// </summary>
    public class QatModelTests
    {
        private const int Count = 1000;
        private readonly ITestOutputHelper _output;

        public QatModelTests(ITestOutputHelper output) => _output = output;

        public static IEnumerable<object[]> Models => new[] { new object[] { "small_cnn_qat" }, new object[] { "small_cnn_qat_w4" }, new object[] { "small_cnn_qat_w2" } };

        private static readonly Lazy<JsonElement> Recorded = new(() =>
            JsonDocument.Parse(File.ReadAllText(Repository.SampleModel("qat_accuracy.json"))).RootElement);

        private static (Lowering Lowering, GeneratedModel Generated) Build(string model, RequantizationOption requantization = RequantizationOption.Default)
        {
            var input = QdqImportTests.QuantizedInput(model + ".onnx", File.ReadAllBytes(Repository.SampleModel(model + ".onnx")),
                new CompilationOptions { Requantization = requantization });
            var lowering = ModelCompiler.Lower(input);
            Assert.True(lowering.IntegerGraph != null, string.Join("\n", lowering.Diagnostics));
            Assert.Empty(lowering.Diagnostics);
            var result = ModelCompiler.Compile(input);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            return (lowering, new GeneratedModel(result.Source!, "Samples.Model"));
        }

        [Theory]
        [MemberData(nameof(Models))]
        public void TheGeneratedQatModelIsBitExactAndAsAccurateAsTheFakeQuantizedTraining(string model)
        {
            var (lowering, generated) = Build(model);
            var graph = lowering.IntegerGraph!;
            var inputs = SampleData.TestInputs("small_cnn", Count);
            var labels = SampleData.TestLabels;
            int mismatches = 0, correct = 0;
            var reference = new IntegerExecutor(graph);
            var quantizedInput = graph.Inputs[0].Output;
            for (int i = 0; i < Count; i++)
            {
                var q = IntegerExecutor.Quantize(inputs[i], quantizedInput);
                var ours = generated.Run(q);
                if (!reference.RunQuantized(q).SequenceEqual(ours)) mismatches++;
                if (SampleData.ArgMax(ours.Select(v => (float)v).ToArray()) == labels[i]) correct++;
            }
            double top1 = correct / (double)Count;
            double trained = Recorded.Value.GetProperty(model).GetProperty("qat_top1_first1000").GetDouble();
            _output.WriteLine($"{model}: generated INT8 top-1 on the first {Count} test images {top1:P1}; fake-quantized PyTorch (train_qat.py) {trained:P1}");
            Assert.Equal(0, mismatches);
            Assert.InRange(top1, trained - 0.01, 1.0);
        }

        /// <summary>
        /// QAT against PTQ of the same float model at the same weight bit-width (W8A8; per-channel min-max
        /// from the committed statistics), on the same 1,000 test images through the integer reference.
        /// </summary>
        [Theory]
        [InlineData("small_cnn_qat", 8)]
        [InlineData("small_cnn_qat_w4", 4)]
        [InlineData("small_cnn_qat_w2", 2)]
        public void QatIsAtLeastAsAccurateAsPtqAtTheSameBitWidth(string model, int weightBits)
        {
            var qat = ModelCompiler.Lower(QdqImportTests.QuantizedInput(model + ".onnx", File.ReadAllBytes(Repository.SampleModel(model + ".onnx")))).IntegerGraph!;
            var ptq = ModelCompiler.Lower(new ModelInput("small_cnn.onnx", File.ReadAllBytes(SampleData.OnnxPath("small_cnn")), "small_cnn.calib",
                File.ReadAllBytes(SampleData.StatisticsPath("small_cnn")), new CompilationOptions { WeightBits = weightBits }, new TargetClass(null, "Model", "public", true))).IntegerGraph!;
            double qatTop1 = Top1(qat), ptqTop1 = Top1(ptq);
            _output.WriteLine($"W{weightBits}A8 on the first {Count} test images: QAT {qatTop1:P1}, PTQ (min-max, per-channel) {ptqTop1:P1}");
            Assert.True(qatTop1 >= ptqTop1 - 0.005, $"QAT {qatTop1:P1} is below PTQ {ptqTop1:P1}");
        }

        private static double Top1(IntegerGraph graph)
        {
            var inputs = SampleData.TestInputs("small_cnn", Count);
            var labels = SampleData.TestLabels;
            int correct = 0;
            Parallel.For(0, 2, part =>
            {
                var executor = new IntegerExecutor(graph);
                for (int i = part; i < Count; i += 2)
                    if (SampleData.ArgMax(executor.Run(inputs[i])) == labels[i]) System.Threading.Interlocked.Increment(ref correct);
            });
            return correct / (double)Count;
        }

        public static IEnumerable<object[]> ModelsAndArithmetics => new[]
        {
            new object[] { "small_cnn_qat", RequantizationOption.Default },
            new object[] { "small_cnn_qat", RequantizationOption.FixedPoint },
            new object[] { "small_cnn_qat_w4", RequantizationOption.Default },
            new object[] { "small_cnn_qat_w2", RequantizationOption.Default },
        };

        /// <summary>
        /// ONNX Runtime runs the very QDQ file against our generated code on 1,000 test images. By default a quantized
        /// model is built in ONNX Runtime's float arithmetic, and every int8 logit is the same; with Requantization =
        /// FixedPoint (DESIGN §3: two roundings, ties away from zero) logits differ by a step in places, the classes agree.
        /// </summary>
        [Theory]
        [MemberData(nameof(ModelsAndArithmetics))]
        public void OnnxRuntimeRunningTheQatFileAgreesWithTheGeneratedCode(string model, RequantizationOption requantization)
        {
            var (lowering, generated) = Build(model, requantization);
            var graph = lowering.IntegerGraph!;
            var input = graph.Inputs[0].Output;
            var output = graph.Outputs[0].Input;
            var inputs = SampleData.TestInputs("small_cnn", Count);
            using var options = new SessionOptions { IntraOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
            using var session = new InferenceSession(File.ReadAllBytes(Repository.SampleModel(model + ".onnx")), options);
            using var runOptions = new RunOptions();
            var steps = new SortedDictionary<int, int>();
            int agree = 0;
            for (int i = 0; i < Count; i++)
            {
                using var x = OrtValue.CreateTensorValueFromMemory(inputs[i], new long[] { 1, 1, 28, 28 });
                using var outputs = session.Run(runOptions, new[] { "input" }, new[] { x }, session.OutputNames);
                var ort = outputs[0].GetTensorDataAsSpan<float>().ToArray();
                var ours = generated.Run(IntegerExecutor.Quantize(inputs[i], input));
                if (SampleData.ArgMax(ort) == SampleData.ArgMax(ours.Select(q => (float)q).ToArray())) agree++;
                // ORT's float output is (q − z)·s of its int8 logit q: back to q exactly by rounding.
                for (int k = 0; k < ours.Length; k++)
                {
                    int step = (int)Math.Round(ort[k] / output.Scale) + output.ZeroPoint - ours[k];
                    steps[step] = steps.TryGetValue(step, out int n) ? n + 1 : 1;
                }
            }
            double agreement = agree / (double)Count;
            int total = steps.Values.Sum();
            _output.WriteLine($"{model}, {requantization} ({graph.Operations.OfType<QConvolution>().First().Arithmetic}): top-1 agreement, ONNX Runtime vs our generated code: {agreement:P1}; " +
                "int8 logits ONNX Runtime − ours: " + string.Join(", ", steps.Select(p => $"{p.Key:+0;-0;0}: {p.Value}")) +
                $" (of {total}); equal {steps.GetValueOrDefault(0) / (double)total:P2}");
            Assert.True(agreement >= 0.999, $"top-1 agreement {agreement:P1}");
            if (requantization == RequantizationOption.Default)
                Assert.Equal(total, steps.GetValueOrDefault(0));
        }
    }
}
