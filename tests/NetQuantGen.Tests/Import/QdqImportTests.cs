using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using NetQuantGen.Cli;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;
using NetQuantGen.Export;
using NetQuantGen.IntegerIR;
using NetQuantGen.Onnx.Proto;
using Xunit;
using Xunit.Abstractions;

namespace NetQuantGen.Tests.Import
{
    /// <summary>
    /// Quantized ONNX models in: our own QDQ export read back (round trip), QOperator nodes, and models whose
    /// quantization parameters are invalid or inconsistent (a diagnostic, never numbers).
    /// </summary>
    public class QdqImportTests
    {
        private readonly ITestOutputHelper _output;

        public QdqImportTests(ITestOutputHelper output) => _output = output;

        private static readonly TargetClass Target = new("Samples", "Model", "public", true);

        private static ModelInput SampleInput(string model, RequantizationOption requantization = RequantizationOption.Default) =>
            new(model + ".onnx", File.ReadAllBytes(SampleData.OnnxPath(model)), model + ".calib", File.ReadAllBytes(SampleData.StatisticsPath(model)),
                new CompilationOptions { InputShape = SampleData.InputShapeOption(model), Requantization = requantization }, Target);

        /// <summary>A quantized model as the user gives it: bytes, no statistics.</summary>
        internal static ModelInput QuantizedInput(string name, byte[] bytes, CompilationOptions? options = null) =>
            new(name, bytes, null, null, options ?? new CompilationOptions(), Target);

        private static QdqExportResult Export(string model, QdqActivationType activations, RequantizationOption requantization = RequantizationOption.Default)
        {
            var result = QdqExporter.Export(SampleInput(model, requantization), new QdqExportOptions { Activations = activations });
            Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
            return result;
        }

        private static IntegerGraph Reimport(byte[] qdq, string name, RequantizationOption requantization = RequantizationOption.Default)
        {
            var lowering = ModelCompiler.Lower(QuantizedInput(name, qdq, new CompilationOptions { Requantization = requantization }));
            Assert.True(lowering.IntegerGraph != null, string.Join("\n", lowering.Diagnostics));
            Assert.Empty(lowering.Diagnostics);
            return lowering.IntegerGraph!;
        }

        public static IEnumerable<object[]> RoundTripCases =>
            from model in new[] { "small_cnn", "mobilenet_v2_small" }
            from type in new[] { QdqActivationType.Int8, QdqActivationType.UInt8 }
            from requantization in new[] { RequantizationOption.FixedPoint, RequantizationOption.Float }
            select new object[] { model, type, requantization };

        /// <summary>
        /// Export W8A8 to QDQ, import it back with the same arithmetic: the very same integer IR (tensors, weights, biases,
        /// multipliers or float scales, clamps).
        /// </summary>
        [Theory]
        [MemberData(nameof(RoundTripCases))]
        public void ExportedQdqImportsBackToTheSameIntegerGraph(string model, QdqActivationType activations, RequantizationOption requantization)
        {
            var exported = Export(model, activations, requantization);
            var original = exported.Lowering!.IntegerGraph!;
            var reimported = Reimport(exported.Model!, model + ".qdq.onnx", requantization);
            AssertSameIntegerGraph(original, reimported);
        }

        /// <summary>
        /// ...and the regenerated code gives the same integer outputs as the original build on 1,000 test images, in both
        /// arithmetics (an imported model is Float by default, so a fixed-point round trip asks for FixedPoint again).
        /// </summary>
        [Theory]
        [InlineData(RequantizationOption.FixedPoint)]
        [InlineData(RequantizationOption.Float)]
        public void RegeneratedCodeFromTheExportIsBitIdenticalToTheOriginalBuild(RequantizationOption requantization)
        {
            const int count = 1000;
            const string model = "mobilenet_v2_small";
            var exported = Export(model, QdqActivationType.UInt8, requantization);
            var originalSource = ModelCompiler.Compile(SampleInput(model, requantization)).Source!;
            var result = ModelCompiler.Compile(QuantizedInput(model + ".qdq.onnx", exported.Model!, new CompilationOptions { Requantization = requantization }));
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            string arithmetic = requantization == RequantizationOption.Float ? "float requantization (ONNX Runtime)" : "fixed-point requantization (DESIGN §3)";
            Assert.Contains(arithmetic, originalSource);
            Assert.Contains(arithmetic, result.Source);
            using var original = new GeneratedModel(originalSource, "Samples.Model");
            using var regenerated = new GeneratedModel(result.Source!, "Samples.Model");
            var input = exported.Lowering!.IntegerGraph!.Inputs[0].Output;
            int mismatches = 0;
            foreach (var x in SampleData.TestInputs(model, count))
            {
                var q = IntegerExecutor.Quantize(x, input);
                if (!original.Run(q).SequenceEqual(regenerated.Run(q))) mismatches++;
            }
            Assert.Equal(0, mismatches);
        }

