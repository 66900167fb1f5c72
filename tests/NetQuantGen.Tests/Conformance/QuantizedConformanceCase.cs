using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Google.Protobuf;
using NetQuantGen.Compiler;
using NetQuantGen.IntegerIR;
using NetQuantGen.Onnx.Proto;

namespace NetQuantGen.Tests.Conformance
{
    /// <summary>
    /// One ONNX backend case of a quantization operator run through the compiler's quantized-model path and
    /// the integer reference executor. The case's single node is wrapped the way a quantized model holds it:
    /// its parameters (scales, zero-points, weights) become initializers, an integer activation input becomes a
    /// float input behind a QuantizeLinear with the case's scale and zero-point (scale 1 for ConvInteger and
    /// MatMulInteger, which have none), and an 8-bit output is followed by a DequantizeLinear with its scale and
    /// zero-point (DynamicQuantizeLinear: the ones it computes). The integer reference then runs on the case's
    /// integer data itself (uint8 shifted by −128 to the int8 it maps onto) and must reproduce the expected
    /// integers exactly (int32 accumulators included; DynamicQuantizeLinear's scale bit for bit and its
    /// zero-point too; floats within the ONNX runner's tolerances).
    /// </summary>
    public static class QuantizedConformanceCase
    {
        public static readonly string[] Operators =
        {
            "QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", "DynamicQuantizeLinear",
        };

