using NetQuantGen.Cli;
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using DiagnosticSeverity = Microsoft.CodeAnalysis.DiagnosticSeverity;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;
using NetQuantGen.Emit;
using NetQuantGen.IR;
using NetQuantGen.Reference;
using NetQuantGen.Tests.Generator;
using Xunit;
using Xunit.Abstractions;
using static NetQuantGen.Tests.OnnxBuilder;

namespace NetQuantGen.Tests.EndToEnd
{
    /// <summary>
    /// A model without calibration statistics builds in FLOAT32 when data-free quantization is off (DataFree = false)
    /// or impossible: NQG0006 (a warning) says how to calibrate, and the generated float code computes what the
    /// float reference executor computes.
    /// </summary>
    public class FloatBuildTests
    {
        private const string TypeName = "Tests.Float.Model";
        private static readonly TargetClass Target = new("Tests.Float", "Model", "public", true);

        private readonly ITestOutputHelper _output;

        public FloatBuildTests(ITestOutputHelper output) => _output = output;

        private static ModelInput Uncalibrated(string fileName, byte[] model, string? inputShape = null) =>
            new(fileName, model, null, null, new CompilationOptions { InputShape = inputShape, DataFree = false }, Target);

        /// <summary>Lowers and compiles a model without statistics: only the NQG0006 warning, a float graph, a source.</summary>
        private static (Lowering Lowering, string Source) FloatBuild(ModelInput input)
        {
            var lowering = ModelCompiler.Lower(input);
            Assert.NotNull(lowering.FloatGraph);
            Assert.Null(lowering.IntegerGraph);
            var result = ModelCompiler.Compile(input);
            var diagnostic = Assert.Single(result.Diagnostics);
            Assert.Equal(DiagnosticCatalog.MissingStatistics, diagnostic.Kind);
            Assert.Equal(DiagnosticLevel.Warning, diagnostic.Kind.Level);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            return (lowering, result.Source!);
        }

        /// <summary>A FLOAT32 build has only the float Run: no int8 overload, no quantization constants.</summary>
        private static void AssertNoInt8Entry(GeneratedModel generated)
        {
            Assert.Null(generated.Type.GetMethod("Run", new[] { typeof(ReadOnlySpan<sbyte>), typeof(Span<sbyte>) }));
            Assert.NotNull(generated.Type.GetMethod("Run", new[] { typeof(ReadOnlySpan<float>), typeof(Span<float>) }));
            Assert.Null(generated.Type.GetField("InputScale"));
            Assert.Throws<InvalidOperationException>(() => generated.Run(new sbyte[generated.Constant<int>("InputLength")]));
        }

        /// <summary>|actual − expected| ≤ tolerance · max |expected| (relative to the output's magnitude), element by element.</summary>
        private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
        {
            Assert.Equal(expected.Length, actual.Length);
            double scale = Math.Max(expected.Max(v => Math.Abs((double)v)), 1e-30);
            for (int i = 0; i < expected.Length; i++)
            {
                double error = Math.Abs((double)actual[i] - expected[i]);
                Assert.True(error <= tolerance * scale, $"{what}: element {i} is {actual[i]:R}, the float reference gives {expected[i]:R} (relative error {error / scale:E2})");
            }
        }

        private static double WorstRelativeError(float[] expected, float[] actual)
        {
            double scale = Math.Max(expected.Max(v => Math.Abs((double)v)), 1e-30);
            return expected.Zip(actual, (e, a) => Math.Abs((double)a - e)).Max() / scale;
        }

        // ------------------------------------------------------------------ through the compiler
        [Fact]
        public void ResidualCnnBuildsInFloatAndMatchesTheFloatReference()
        {
            var (lowering, source) = FloatBuild(Uncalibrated("residual.onnx", TinyModels.ResidualCnn()));
            using var generated = new GeneratedModel(source, TypeName);
            AssertNoInt8Entry(generated);
            Assert.Equal(3 * 12 * 12, generated.Constant<int>("InputLength"));
            Assert.Equal(5, generated.Constant<int>("OutputLength"));
            var reference = new FloatExecutor(lowering.FloatGraph!);
            double worst = 0;
            foreach (var sample in TinyModels.RandomInputs(50, 3 * 12 * 12, seed: 11))
            {
                var expected = reference.Run(sample);
                var actual = generated.Run(sample);
                AssertClose(expected, actual, 1e-4, "residual");
                worst = Math.Max(worst, WorstRelativeError(expected, actual));
            }
            _output.WriteLine($"residual: worst relative error {worst:E2}");
        }