        internal static void AssertSameIntegerGraph(IntegerGraph expected, IntegerGraph actual)
        {
            static string Tensor(QTensor t) => $"{t.Name} [{string.Join(",", t.Shape)}] s={t.Scale:R} z={t.ZeroPoint}";
            Assert.Equal(expected.Inputs.Select(i => Tensor(i.Output)), actual.Inputs.Select(i => Tensor(i.Output)));
            Assert.Equal(expected.Outputs.Select(o => Tensor(o.Input)), actual.Outputs.Select(o => Tensor(o.Input)));
            Assert.Equal(expected.Operations.Count, actual.Operations.Count);
            for (int i = 0; i < expected.Operations.Count; i++)
            {
                var e = expected.Operations[i];
                var a = actual.Operations[i];
                Assert.Equal(e.Kind, a.Kind);
                Assert.Equal(e.Inputs.Select(Tensor), a.Inputs.Select(Tensor));
                Assert.Equal(Tensor(e.Output), Tensor(a.Output));
                switch (e)
                {
                    case QConvolution ec:
                        var ac = (QConvolution)a;
                        Assert.Equal(ec.Weights, ac.Weights);
                        Assert.Equal(ec.WeightShape, ac.WeightShape);
                        Assert.Equal(ec.WeightScales, ac.WeightScales);
                        Assert.Equal(ec.Bias, ac.Bias);
                        Assert.Equal(ec.Requantization, ac.Requantization);
                        Assert.Equal(ec.FloatScales, ac.FloatScales);
                        Assert.Equal((ec.ClampMin, ec.ClampMax, ec.Group), (ac.ClampMin, ac.ClampMax, ac.Group));
                        Assert.Equal(ec.Window.Pads, ac.Window.Pads);
                        Assert.Equal(ec.Window.Strides, ac.Window.Strides);
                        break;
                    case QAdd ea:
                        var aa = (QAdd)a;
                        Assert.Equal((ea.LeftShift, ea.InputA, ea.InputB, ea.OutputRequantization, ea.ClampMin, ea.ClampMax, ea.FloatParameters),
                            (aa.LeftShift, aa.InputA, aa.InputB, aa.OutputRequantization, aa.ClampMin, aa.ClampMax, aa.FloatParameters));
                        break;
                    case QPool ep:
                        var ap = (QPool)a;
                        Assert.Equal((ep.Pool, ep.CountIncludePad, ep.FloatScale), (ap.Pool, ap.CountIncludePad, ap.FloatScale));
                        Assert.Equal(ep.Window.KernelShape, ap.Window.KernelShape);
                        break;
                    case QLookup el:
                        Assert.Equal(el.Table, ((QLookup)a).Table);
                        break;
                }
            }
        }

        // ------------------------------------------------------------ invalid and inconsistent parameters

        private static ModelProto SmallCnnQdq(QdqActivationType activations = QdqActivationType.UInt8) =>
            ModelProto.Parser.ParseFrom(Export("small_cnn", activations).Model);

        private static TensorProto Initializer(ModelProto m, string name) => m.Graph.Initializer.Single(t => t.Name == name);

        private static NodeProto NodeNamed(ModelProto m, Func<NodeProto, bool> predicate) => m.Graph.Node.First(predicate);

        private static NodeProto WeightDequantize(ModelProto m, int convIndex) =>
            m.Graph.Node.Single(n => n.Output[0] == m.Graph.Node.Where(c => c.OpType == "Conv").ElementAt(convIndex).Input[1]);

        private static void SetFloats(TensorProto t, params float[] values)
        {
            var raw = new byte[4 * values.Length];
            Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
            t.RawData = ByteString.CopyFrom(raw);
            bool vector = t.Dims.Count > 0;
            t.Dims.Clear();
            if (vector) t.Dims.Add(values.Length);
        }

        private static float[] Floats(TensorProto t)
        {
            var raw = t.RawData.ToByteArray();
            var values = new float[raw.Length / 4];
            Buffer.BlockCopy(raw, 0, values, 0, raw.Length);
            return values;
        }

        /// <summary>The model gets a diagnostic with <paramref name="id"/>, no integer graph and no generated source.</summary>
        private void AssertRejected(ModelProto model, string id, params string[] messageParts)
        {
            var input = QuantizedInput("broken.onnx", model.ToByteArray());
            var lowering = ModelCompiler.Lower(input);
            var result = ModelCompiler.Compile(input);
            _output.WriteLine(string.Join("\n", result.Diagnostics));
            Assert.Null(lowering.IntegerGraph);
            Assert.Null(result.Source);
            var diagnostic = Assert.Single(result.Diagnostics, d => d.Kind.Level == DiagnosticLevel.Error);
            Assert.Equal(id, diagnostic.Id);
            Assert.Contains("broken.onnx", diagnostic.Message);
            foreach (var part in messageParts) Assert.Contains(part, diagnostic.Message);
        }

        [Theory]
        [InlineData(0f)]
        [InlineData(-0.5f)]
        [InlineData(float.NaN)]
        [InlineData(float.PositiveInfinity)]
        public void AnActivationScaleThatIsNotPositiveAndFiniteIsRejected(float scale)
        {
            var m = SmallCnnQdq();
            var q = NodeNamed(m, n => n.OpType == "QuantizeLinear");
            SetFloats(Initializer(m, q.Input[1]), scale);
            AssertRejected(m, "NQG0050", q.Name, "positive, finite");
        }

        [Fact]
        public void AZeroWeightScaleInOneChannelIsRejected()
        {
            var m = SmallCnnQdq();
            var dq = WeightDequantize(m, 1);
            var scales = Floats(Initializer(m, dq.Input[1]));
            scales[5] = 0f;
            SetFloats(Initializer(m, dq.Input[1]), scales);
            AssertRejected(m, "NQG0050", dq.Name, "scale[5]");
        }

        [Fact]
        public void AZeroPointOutOfRangeForItsTypeIsRejected()
        {
            var m = SmallCnnQdq();
            var q = NodeNamed(m, n => n.OpType == "QuantizeLinear");
            var zp = Initializer(m, q.Input[2]);
            zp.ClearRawData();
            zp.Int32Data.Add(300); // uint8 widened in int32_data, as ONNX stores it without raw data
            AssertRejected(m, "NQG0050", "300", "uint8 [0, 255]");
        }

        [Fact]
        public void AnAxisOutOfRangeIsRejected()
        {
            var m = SmallCnnQdq();
            var dq = WeightDequantize(m, 1);
            dq.Attribute.Single(a => a.Name == "axis").I = 4;
            AssertRejected(m, "NQG0050", dq.Name, "axis 4 is out of range");
        }