        /// <summary>Whether the case's model is a single node of one of <see cref="Operators"/> (the expanded DynamicQuantizeLinear cases are float graphs).</summary>
        public static bool IsQuantizationCase(string caseFolder)
        {
            var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(caseFolder, "model.onnx")));
            return proto.Graph.Node.Count == 1 && Operators.Contains(proto.Graph.Node[0].OpType);
        }

        public static CaseResult Run(string caseFolder, string name)
        {
            var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(caseFolder, "model.onnx")));
            var failures = new List<string>();
            var dataSets = Directory.GetDirectories(caseFolder, "test_data_set_*").OrderBy(d => d, StringComparer.Ordinal).ToList();
            foreach (var dataSet in dataSets)
            {
                var outcome = RunDataSet(proto, name, dataSet);
                if (outcome.Status == CaseStatus.Unclaimed) return outcome;
                if (outcome.Status == CaseStatus.Failed) failures.Add($"{Path.GetFileName(dataSet)}: {outcome.Reason}");
            }
            return failures.Count == 0
                ? new CaseResult(name, CaseStatus.Passed, $"{dataSets.Count} data set(s)")
                : new CaseResult(name, CaseStatus.Failed, string.Join("; ", failures));
        }

        private static TensorProto ReadProto(string dataSet, string prefix, int index) =>
            TensorProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(dataSet, $"{prefix}_{index}.pb")));

        private static CaseResult RunDataSet(ModelProto original, string name, string dataSet)
        {
            var node = original.Graph.Node[0].Clone();
            var inputs = original.Graph.Input.Select((info, i) => ReadProto(dataSet, "input", i)).ToList();
            var expected = ReadProto(dataSet, "output", 0);
            bool integerProduct = node.OpType is "ConvInteger" or "MatMulInteger";
            bool integerInput = node.OpType is "DequantizeLinear" or "QLinearConv" or "QLinearMatMul" || integerProduct;
            // An integer output is dequantized with the node's own output scale and zero-point (DynamicQuantizeLinear: the ones it computes).
            (string Scale, string ZeroPoint)? outputParameters = node.OpType switch
            {
                "QuantizeLinear" => (node.Input[1], node.Input[2]),
                "QLinearConv" or "QLinearMatMul" => (node.Input[6], node.Input[7]),
                "DynamicQuantizeLinear" => (node.Output[1], node.Output[2]),
                _ => null,
            };

            var graph = new GraphProto { Name = name };
            for (int i = 1; i < inputs.Count; i++)
            {
                var init = inputs[i].Clone();
                init.Name = node.Input[i];
                graph.Initializer.Add(init);
            }
            var x = inputs[0];
            graph.Input.Add(FloatInfo("x", x.Dims));
            node.Input[0] = "x";
            if (integerProduct)
            {
                // ConvInteger/MatMulInteger have no scales: x arrives quantized with scale 1 and the node's x_zero_point.
                if (node.Input.Count < 3 || node.Input[2].Length == 0)
                {
                    graph.Initializer.Add(new TensorProto { Name = "x_zero_point", DataType = x.DataType, RawData = ByteString.CopyFrom(new byte[1]) });
                    while (node.Input.Count < 3) node.Input.Add("");
                    node.Input[2] = "x_zero_point";
                }
                var unitScale = new TensorProto { Name = "unit_scale", DataType = (int)TensorProto.Types.DataType.Float, FloatData = { 1f } };
                unitScale.Dims.AddRange(graph.Initializer.Single(i => i.Name == node.Input[2]).Dims); // the zero-point's shape, scalar or [1]
                graph.Initializer.Add(unitScale);
                graph.Node.Add(new NodeProto { OpType = "QuantizeLinear", Name = "x_QuantizeLinear", Input = { "x", "unit_scale", node.Input[2] }, Output = { "x_quantized" } });
                node.Input[0] = "x_quantized";
            }
            else if (integerInput)
            {
                graph.Node.Add(new NodeProto { OpType = "QuantizeLinear", Name = "x_QuantizeLinear", Input = { "x", node.Input[1], node.Input[2] }, Output = { "x_quantized" } });
                node.Input[0] = "x_quantized";
            }
            graph.Node.Add(node);
            string output = node.Output[0];
            if (outputParameters is (string s, string z))
            {
                graph.Node.Add(new NodeProto { OpType = "DequantizeLinear", Name = "y_DequantizeLinear", Input = { node.Output[0], s, z }, Output = { "y_dequantized" } });
                output = "y_dequantized";
            }
            graph.Output.Add(FloatInfo(output, expected.Dims));
            var model = new ModelProto { IrVersion = original.IrVersion, Graph = graph };
            model.OpsetImport.AddRange(original.OpsetImport);

            var input = new ModelInput(name, model.ToByteArray(), null, null, new CompilationOptions(), new TargetClass(null, "Case", "public", true));
            var lowering = ModelCompiler.Lower(input);
            if (lowering.IntegerGraph == null)
            {
                var error = lowering.Diagnostics.First();
                return new CaseResult(name, CaseStatus.Unclaimed, error.Message, error.Id);
            }
            try
            {
                var integerGraph = lowering.IntegerGraph;
                var executor = new IntegerExecutor(integerGraph);
                var data = NetQuantGen.Import.OnnxImporter.ReadTensor(x.ToByteArray(), "x");
                short[] q = integerInput
                    ? data.Integers!.Select(v => (short)(v - Shift(x.DataType))).ToArray()
                    : executor.QuantizeInput(data.Floats!);
                var result = executor.RunIntegers(q);
                var want = NetQuantGen.Import.OnnxImporter.ReadTensor(expected.ToByteArray(), "expected");
                if (want.Integers != null)
                {
                    var actual = result.Select(v => (long)v + Shift(expected.DataType)).ToArray();
                    int bad = Enumerable.Range(0, actual.Length).FirstOrDefault(i => actual[i] != want.Integers[i], -1);
                    if (bad >= 0)
                        return new CaseResult(name, CaseStatus.Failed, $"element {bad}: {actual[bad]}, expected {want.Integers[bad]} ({actual.Zip(want.Integers, (a, b) => a != b).Count(d => d)} of {actual.Length} differ)");
                    return node.OpType == "DynamicQuantizeLinear" ? CheckRuntimeParameters(executor, integerGraph.Outputs[0].Input, name, dataSet)
                        : new CaseResult(name, CaseStatus.Passed, "");
                }
                var floats = executor.Dequantize(result);
                int worst = Enumerable.Range(0, floats.Length).FirstOrDefault(i =>
                    Math.Abs(floats[i] - want.Floats![i]) > ConformanceCase.AbsoluteTolerance + ConformanceCase.RelativeTolerance * Math.Abs(want.Floats[i]), -1);
                return worst < 0 ? new CaseResult(name, CaseStatus.Passed, "")
                    : new CaseResult(name, CaseStatus.Failed, $"element {worst}: {floats[worst]}, expected {want.Floats![worst]}");
            }
            catch (Exception e)
            {
                return new CaseResult(name, CaseStatus.Failed, $"{e.GetType().Name}: {e.Message}");
            }
        }

        /// <summary>DynamicQuantizeLinear's other outputs: the scale (bit for bit) and the uint8 zero-point the run computed.</summary>
        private static CaseResult CheckRuntimeParameters(IntegerExecutor executor, QTensor output, string name, string dataSet)
        {
            var (scale, zeroPoint) = executor.QuantizationOf(output);
            float wantScale = NetQuantGen.Import.OnnxImporter.ReadTensor(ReadProto(dataSet, "output", 1).ToByteArray(), "y_scale").Floats![0];
            long wantZeroPoint = NetQuantGen.Import.OnnxImporter.ReadTensor(ReadProto(dataSet, "output", 2).ToByteArray(), "y_zero_point").Integers![0];
            return scale.Equals(wantScale) && zeroPoint + 128 == wantZeroPoint
                ? new CaseResult(name, CaseStatus.Passed, "")
                : new CaseResult(name, CaseStatus.Failed, $"y_scale {scale:R}, y_zero_point {zeroPoint + 128}; expected {wantScale:R}, {wantZeroPoint}");
        }

        /// <summary>uint8 data maps onto int8 as q − 128.</summary>
        private static int Shift(int onnxType) => onnxType == (int)TensorProto.Types.DataType.Uint8 ? 128 : 0;

        private static ValueInfoProto FloatInfo(string name, IEnumerable<long> dims)
        {
            var shape = new TensorShapeProto();
            foreach (long d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
        }
    }
}