        [Theory]
        [InlineData("small_cnn")]
        [InlineData("mobilenet_v2_small")]
        public void SampleModelFloatBuildMatchesTheFloatReference(string model)
        {
            const int count = 1000;
            var input = Uncalibrated(model + ".onnx", File.ReadAllBytes(SampleData.OnnxPath(model)), SampleData.InputShapeOption(model));
            var (lowering, source) = FloatBuild(input);
            using var generated = new GeneratedModel(source, TypeName);
            AssertNoInt8Entry(generated);
            Assert.Equal(28 * 28, generated.Constant<int>("InputLength"));
            var inputs = SampleData.TestInputs(model, count);
            var labels = SampleData.TestLabels;

            var reference = new FloatExecutor(lowering.FloatGraph!);
            double worst = 0;
            for (int i = 0; i < 50; i++)
            {
                var expected = reference.Run(inputs[i]);
                var actual = generated.Run(inputs[i]);
                AssertClose(expected, actual, 1e-4, $"{model} image {i}");
                worst = Math.Max(worst, WorstRelativeError(expected, actual));
            }

            int referenceCorrect = 0, generatedCorrect = 0, disagreements = 0;
            Parallel.For(0, 2, part =>
            {
                var executor = new FloatExecutor(lowering.FloatGraph!);
                int r = 0, g = 0, d = 0;
                for (int i = part; i < count; i += 2)
                {
                    int expected = SampleData.ArgMax(executor.Run(inputs[i]));
                    int actual = SampleData.ArgMax(generated.Run(inputs[i]));
                    if (expected == labels[i]) r++;
                    if (actual == labels[i]) g++;
                    if (expected != actual) d++;
                }
                System.Threading.Interlocked.Add(ref referenceCorrect, r);
                System.Threading.Interlocked.Add(ref generatedCorrect, g);
                System.Threading.Interlocked.Add(ref disagreements, d);
            });
            _output.WriteLine($"{model}: FLOAT32 build top-1 {generatedCorrect / (double)count:P1}, float reference {referenceCorrect / (double)count:P1}, " +
                $"{disagreements} of {count} images classified differently; worst relative error on 50 images {worst:E2}");
            Assert.Equal(referenceCorrect, generatedCorrect);
        }

        [Fact]
        public void FloatSourceIsDeterministicAndSaysHowToCalibrate()
        {
            var model = TinyModels.ResidualCnn();
            var input = Uncalibrated("models/residual.onnx", model);
            string first = ModelCompiler.Compile(input).Source!;
            Assert.Equal(first, ModelCompiler.Compile(input).Source);
            Assert.Equal(first, ModelCompiler.Compile(Uncalibrated("models/residual.onnx", TinyModels.ResidualCnn())).Source);

            GeneratorTestInputs.AssertHeader(first, "models/residual.onnx", GeneratorTestInputs.Sha256(model));
            var header = first.Split('\n').TakeWhile(l => l.StartsWith("//", StringComparison.Ordinal)).ToList();
            var build = Assert.Single(header, l => l.StartsWith("// Build: FLOAT32", StringComparison.Ordinal));
            Assert.Contains("no calibration statistics", build);
            Assert.Contains("`netquant calibrate models/residual.onnx --data <calibration images> --out models/residual.calib`", build);
            Assert.Contains("Calibration = \"models/residual.calib\"", build);
            Assert.DoesNotContain("ReadOnlySpan<sbyte>", first);
            Assert.Contains("[ThreadStatic] private static float[]? t_arena;", first);

            var warning = Assert.Single(ModelCompiler.Compile(input).Diagnostics);
            Assert.Equal("NQG0006", warning.Id);
            Assert.Contains("FLOAT32", warning.Message);
            Assert.Contains("netquant calibrate models/residual.onnx --data <calibration images> --out models/residual.calib", warning.Message);
            Assert.Contains("Calibration = \"models/residual.calib\"", warning.Message);
        }