        [Fact]
        public void PerAxisScalesOnTheInputChannelAxisAreRejected()
        {
            // The second convolution is 32×32×3×3: axis 1 has the right length, but it is not the output channel axis.
            var m = SmallCnnQdq();
            var dq = WeightDequantize(m, 1);
            dq.Attribute.Single(a => a.Name == "axis").I = 1;
            AssertRejected(m, "NQG0052", "axis 1", "output channels lie on axis 0");
        }

        [Fact]
        public void PerAxisScalesOfTheWrongLengthAreRejected()
        {
            var m = SmallCnnQdq();
            var dq = WeightDequantize(m, 2); // 64 output channels
            SetFloats(Initializer(m, dq.Input[1]), Floats(Initializer(m, dq.Input[1])).Take(63).ToArray());
            var zp = Initializer(m, dq.Input[2]);
            zp.RawData = ByteString.CopyFrom(new byte[63]);
            zp.Dims[0] = 63;
            AssertRejected(m, "NQG0050", dq.Name, "63 scales along axis 0", "64 elements");
        }

        [Fact]
        public void ABiasScaleThatIsNotInputTimesWeightScaleIsRejected()
        {
            var m = SmallCnnQdq();
            var conv = m.Graph.Node.First(n => n.OpType == "Conv");
            var bias = m.Graph.Node.Single(n => n.Output[0] == conv.Input[2]);
            var scales = Floats(Initializer(m, bias.Input[1]));
            scales[3] *= 1.01f;
            SetFloats(Initializer(m, bias.Input[1]), scales);
            AssertRejected(m, "NQG0051", conv.Name, "output channel 3", "s_in·s_w[3]");
        }

        [Fact]
        public void AQuantizeDequantizePairWithDifferentZeroPointsIsRejected()
        {
            var m = SmallCnnQdq();
            var q = m.Graph.Node.Where(n => n.OpType == "QuantizeLinear").ElementAt(2);
            var dq = m.Graph.Node.Single(n => n.OpType == "DequantizeLinear" && n.Input[0] == q.Output[0]);
            var other = new TensorProto(Initializer(m, q.Input[2])) { Name = "other_zero_point" };
            other.RawData = ByteString.CopyFrom(new[] { (byte)(other.RawData[0] + 1) });
            m.Graph.Initializer.Add(other);
            dq.Input[2] = other.Name;
            AssertRejected(m, "NQG0051", dq.Name, q.Name);
        }

        /// <summary>Weights with zero-points whose w − z_w stays in int8 are baked as that offset and generated as usual.</summary>
        [Fact]
        public void AsymmetricWeightsWithinInt8AreBakedAsTheirOffsetFromTheZeroPoint()
        {
            var m = SmallCnnQdq();
            var dq = WeightDequantize(m, 0);
            var zp = Initializer(m, dq.Input[2]);
            zp.RawData = ByteString.CopyFrom(Enumerable.Repeat((byte)1, zp.RawData.Length).ToArray()); // int8 weights in [−127, 127]: w − 1 fits
            var input = QuantizedInput("asymmetric.onnx", m.ToByteArray());
            var graph = ModelCompiler.Lower(input).IntegerGraph;
            Assert.NotNull(graph);
            var weights = Initializer(m, dq.Input[0]).RawData.Select(b => (sbyte)((sbyte)b - 1));
            Assert.Equal(weights, graph!.Operations.OfType<QConvolution>().First().Weights);
            Assert.Empty(graph.Operations.OfType<QIntegerConvolution>());

            var result = ModelCompiler.Compile(input);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            using var generated = new GeneratedModel(result.Source!, "Samples.Model");
            var executor = new IntegerExecutor(graph);
            Assert.All(SampleData.TestInputs("small_cnn", 50), x =>
            {
                var q = IntegerExecutor.Quantize(x, graph.Inputs[0].Output);
                Assert.Equal(executor.RunQuantized(q), generated.Run(q));
            });
        }

        /// <summary>
        /// Weights whose zero-point puts w − z_w outside int8 (ONNX allows any zero-point) lower to the exact integer
        /// product, which the integer reference runs; the generator refuses them (NQG0054) instead of emitting wrong numbers.
        /// </summary>
        [Fact]
        public void WeightsWhoseOffsetFromTheZeroPointLeavesInt8RunInTheReferenceButAreNotGenerated()
        {
            var m = SmallCnnQdq();
            var dq = WeightDequantize(m, 0);
            var zp = Initializer(m, dq.Input[2]);
            zp.RawData = ByteString.CopyFrom(Enumerable.Repeat(unchecked((byte)(sbyte)-128), zp.RawData.Length).ToArray()); // w + 128 > 127 for every w ≥ 0
            var input = QuantizedInput("asymmetric.onnx", m.ToByteArray());
            var graph = ModelCompiler.Lower(input).IntegerGraph;
            Assert.NotNull(graph);
            var conv = Assert.Single(graph!.Operations.OfType<QIntegerConvolution>());
            Assert.Equal(Initializer(m, dq.Input[0]).RawData.Select(b => (short)((sbyte)b + 128)), conv.Weights);
            Assert.NotNull(conv.Requantization);
            Assert.Equal(10, new IntegerExecutor(graph).Run(SampleData.TestInputs("small_cnn", 1)[0]).Length);

            var result = ModelCompiler.Compile(input);
            Assert.Null(result.Source);
            var diagnostic = Assert.Single(result.Diagnostics, d => d.Kind.Level == DiagnosticLevel.Error);
            Assert.Equal("NQG0054", diagnostic.Id);
            Assert.Contains(conv.Source, diagnostic.Message);
            Assert.Contains("w − z_w", diagnostic.Message);
        }