        [Fact]
        public void CalibrateCommandCarriesTheInputShapeAndNonDefaultPasses()
        {
            var input = new ModelInput("tiny.onnx", TinyModels.ResidualCnn(), null, null,
                new CompilationOptions { InputShape = "1,3,12,12", Passes = 2, DataFree = false }, Target);
            var warning = Assert.Single(ModelCompiler.Compile(input).Diagnostics);
            Assert.Contains("`netquant calibrate tiny.onnx --input-shape 1,3,12,12 --passes fold-batchnorm --data <calibration images> --out tiny.calib`", warning.Message);
        }

        [Fact]
        public void ConstantsDescribeTheFloatBuild()
        {
            var (lowering, source) = FloatBuild(Uncalibrated("residual.onnx", TinyModels.ResidualCnn()));
            using var generated = new GeneratedModel(source, TypeName);
            // After the passes: conv1 (BN and ReLU folded) 8·12·12·27, depthwise 8·6·6·9, conv2 8·6·6·8, fc 5·8.
            Assert.Equal(8L * 12 * 12 * 27 + 8 * 6 * 6 * 9 + 8 * 6 * 6 * 8 + 5 * 8, generated.Constant<long>("MacCount"));
            long constants = lowering.FloatGraph!.Nodes.SelectMany(n => n.Inputs).Where(v => v != null && v.IsConstant).Distinct().Sum(v => 4 * v!.ElementCount);
            Assert.Equal(constants, generated.Constant<long>("WeightBytes"));
            int arena = generated.Constant<int>("ArenaBytes");
            Assert.Equal(0, arena % 32);
            // Never more than every tensor side by side; at least the largest live pair (conv1's input and output).
            long all = lowering.FloatGraph.Values().Where(v => !v.IsConstant).Sum(v => 4 * v.ElementCount);
            Assert.InRange(arena, 4 * (3 * 12 * 12 + 8 * 12 * 12), all + 32 * lowering.FloatGraph.Nodes.Count);
        }

        [Fact]
        public void UnsupportedOperatorInFloatIsNqg0003()
        {
            // Gemm with transA = 1 imports (and the float reference runs it), but the FLOAT32 build does not take it.
            var model = new OnnxBuilder()
                .Input("x", 4, 2)
                .Initializer("w", new long[] { 4, 3 }, Enumerable.Range(0, 12).Select(i => i / 10f).ToArray())
                .Node("Gemm", new[] { "x", "w" }, new[] { "y" }, "transposed_gemm", Int("transA", 1))
                .Output("y")
                .Bytes();
            var input = Uncalibrated("transposed.onnx", model);
            Assert.NotNull(ModelCompiler.Lower(input).FloatGraph);
            var result = ModelCompiler.Compile(input);
            Assert.Null(result.Source);
            Assert.Contains(result.Diagnostics, d => d.Kind == DiagnosticCatalog.MissingStatistics);
            var error = Assert.Single(result.Diagnostics, d => d.Kind.Level == DiagnosticLevel.Error);
            Assert.Equal("NQG0003", error.Id);
            Assert.Contains("transposed_gemm", error.Message);
            Assert.Contains("transposed.onnx", error.Message);
            Assert.Contains("transA", error.Message);
        }

        [Fact]
        public void ReflectPaddingIsUnsupportedInFloat()
        {
            var x = Input("x", 1, 1, 4, 4);
            var y = Computed("y");
            var graph = Build(new[] { x }, y, new Node("reflect_pad", new Pad(PadMode.Reflect, new long[] { 0, 0, 1, 1, 0, 0, 1, 1 }, 0f), new Value?[] { x }, new[] { y }));
            var e = Assert.Throws<ModelException>(() => Emit(graph));
            Assert.Equal(DiagnosticCatalog.UnsupportedOperator, e.Kind);
            Assert.Contains("reflect_pad", e.Message);
        }