        [Fact]
        public void BlockedQuantizationIsRejected()
        {
            var m = SmallCnnQdq();
            var dq = WeightDequantize(m, 0);
            dq.Attribute.Add(new AttributeProto { Name = "block_size", Type = AttributeProto.Types.AttributeType.Int, I = 4 });
            AssertRejected(m, "NQG0052", "block_size 4");
        }

        [Fact]
        public void AnActivationWithoutQuantizeLinearIsRejected()
        {
            // Drop the pair after the first convolution: its output has no scale and no statistics to take one from.
            var m = SmallCnnQdq();
            var conv = m.Graph.Node.First(n => n.OpType == "Conv");
            var relu = m.Graph.Node.First(n => n.Input[0] == conv.Output[0]);
            var q = m.Graph.Node.Single(n => n.OpType == "QuantizeLinear" && n.Input[0] == relu.Output[0]);
            var dq = m.Graph.Node.Single(n => n.OpType == "DequantizeLinear" && n.Input[0] == q.Output[0]);
            foreach (var n in m.Graph.Node)
                for (int i = 0; i < n.Input.Count; i++)
                    if (n.Input[i] == dq.Output[0]) n.Input[i] = relu.Output[0];
            m.Graph.Node.Remove(q);
            m.Graph.Node.Remove(dq);
            AssertRejected(m, "NQG0052", relu.Output[0], "has no QuantizeLinear");
        }

        [Fact]
        public void AMaxPoolWhoseOutputIsQuantizedDifferentlyFromItsInputIsRejected()
        {
            var m = SmallCnnQdq();
            var pool = m.Graph.Node.First(n => n.OpType == "MaxPool");
            var q = m.Graph.Node.Single(n => n.OpType == "QuantizeLinear" && n.Input[0] == pool.Output[0]);
            var scale = Initializer(m, q.Input[1]);
            SetFloats(scale, Floats(scale)[0] * 2);
            AssertRejected(m, "NQG0051", pool.Name, "keeps its input's scale");
        }

        [Fact]
        public void AReluBetweenTwoDifferentQuantizationsIsRejected()
        {
            // Conv → Q/DQ (scale 2s) → Relu → Q/DQ (s): fusing the Relu into the Conv would skip the first rounding.
            var m = SmallCnnQdq();
            var conv = m.Graph.Node.First(n => n.OpType == "Conv");
            var relu = m.Graph.Node.First(n => n.Input[0] == conv.Output[0]);
            var after = m.Graph.Node.Single(n => n.OpType == "QuantizeLinear" && n.Input[0] == relu.Output[0]);
            var scale = new TensorProto(Initializer(m, after.Input[1])) { Name = "pre_relu_scale" };
            SetFloats(scale, Floats(scale)[0] * 2);
            m.Graph.Initializer.Add(scale);
            var q = new NodeProto { OpType = "QuantizeLinear", Name = "pre_relu_Q", Input = { conv.Output[0], scale.Name, after.Input[2] }, Output = { "pre_relu_q" } };
            var dq = new NodeProto { OpType = "DequantizeLinear", Name = "pre_relu_DQ", Input = { "pre_relu_q", scale.Name, after.Input[2] }, Output = { "pre_relu_dq" } };
            relu.Input[0] = "pre_relu_dq";
            int at = m.Graph.Node.IndexOf(relu);
            m.Graph.Node.Insert(at, dq);
            m.Graph.Node.Insert(at, q);
            AssertRejected(m, "NQG0052", relu.Name, "quantize both tensors alike");
        }

        [Fact]
        public void StatisticsGivenForAQuantizedModelAreIgnoredWithAWarning()
        {
            var exported = Export("small_cnn", QdqActivationType.UInt8, RequantizationOption.Float);
            var input = new ModelInput("small_cnn.qdq.onnx", exported.Model!, "small_cnn.calib", File.ReadAllBytes(SampleData.StatisticsPath("small_cnn")),
                new CompilationOptions { WeightBits = 4 }, Target);
            var lowering = ModelCompiler.Lower(input);
            var warning = Assert.Single(lowering.Diagnostics);
            Assert.Equal("NQG0053", warning.Id);
            Assert.Contains("small_cnn.calib", warning.Message);
            Assert.Contains("WeightBits = 4", warning.Message);
            AssertSameIntegerGraph(exported.Lowering!.IntegerGraph!, lowering.IntegerGraph!);
        }

        // ------------------------------------------------------------ equivalent encodings

        /// <summary>
        /// The same quantization written differently gives the same integer graph: uint8 weights with zero-point
        /// 128 instead of int8 with 0; Gemm with B stored [K, N] (transB = 0) and per-column scales on axis 1.
        /// </summary>
        [Theory]
        [InlineData("uint8 weights")]
        [InlineData("Gemm transB=0")]
        public void EquivalentEncodingsOfTheWeightsGiveTheSameIntegerGraph(string encoding)
        {
            var exported = Export("small_cnn", QdqActivationType.UInt8, RequantizationOption.Float);
            var m = ModelProto.Parser.ParseFrom(exported.Model);
            foreach (var op in m.Graph.Node.Where(n => n.OpType is "Conv" or "Gemm").ToList())
            {
                var dq = m.Graph.Node.Single(n => n.Output[0] == op.Input[1]);
                var w = Initializer(m, dq.Input[0]);
                var zp = Initializer(m, dq.Input[2]);
                var raw = w.RawData.ToByteArray();
                if (encoding == "uint8 weights")
                {
                    w.RawData = ByteString.CopyFrom(raw.Select(b => (byte)((sbyte)b + 128)).ToArray());
                    w.DataType = (int)TensorProto.Types.DataType.Uint8;
                    zp.RawData = ByteString.CopyFrom(Enumerable.Repeat((byte)128, zp.RawData.Length).ToArray());
                    zp.DataType = (int)TensorProto.Types.DataType.Uint8;
                }
                else if (op.OpType == "Gemm")
                {
                    int n = (int)w.Dims[0], k = (int)w.Dims[1];
                    var transposed = new byte[raw.Length];
                    for (int o = 0; o < n; o++)
                        for (int i = 0; i < k; i++)
                            transposed[i * n + o] = raw[o * k + i];
                    w.RawData = ByteString.CopyFrom(transposed);
                    w.Dims.Clear();
                    w.Dims.Add(new long[] { k, n });
                    dq.Attribute.Single(a => a.Name == "axis").I = 1;
                    op.Attribute.Single(a => a.Name == "transB").I = 0;
                }
            }
            AssertSameIntegerGraph(exported.Lowering!.IntegerGraph!, Reimport(m.ToByteArray(), "small_cnn.reencoded.onnx"));
        }