        [Fact]
        public void GeneratorWithoutCalibrationEmitsTheFloatBuildAndOneWarning()
        {
            using var harness = new GeneratorDriverHarness();
            var model = GeneratorTestInputs.AllBytesModel();
            harness.AddFile(GeneratorTestInputs.ModelPath, model);
            var tree = harness.SetSource("Tiny.cs", GeneratorTestInputs.Source());
            var result = harness.Run();
            var warning = Assert.Single(result.Diagnostics);
            Assert.Equal("NQG0006", warning.Id);
            Assert.Equal(DiagnosticSeverity.Warning, warning.Severity);
            Assert.Contains("FLOAT32", warning.GetMessage());
            Assert.Contains("netquant calibrate", warning.GetMessage());
            GeneratorDriverHarness.AssertOnAttribute(warning, tree);
            GeneratorTestInputs.AssertCompiled(result, GeneratorTestInputs.ModelPath, GeneratorTestInputs.Sha256(model));
            var errors = harness.OutputCompilation!.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
            Assert.True(errors.Count == 0, string.Join("\n", errors.Take(10)));
        }

        [Fact]
        public void BakedFloatsRoundTripExactlyAndCorruptDataIsRejected()
        {
            var values = new[] { 0f, -0f, 1.5f, -3.25e-8f, float.MaxValue, float.Epsilon, float.NegativeInfinity, float.NaN, 0.1f };
            var utf8 = System.Text.Encoding.UTF8.GetBytes(FloatConstants.Base64(values));
            var decoded = NetQuantGen.Runtime.WeightData.DecodeFloats(utf8, values.Length);
            Assert.Equal(values.Select(BitConverter.SingleToInt32Bits), decoded.Select(BitConverter.SingleToInt32Bits));
            Assert.Throws<InvalidOperationException>(() => NetQuantGen.Runtime.WeightData.DecodeFloats(utf8, values.Length + 1));
            Assert.Throws<InvalidOperationException>(() => NetQuantGen.Runtime.WeightData.DecodeFloats(utf8, values.Length - 1));
            Assert.Throws<InvalidOperationException>(() => NetQuantGen.Runtime.WeightData.DecodeFloats(utf8.Take(utf8.Length - 4).ToArray(), values.Length));
        }

        // ------------------------------------------------------------------ every supported operator, straight from IR

        public static IEnumerable<object[]> OperatorGraphs => new[] { "windows", "conv1d", "elementwise", "layout", "matrix", "legacy" }.Select(n => new object[] { n });

        /// <summary>Small graphs that use every operator and form the FLOAT32 build supports, against the float reference.</summary>
        [Theory]
        [MemberData(nameof(OperatorGraphs))]
        public void EveryOperatorMatchesTheFloatReference(string name)
        {
            var random = new Random(name.Length * 7919);
            var graph = OperatorGraph(name, random);
            var source = Emit(graph);
            using var generated = new GeneratedModel(source, TypeName);
            var reference = new FloatExecutor(graph);
            int length = (int)graph.Inputs[0].ElementCount;
            for (int t = 0; t < 10; t++)
            {
                var sample = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
                AssertClose(reference.Run(sample), generated.Run(sample), 1e-5, name);
            }
        }