        // ------------------------------------------------------------ QOperator form

        /// <summary>
        /// Our QDQ export rewritten by hand into the QOperator form ONNX Runtime's quantizer writes with
        /// QuantFormat.QOperator: every Conv (with the Relu/Clip after it, which the output range folds) into a
        /// QLinearConv, every Add into a com.microsoft QLinearAdd.
        /// </summary>
        internal static ModelProto QOperatorForm(byte[] qdq)
        {
            var m = ModelProto.Parser.ParseFrom(qdq);
            var g = m.Graph;
            NodeProto Producer(string name) => g.Node.Single(n => n.Output.Contains(name));
            NodeProto Reader(string name) => g.Node.Single(n => n.Input.Contains(name));
            foreach (var op in g.Node.Where(n => n.OpType is "Conv" or "Add").ToList())
            {
                var activation = Reader(op.Output[0]);
                var removed = activation.OpType == "QuantizeLinear" ? new List<NodeProto> { op } : new List<NodeProto> { op, activation };
                var yQ = activation.OpType == "QuantizeLinear" ? activation : Reader(activation.Output[0]);
                removed.Add(yQ);
                var aDq = Producer(op.Input[0]);
                var bDq = Producer(op.Input[1]);
                NodeProto qop;
                if (op.OpType == "Conv")
                {
                    // QLinearConv computes the conv and requantizes; the ReLU/ReLU6 folds into the output range.
                    var biasDq = Producer(op.Input[2]);
                    removed.AddRange(new[] { bDq, biasDq });
                    qop = new NodeProto { OpType = "QLinearConv", Name = op.Name, Output = { yQ.Output[0] } };
                    qop.Input.AddRange(new[] { aDq.Input[0], aDq.Input[1], aDq.Input[2], bDq.Input[0], bDq.Input[1], bDq.Input[2], yQ.Input[1], yQ.Input[2], biasDq.Input[0] });
                    qop.Attribute.AddRange(op.Attribute);
                }
                else
                {
                    qop = new NodeProto { OpType = "QLinearAdd", Domain = "com.microsoft", Name = op.Name, Output = { yQ.Output[0] } };
                    qop.Input.AddRange(new[] { aDq.Input[0], aDq.Input[1], aDq.Input[2], bDq.Input[0], bDq.Input[1], bDq.Input[2], yQ.Input[1], yQ.Input[2] });
                }
                int at = g.Node.IndexOf(op);
                foreach (var n in removed) g.Node.Remove(n);
                g.Node.Insert(Math.Min(at, g.Node.Count), qop);
            }
            // Dequantizations nobody reads any more go; the file's node order stays topological.
            g.Node.Where(n => n.OpType == "DequantizeLinear" && !g.Node.Any(r => r.Input.Contains(n.Output[0])) && !g.Output.Any(o => o.Name == n.Output[0])).ToList().ForEach(n => g.Node.Remove(n));
            var ordered = new List<NodeProto>();
            var known = new HashSet<string>(g.Initializer.Select(t => t.Name).Concat(g.Input.Select(i => i.Name)));
            var pending = g.Node.ToList();
            while (pending.Count > 0)
            {
                var ready = pending.First(n => n.Input.All(i => i.Length == 0 || known.Contains(i)));
                ordered.Add(ready);
                known.UnionWith(ready.Output);
                pending.Remove(ready);
            }
            g.Node.Clear();
            g.Node.AddRange(ordered);
            m.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
            return m;
        }

        public static IEnumerable<object[]> QOperatorModels => new[] { new object[] { "small_cnn" }, new object[] { "mobilenet_v2_small" } };

        /// <summary>The QOperator form (QLinearConv, QLinearAdd) lowers to the same integer graph as the QDQ form.</summary>
        [Theory]
        [MemberData(nameof(QOperatorModels))]
        public void QOperatorModelsLowerToTheSameIntegerGraphAsTheirQdqForm(string model)
        {
            var exported = Export(model, QdqActivationType.UInt8, RequantizationOption.Float);
            var m = QOperatorForm(exported.Model!);
            var expected = exported.Lowering!.IntegerGraph!;
            Assert.Equal(expected.Operations.OfType<QConvolution>().Count(c => !c.FromGemm), m.Graph.Node.Count(n => n.OpType == "QLinearConv"));
            Assert.Equal(expected.Operations.OfType<QAdd>().Count(), m.Graph.Node.Count(n => n.OpType == "QLinearAdd"));
            Assert.DoesNotContain(m.Graph.Node, n => n.OpType is "Conv" or "Add");

            var lowering = ModelCompiler.Lower(QuantizedInput(model + ".qoperator.onnx", m.ToByteArray()));
            Assert.True(lowering.IntegerGraph != null, string.Join("\n", lowering.Diagnostics));
            var actual = lowering.IntegerGraph!;
            Assert.Equal(expected.Operations.Select(o => o.Kind), actual.Operations.Select(o => o.Kind));
            foreach (var (e, a) in expected.Operations.OfType<QConvolution>().Zip(actual.Operations.OfType<QConvolution>(), (e, a) => (e, a)))
            {
                Assert.Equal(e.Weights, a.Weights);
                Assert.Equal(e.Bias, a.Bias);
                Assert.Equal(e.Requantization, a.Requantization);
                Assert.Equal(e.FloatScales, a.FloatScales);
                Assert.Equal((e.ClampMin, e.ClampMax), (a.ClampMin, a.ClampMax));
            }
            foreach (var (e, a) in expected.Operations.OfType<QAdd>().Zip(actual.Operations.OfType<QAdd>(), (e, a) => (e, a)))
                Assert.Equal((e.LeftShift, e.InputA, e.InputB, e.OutputRequantization, e.ClampMin, e.ClampMax), (a.LeftShift, a.InputA, a.InputB, a.OutputRequantization, a.ClampMin, a.ClampMax));
            var before = new IntegerExecutor(expected);
            var after = new IntegerExecutor(actual);
            Assert.All(SampleData.TestInputs(model, 20), image => Assert.Equal(before.Run(image), after.Run(image)));
        }

        /// <summary>
        /// A QLinearConv of the QOperator model with one parameter input (by index) replaced by a changed copy, so that
        /// nothing else that shares the initializer changes.
        /// </summary>
        private static (ModelProto Model, NodeProto Node) QLinearConvWith(int input, Action<TensorProto> change)
        {
            var m = QOperatorForm(Export("small_cnn", QdqActivationType.UInt8, RequantizationOption.Float).Model!);
            var node = m.Graph.Node.Where(n => n.OpType == "QLinearConv").ElementAt(1);
            var copy = new TensorProto(Initializer(m, node.Input[input])) { Name = node.Input[input] + "_changed" };
            change(copy);
            m.Graph.Initializer.Add(copy);
            node.Input[input] = copy.Name;
            return (m, node);
        }

        public static IEnumerable<object[]> InvalidQOperatorParameters => new[]
        {
            new object[] { "zero weight scale", 4, "NQG0050", "positive, finite" },
            new object[] { "negative output scale", 6, "NQG0050", "positive, finite" },
            new object[] { "NaN input scale", 1, "NQG0050", "positive, finite" },
            new object[] { "weight zero-point out of range", 5, "NQG0050", "out of range for int8" },
            new object[] { "weight scales of the wrong length", 4, "NQG0050", "along axis 0" },
            new object[] { "weight zero-point of another type than the weights", 5, "NQG0050", "same type" },
            new object[] { "input zero-point of another type than the input", 2, "NQG0051", "same scale, zero-point and type" },
        };

        /// <summary>Invalid or inconsistent quantization parameters of a QOperator node get a diagnostic naming the node, never numbers.</summary>
        [Theory]
        [MemberData(nameof(InvalidQOperatorParameters))]
        public void InvalidQOperatorParametersAreRejected(string what, int input, string id, string message)
        {
            var (m, node) = QLinearConvWith(input, t =>
            {
                switch (what)
                {
                    case "zero weight scale": SetFloats(t, Floats(t).Select((v, i) => i == 2 ? 0f : v).ToArray()); break;
                    case "negative output scale": SetFloats(t, -Floats(t)[0]); break;
                    case "NaN input scale": SetFloats(t, float.NaN); break;
                    case "weight zero-point out of range":
                        int count = t.RawData.Length;
                        t.ClearRawData();
                        t.Int32Data.AddRange(Enumerable.Repeat(200, count)); // int8 widened in int32_data, as ONNX stores it without raw data
                        break;
                    case "weight scales of the wrong length":
                        SetFloats(t, Floats(t).Skip(1).ToArray());
                        break;
                    case "weight zero-point of another type than the weights": t.DataType = (int)TensorProto.Types.DataType.Uint8; break;
                    case "input zero-point of another type than the input": t.DataType = (int)TensorProto.Types.DataType.Int8; break;
                }
            });
            if (what == "weight scales of the wrong length")
            {
                var zp = new TensorProto(Initializer(m, node.Input[5])) { Name = "shortened_zero_point" };
                zp.RawData = ByteString.CopyFrom(zp.RawData.Skip(1).ToArray());
                zp.Dims[0]--;
                m.Graph.Initializer.Add(zp);
                node.Input[5] = zp.Name;
            }
            AssertRejected(m, id, node.Name, message);
        }

        /// <summary>
        /// A QOperator model (QLinearConv, QLinearAdd) compiled to C# without statistics: the generated code reproduces the
        /// integer reference bit for bit, and ONNX Runtime running the QOperator model itself gives the same logits (both requantize in float, the
        /// default arithmetic of a quantized model).
        /// </summary>
        [Theory]
        [MemberData(nameof(QOperatorModels))]
        public void GeneratedCodeOfAQOperatorModelMatchesTheIntegerReferenceAndOnnxRuntime(string model)
        {
            const int count = 200; // the integer reference takes most of the time
            var bytes = QOperatorForm(Export(model, QdqActivationType.UInt8, RequantizationOption.Float).Model!).ToByteArray();
            var input = QuantizedInput(model + ".qoperator.onnx", bytes);
            var graph = ModelCompiler.Lower(input).IntegerGraph!;
            var result = ModelCompiler.Compile(input);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            Assert.DoesNotContain(result.Diagnostics, d => d.Kind.Level == DiagnosticLevel.Error);
            using var generated = new GeneratedModel(result.Source!, "Samples.Model");
            var inputs = SampleData.TestInputs(model, count);
            var references = new sbyte[count][];
            Parallel.For(0, 2, part =>
            {
                var executor = new IntegerExecutor(graph);
                for (int i = part; i < count; i += 2) references[i] = executor.RunQuantized(IntegerExecutor.Quantize(inputs[i], graph.Inputs[0].Output));
            });
            using var session = new InferenceSession(bytes);
            string inputName = session.InputNames.Single();
            var inputShape = session.InputMetadata[inputName].Dimensions.Select(d => (long)d).ToArray();
            var dequantize = new IntegerExecutor(graph);
            int mismatches = 0, agree = 0, logitsDiffer = 0;
            for (int i = 0; i < count; i++)
            {
                if (!references[i].SequenceEqual(generated.Run(IntegerExecutor.Quantize(inputs[i], graph.Inputs[0].Output)))) mismatches++;
                using var value = OrtValue.CreateTensorValueFromMemory(inputs[i], inputShape);
                using var outputs = session.Run(new RunOptions(), new[] { inputName }, new[] { value }, session.OutputNames);
                var ort = outputs[0].GetTensorDataAsSpan<float>().ToArray();
                var ours = dequantize.Dequantize(Array.ConvertAll(references[i], v => (int)v));
                if (SampleData.ArgMax(ort) == SampleData.ArgMax(ours)) agree++;
                if (!ort.SequenceEqual(ours)) logitsDiffer++;
            }
            _output.WriteLine($"{model} QOperator form, {count} test images: generated ≠ integer reference on {mismatches}; top-1 agreement with ONNX Runtime {agree / (double)count:P1}; logits differ on {logitsDiffer}");
            Assert.Equal(0, mismatches);
            // The model's own (float) requantization is ONNX Runtime's: the same logits, not just the same class.
            Assert.Equal(0, logitsDiffer);
            Assert.Equal(count, agree);
        }