        private static Graph OperatorGraph(string name, Random random)
        {
            float[] Data(int n, float scale = 1f) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();
            Value Constant(string id, int[] shape, float[]? data = null) =>
                new(id, ElementType.Float32, shape, TensorData.FromFloats(shape, data ?? Data((int)Shapes.ElementCount(shape))));
            Window Win(int[] kernel, int[] strides, int[] pads, bool ceil = false, int[]? dilations = null) =>
                new(kernel, strides, dilations ?? Array.Empty<int>(), pads, AutoPad.NotSet, ceil);
            var nodes = new List<Node>();
            var values = new Dictionary<string, Value>();
            Value V(string id) => values.TryGetValue(id, out var v) ? v : values[id] = Computed(id);
            void Add(string id, Operator op, params Value?[] inputs) => nodes.Add(new Node(id, op, inputs, new[] { V(id) }));

            switch (name)
            {
                case "windows":
                {
                    var x = values["x"] = Input("x", 1, 3, 9, 10);
                    var positive = Enumerable.Range(0, 6).Select(_ => (float)(0.5 + random.NextDouble())).ToArray();
                    Add("c1", new Conv(Win(Array.Empty<int>(), new[] { 2, 1 }, new[] { 0, 2, 1, 0 }, dilations: new[] { 1, 2 }), 1, new FusedClamp(0f, 6f)),
                        x, Constant("w1", new[] { 6, 3, 3, 2 }), Constant("b1", new[] { 6 }));
                    Add("bn", new BatchNormalization(1e-3f), V("c1"), Constant("scale", new[] { 6 }, positive), Constant("bias", new[] { 6 }),
                        Constant("mean", new[] { 6 }), Constant("var", new[] { 6 }, positive.Reverse().ToArray()));
                    Add("leaky", new Activation(ActivationKind.LeakyRelu, 0.1f), V("bn"));
                    Add("avg_pad", new AveragePool(Win(new[] { 3, 3 }, new[] { 2, 2 }, new[] { 1, 1, 1, 1 }, ceil: true), CountIncludePad: true), V("leaky"));
                    Add("avg", new AveragePool(Win(new[] { 2, 3 }, new[] { 1, 2 }, new[] { 0, 1, 1, 0 }, ceil: true), CountIncludePad: false), V("leaky"));
                    Add("hswish", new Activation(ActivationKind.HardSwish), V("avg_pad"));
                    Add("max", new MaxPool(Win(new[] { 2, 2 }, new[] { 1, 1 }, new[] { 0, 0, 1, 1 }, ceil: true, dilations: new[] { 1, 2 })), V("hswish"));
                    Add("dw", new Conv(Win(Array.Empty<int>(), new[] { 1, 1 }, new[] { 1, 1, 1, 1 }), 6), V("max"), Constant("wd", new[] { 6, 1, 3, 3 }));
                    Add("grouped", new Conv(Win(Array.Empty<int>(), new[] { 2, 2 }, new[] { 1, 0, 1, 1 }), 2, FusedClamp.Relu), V("dw"), Constant("wg", new[] { 4, 3, 2, 2 }), Constant("bg", new[] { 4 }));
                    Add("sigmoid", new Activation(ActivationKind.Sigmoid), V("grouped"));
                    Add("hsigmoid", new Activation(ActivationKind.HardSigmoid, 0.7f, 0.1f), V("sigmoid"));
                    Add("gap", new GlobalAveragePool(), V("hsigmoid"));
                    Add("gap2", new GlobalAveragePool(), V("avg"));
                    Add("pw", new Conv(Win(Array.Empty<int>(), Array.Empty<int>(), Array.Empty<int>()), 1), V("gap2"), Constant("wp", new[] { 4, 6, 1, 1 }));
                    Add("sum", new Binary(BinaryKind.Add), V("gap"), V("pw"));
                    Add("relu", new Activation(ActivationKind.Relu), V("sum"));
                    return Build(new[] { x }, V("relu"), nodes.ToArray());
                }
                case "conv1d":
                {
                    var x = values["x"] = Input("x", 2, 4, 17);
                    Add("c", new Conv(Win(Array.Empty<int>(), new[] { 3 }, new[] { 3, 1 }, dilations: new[] { 2 }), 2), x, Constant("w", new[] { 6, 2, 4 }), Constant("b", new[] { 6 }));
                    Add("max", new MaxPool(Win(new[] { 3 }, new[] { 2 }, new[] { 1, 1 }, ceil: true)), V("c"));
                    Add("avg", new AveragePool(Win(new[] { 2 }, new[] { 1 }, new[] { 1, 0 }), CountIncludePad: true), V("max"));
                    return Build(new[] { x }, V("avg"), nodes.ToArray());
                }
                case "elementwise":
                {
                    var x = values["x"] = Input("x", 2, 3, 4, 5);
                    Add("mul", new Binary(BinaryKind.Mul), x, Constant("k1", new[] { 3, 1, 1 }));
                    Add("sub", new Binary(BinaryKind.Sub), Constant("k2", new[] { 5 }), V("mul")); // constant first operand, broadcast
                    Add("div", new Binary(BinaryKind.Div), V("sub"), Constant("k3", Array.Empty<int>(), new[] { 2.5f }));
                    Add("add", new Binary(BinaryKind.Add, Fused: new FusedClamp(-0.5f, 0.8f)), V("div"), x);
                    Add("gap", new GlobalAveragePool(), V("add"));
                    Add("gate", new Activation(ActivationKind.Sigmoid), V("gap"));
                    Add("excite", new Binary(BinaryKind.Mul), V("add"), V("gate")); // computed broadcast [2,3,1,1]
                    Add("rows", new Binary(BinaryKind.Sub), V("excite"), Constant("k4", new[] { 2, 1, 4, 1 }));
                    Add("clip", new Clip(), V("rows"), Constant("lo", Array.Empty<int>(), new[] { -0.3f }), Constant("hi", Array.Empty<int>(), new[] { 0.4f }));
                    Add("clip_low", new Clip(), V("clip"), Constant("lo2", Array.Empty<int>(), new[] { -0.1f }));
                    Add("clip_none", new Clip(), V("clip_low"));
                    return Build(new[] { x }, V("clip_none"), nodes.ToArray());
                }
                case "layout":
                {
                    var x = values["x"] = Input("x", 2, 3, 4, 5);
                    Add("t", new Transpose(new[] { 0, 2, 3, 1 }), x);
                    Add("pad", new Pad(PadMode.Constant, new long[] { 0, 1, -1, 0, 0, 0, 2, 1 }, 0.25f), V("t"));
                    Add("unsq", new Unsqueeze(new long[] { 1 }), V("pad"));
                    Add("sq", new Squeeze(new long[] { 1 }), V("unsq"));
                    Add("flat", new Reshape(new long[] { 2, -1 }, false), V("sq"));
                    Add("flat_x", new Flatten(1), x);
                    Add("cat", new Concat(1), V("flat"), V("flat_x"), Constant("extra", new[] { 2, 3 }));
                    Add("id", new Identity(), V("cat"));
                    Add("softmax", new Softmax(1, Coerce2D: false), V("id"));
                    Add("t2", new Transpose(null), V("softmax"));
                    return Build(new[] { x }, V("t2"), nodes.ToArray());
                }
                case "matrix":
                {
                    var x = values["x"] = Input("x", 2, 6);
                    Add("g1", new Gemm(0.5f, 2f, false, false, FusedClamp.Relu), x, Constant("b1", new[] { 6, 4 }), Constant("c1", new[] { 4 }));
                    Add("g2", new Gemm(1f, 1f, false, true), V("g1"), Constant("b2", new[] { 5, 4 }), Constant("c2", new[] { 2, 1 }));
                    Add("g3", new Gemm(1f, 0.5f, false, false, new FusedClamp(-1f, 1f)), V("g2"), Constant("b3", new[] { 5, 3 }), Constant("c3", Array.Empty<int>(), new[] { 0.3f }));
                    Add("g4", new Gemm(1.5f, 1f, false, true), V("g3"), Constant("b4", new[] { 3, 3 }), Constant("c4", new[] { 2, 3 }));
                    Add("mm", new MatMul(), V("g4"), Constant("w", new[] { 3, 4 }));
                    Add("r", new Reshape(new long[] { 2, 1, 4 }, false), V("mm"));
                    Add("mm3", new MatMul(), V("r"), Constant("w2", new[] { 4, 2 }));
                    Add("softmax", new Softmax(1, Coerce2D: true), V("mm3"));
                    return Build(new[] { x }, V("softmax"), nodes.ToArray());
                }
                case "legacy":
                {
                    // Opset 6 broadcast=1 with an axis: B [3] aligns with axis 1 of A [2,3,4].
                    var x = values["x"] = Input("x", 2, 3, 4);
                    Add("add", new Binary(BinaryKind.Add, LegacyAxis: 1), x, Constant("b", new[] { 3 }));
                    Add("vector", new MatMul(), Constant("row", new[] { 4 }), Constant("m", new[] { 4, 4 }));
                    Add("mul", new Binary(BinaryKind.Mul), V("add"), V("vector"));
                    Add("softmax", new Softmax(-1, Coerce2D: false), V("mul"));
                    return Build(new[] { x }, V("softmax"), nodes.ToArray());
                }
                default:
                    throw new ArgumentException(name);
            }
        }

        private static string Emit(Graph graph) =>
            FloatModelEmitter.Emit(graph, Target, new Provenance(graph.ModelName, new string('0', 64), null, "passes []"), "To build INT8, calibrate.");

        private static Value Input(string name, params int[] shape) => new(name, ElementType.Float32, shape);

        private static Value Computed(string name) => new(name, ElementType.Float32, Array.Empty<int>());

        private static Graph Build(IEnumerable<Value> inputs, Value output, params Node[] nodes)
        {
            var graph = new Graph("test.onnx", inputs, new[] { output }, nodes);
            ShapeInference.Run(graph);
            return graph;
        }
    }
}