        /// <summary>
        /// ONNX Runtime's dynamic quantization (DynamicQuantizeLinear feeding ConvInteger, the accumulators rescaled in
        /// float by the run-time scale) has no constant activation scale for the integer path: a diagnostic says so.
        /// </summary>
        [Fact]
        public void DynamicallyQuantizedModelsAreRejectedWithAnExplanation()
        {
            var g = new GraphProto { Name = "dynamic" };
            g.Input.Add(FloatValue("x", 1, 1, 4, 4));
            g.Output.Add(FloatValue("y", 1, 1, 3, 3));
            g.Initializer.Add(new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Uint8, Dims = { 1, 1, 2, 2 }, RawData = ByteString.CopyFrom(new byte[] { 130, 120, 128, 140 }) });
            g.Initializer.Add(new TensorProto { Name = "w_zero_point", DataType = (int)TensorProto.Types.DataType.Uint8, RawData = ByteString.CopyFrom(new byte[] { 128 }) });
            g.Initializer.Add(new TensorProto { Name = "w_scale", DataType = (int)TensorProto.Types.DataType.Float, FloatData = { 0.01f } });
            g.Node.Add(new NodeProto { OpType = "DynamicQuantizeLinear", Name = "quantize", Input = { "x" }, Output = { "xq", "x_scale", "x_zero_point" } });
            g.Node.Add(new NodeProto { OpType = "ConvInteger", Name = "conv", Input = { "xq", "w", "x_zero_point", "w_zero_point" }, Output = { "acc" } });
            g.Node.Add(new NodeProto { OpType = "Cast", Name = "cast", Input = { "acc" }, Output = { "acc_float" }, Attribute = { new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (int)TensorProto.Types.DataType.Float } } });
            g.Node.Add(new NodeProto { OpType = "Mul", Name = "scale", Input = { "x_scale", "w_scale" }, Output = { "s" } });
            g.Node.Add(new NodeProto { OpType = "Mul", Name = "rescale", Input = { "acc_float", "s" }, Output = { "y" } });
            var m = new ModelProto { IrVersion = 8, Graph = g, OpsetImport = { new OperatorSetIdProto { Domain = "", Version = 13 } } };
            AssertRejected(m, "NQG0052", "'conv' (ConvInteger)", "DynamicQuantizeLinear 'quantize'", "quantize the model statically");
        }

        /// <summary>
        /// A ConvInteger reading an activation quantized with a real scale, its int32 accumulators rescaled in float (Cast,
        /// Mul): the integer path does not take it, and the diagnostic says so rather than blame the QuantizeLinear.
        /// </summary>
        [Fact]
        public void AConvIntegerRescaledInFloatIsRejectedWithAnExplanation()
        {
            var g = new GraphProto { Name = "static_conv_integer" };
            g.Input.Add(FloatValue("x", 1, 1, 4, 4));
            g.Output.Add(FloatValue("y", 1, 1, 3, 3));
            g.Initializer.Add(new TensorProto { Name = "x_scale", DataType = (int)TensorProto.Types.DataType.Float, FloatData = { 0.02f } });
            g.Initializer.Add(new TensorProto { Name = "x_zero_point", DataType = (int)TensorProto.Types.DataType.Uint8, RawData = ByteString.CopyFrom(new byte[] { 128 }) });
            g.Initializer.Add(new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Uint8, Dims = { 1, 1, 2, 2 }, RawData = ByteString.CopyFrom(new byte[] { 130, 120, 128, 140 }) });
            g.Initializer.Add(new TensorProto { Name = "w_zero_point", DataType = (int)TensorProto.Types.DataType.Uint8, RawData = ByteString.CopyFrom(new byte[] { 128 }) });
            g.Initializer.Add(new TensorProto { Name = "scale", DataType = (int)TensorProto.Types.DataType.Float, FloatData = { 0.0002f } });
            g.Node.Add(new NodeProto { OpType = "QuantizeLinear", Name = "quantize", Input = { "x", "x_scale", "x_zero_point" }, Output = { "xq" } });
            g.Node.Add(new NodeProto { OpType = "ConvInteger", Name = "conv", Input = { "xq", "w", "x_zero_point", "w_zero_point" }, Output = { "acc" } });
            g.Node.Add(new NodeProto { OpType = "Cast", Name = "cast", Input = { "acc" }, Output = { "acc_float" }, Attribute = { new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (int)TensorProto.Types.DataType.Float } } });
            g.Node.Add(new NodeProto { OpType = "Mul", Name = "rescale", Input = { "acc_float", "scale" }, Output = { "y" } });
            var m = new ModelProto { IrVersion = 8, Graph = g, OpsetImport = { new OperatorSetIdProto { Domain = "", Version = 13 } } };
            AssertRejected(m, "NQG0052", "'conv' (ConvInteger)", "scale 0.02", "use QLinearConv/QLinearMatMul");
        }

        /// <summary>x [1, 3, 2, 2] quantized (per axis 1, or at run time) and dequantized into the output, with <paramref name="between"/> nodes on the float tensor.</summary>
        private static ModelProto BoundaryModel(bool dynamic, params NodeProto[] between)
        {
            var g = new GraphProto { Name = "boundary" };
            g.Input.Add(FloatValue("x", 1, 3, 2, 2));
            g.Initializer.Add(new TensorProto { Name = "scales", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 3 }, FloatData = { 0.5f, 0.25f, 0.125f } });
            g.Initializer.Add(new TensorProto { Name = "zero_points", DataType = (int)TensorProto.Types.DataType.Uint8, Dims = { 3 }, RawData = ByteString.CopyFrom(new byte[] { 10, 128, 200 }) });
            g.Node.Add(dynamic
                ? new NodeProto { OpType = "DynamicQuantizeLinear", Name = "quantize", Input = { "x" }, Output = { "xq", "x_scale", "x_zero_point" } }
                : new NodeProto { OpType = "QuantizeLinear", Name = "quantize", Input = { "x", "scales", "zero_points" }, Output = { "xq" } });
            g.Node.Add(new NodeProto { OpType = "DequantizeLinear", Name = "dequantize", Input = { "xq", dynamic ? "x_scale" : "scales", dynamic ? "x_zero_point" : "zero_points" }, Output = { "xd" } });
            string last = "xd";
            foreach (var node in between)
            {
                g.Node.Add(node);
                last = node.Output[0];
            }
            g.Output.Add(FloatValue(last, 1, 3, 2, 2));
            return new ModelProto { IrVersion = 8, Graph = g, OpsetImport = { new OperatorSetIdProto { Domain = "", Version = 13 } } };
        }

        /// <summary>
        /// An activation quantized per axis or at run time (DynamicQuantizeLinear) going from the model input to its output
        /// runs in the integer reference (the float output is the model's round trip); the generator refuses it (NQG0054).
        /// </summary>
        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void ActivationsQuantizedPerAxisOrAtRunTimeRunInTheReferenceButAreNotGenerated(bool dynamic)
        {
            var input = QuantizedInput("boundary.onnx", BoundaryModel(dynamic).ToByteArray());
            var graph = ModelCompiler.Lower(input).IntegerGraph;
            Assert.NotNull(graph);
            var x = new float[] { -1f, 0f, 2.5f, 60f, 0.3f, -7f, 1f, 0.25f, 3f, -3f, 0.1f, 9f };
            var executor = new IntegerExecutor(graph!);
            var y = executor.Run(x);
            // Per axis: channel c has scale s_c and zero-point z_c; at run time: the range [−7, 60] over 255 steps.
            float[] scales = dynamic ? new[] { 67f / 255f, 67f / 255f, 67f / 255f } : new[] { 0.5f, 0.25f, 0.125f };
            int[] zeroPoints = dynamic ? new[] { 27, 27, 27 } : new[] { 10, 128, 200 };
            var expected = x.Select((v, i) => (Math.Min(255, Math.Max(0, Math.Round(v / scales[i / 4], MidpointRounding.ToEven) + zeroPoints[i / 4])) - zeroPoints[i / 4]) * scales[i / 4]).ToArray();
            Assert.Equal(expected.Select(v => (float)v), y);

            var result = ModelCompiler.Compile(input);
            Assert.Null(result.Source);
            var diagnostic = Assert.Single(result.Diagnostics, d => d.Kind.Level == DiagnosticLevel.Error);
            Assert.Equal("NQG0054", diagnostic.Id);
            Assert.Contains(dynamic ? "at run time" : "per axis 1", diagnostic.Message);
        }

        /// <summary>No integer arithmetic can use an activation quantized per axis or at run time: an operator reading one gets NQG0052.</summary>
        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void AnOperatorReadingAnActivationQuantizedPerAxisOrAtRunTimeIsRejected(bool dynamic)
        {
            var m = BoundaryModel(dynamic,
                new NodeProto { OpType = "Conv", Name = "conv", Input = { "xd", "w" }, Output = { "y" } },
                new NodeProto { OpType = "QuantizeLinear", Name = "quantize_y", Input = { "y", "y_scale", "y_zero_point" }, Output = { "yq" } },
                new NodeProto { OpType = "DequantizeLinear", Name = "dequantize_y", Input = { "yq", "y_scale", "y_zero_point" }, Output = { "yd" } });
            m.Graph.Initializer.Add(new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 3, 3, 1, 1 }, FloatData = { 1, 0, 0, 0, 1, 0, 0, 0, 1 } });
            m.Graph.Initializer.Add(new TensorProto { Name = "y_scale", DataType = (int)TensorProto.Types.DataType.Float, FloatData = { 0.5f } });
            m.Graph.Initializer.Add(new TensorProto { Name = "y_zero_point", DataType = (int)TensorProto.Types.DataType.Uint8, RawData = ByteString.CopyFrom(new byte[] { 128 }) });
            AssertRejected(m, "NQG0052", "conv", dynamic ? "at run time" : "per axis 1");
        }

        private static ValueInfoProto FloatValue(string name, params long[] dims)
        {
            var shape = new TensorShapeProto();
            foreach (long d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
        }
    }
}
