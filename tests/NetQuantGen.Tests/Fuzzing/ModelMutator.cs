using System;
using System.Collections.Generic;
using System.Linq;
using Google.Protobuf;
using NetQuantGen.Onnx.Proto;
using StatisticsProto = NetQuantGen.Calibration.Proto.StatisticsFile;

namespace NetQuantGen.Tests.Fuzzing
{
    /// <summary>What one mutation does; the numbers pick targets (taken modulo the number of candidates) and values.</summary>
    public enum MutationKind
    {
        FlipByte, TruncateBytes, InsertBytes,
        InitializerDim, InitializerAddDim, InitializerSetDims, InitializerDataType, InitializerRawLength, InitializerDropData, InitializerPoisonFloats, RemoveInitializer,
        InputDim, InputSetDims, InputDimParam, InputElementType, InputDropShape,
        NodeRewireInput, NodeMissingInput, NodeDropInput, RemoveNode, DuplicateNode, NodeOpType, NodeExtraOutput,
        AttributeInts, AttributeInt, AttributeFloat, AttributeType, AttributeAdd, AttributeRemove,
        RemoveOutput, RenameOutput, Opset, DeepChain,
        StatisticsRange, StatisticsHistogram, StatisticsShape, StatisticsRemoveTensor,
    }

    public sealed record Mutation(MutationKind Kind, int Target, int Index, long Value)
    {
        public override string ToString() => $"{Kind}({Target},{Index},{Value})";
    }

    /// <summary>
    /// Applies mutations to a real model (and its statistics file): byte-level damage and protobuf-level edits of the
    /// kinds broken exporters and hostile files produce. Deterministic: the same mutations give the same bytes.
    /// </summary>
    public static class ModelMutator
    {
        private static readonly string[] OpTypes =
        {
            "Conv", "Relu", "Clip", "MaxPool", "AveragePool", "GlobalAveragePool", "Add", "Mul", "Gemm", "MatMul", "Flatten", "Reshape",
            "Concat", "BatchNormalization", "Identity", "Transpose", "Softmax", "Sigmoid", "QuantizeLinear", "DequantizeLinear", "Loop", "NoSuchOp",
        };

        private static readonly string[] AttributeNames =
        {
            "group", "axis", "kernel_shape", "strides", "pads", "dilations", "auto_pad", "perm", "transA", "transB", "alpha", "beta",
            "epsilon", "ceil_mode", "count_include_pad", "min", "max", "allowzero", "storage_order", "momentum", "training_mode", "bogus",
        };

        /// <summary>Values a hostile or broken file likes to declare.</summary>
        public static readonly long[] InterestingValues =
        {
            0, 1, -1, 2, 3, 7, 64, 255, 256, -128, 1L << 31, (1L << 31) - 1, -(1L << 31), 1L << 32, 1L << 40, -(1L << 40), long.MaxValue, long.MinValue, 1L << 20, 46341,
        };

        public static (byte[] Model, byte[]? Statistics) Apply(byte[] model, byte[]? statistics, IReadOnlyList<Mutation> mutations)
        {
            var proto = ModelProto.Parser.ParseFrom(model);
            var stats = statistics == null ? null : StatisticsProto.Parser.ParseFrom(statistics);
            var byteLevel = new List<Mutation>();
            foreach (var m in mutations)
            {
                if (m.Kind is MutationKind.FlipByte or MutationKind.TruncateBytes or MutationKind.InsertBytes) byteLevel.Add(m);
                else if (m.Kind >= MutationKind.StatisticsRange) { if (stats != null) MutateStatistics(stats, m); }
                else MutateModel(proto, m);
            }
            byte[] bytes = proto.ToByteArray();
            foreach (var m in byteLevel) bytes = MutateBytes(bytes, m);
            // The statistics follow the mutated model (as if calibrated on it), so the compiler goes past the staleness check.
            if (stats != null) stats.ModelSha256 = global::NetQuantGen.Calibration.ModelHash.Sha256Hex(bytes);
            return (bytes, stats?.ToByteArray());
        }

        private static int Pick(int index, int count) => count == 0 ? -1 : (int)((uint)index % (uint)count);

        private static byte[] MutateBytes(byte[] bytes, Mutation m)
        {
            if (bytes.Length == 0) return bytes;
            int at = Pick(m.Target, bytes.Length);
            switch (m.Kind)
            {
                case MutationKind.FlipByte:
                    var flipped = (byte[])bytes.Clone();
                    flipped[at] ^= (byte)(1 << (m.Index & 7) | (int)(m.Value & 0xFF));
                    return flipped;
                case MutationKind.TruncateBytes:
                    return bytes.Take(at).ToArray();
                default:
                    var inserted = BitConverter.GetBytes(m.Value).Take(1 + (m.Index & 7));
                    return bytes.Take(at).Concat(inserted).Concat(bytes.Skip(at)).ToArray();
            }
        }

        private static void MutateModel(ModelProto model, Mutation m)
        {
            var g = model.Graph;
            long v = m.Value;
            switch (m.Kind)
            {
                case MutationKind.InitializerDim when Initializer(g, m) is { Dims.Count: > 0 } t:
                    t.Dims[Pick(m.Index, t.Dims.Count)] = v;
                    break;
                case MutationKind.InitializerAddDim when Initializer(g, m) is { } t:
                    t.Dims.Add(v);
                    break;
                case MutationKind.InitializerSetDims when Initializer(g, m) is { } t:
                    t.Dims.Clear();
                    t.Dims.Add(SomeValues(m.Index, v));
                    break;
                case MutationKind.InputSetDims when Input(g, m) is { Type.TensorType: { } tt }:
                    tt.Shape = new TensorShapeProto();
                    foreach (long d in SomeValues(m.Index, v)) tt.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
                    break;
                case MutationKind.InitializerDataType when Initializer(g, m) is { } t:
                    t.DataType = (int)((ulong)v % 24);
                    break;
                case MutationKind.InitializerRawLength when Initializer(g, m) is { } t:
                    var raw = t.RawData.ToByteArray();
                    int length = (int)Math.Min(Math.Abs(v % (raw.Length + 64L)), raw.Length + 64L);
                    t.RawData = ByteString.CopyFrom(raw.Concat(new byte[64]).Take(length).ToArray());
                    break;
                case MutationKind.InitializerDropData when Initializer(g, m) is { } t:
                    t.ClearRawData();
                    t.FloatData.Clear();
                    break;
                case MutationKind.InitializerPoisonFloats when Initializer(g, m) is { DataType: (int)TensorProto.Types.DataType.Float } t:
                    PoisonFloats(t, m.Index, v);
                    break;
                case MutationKind.RemoveInitializer when Initializer(g, m) is { } t:
                    g.Initializer.Remove(t);
                    break;
                case MutationKind.InputDim when Input(g, m) is { Type.TensorType.Shape.Dim.Count: > 0 } i:
                    i.Type.TensorType.Shape.Dim[Pick(m.Index, i.Type.TensorType.Shape.Dim.Count)].DimValue = v;
                    break;
                case MutationKind.InputDimParam when Input(g, m) is { Type.TensorType.Shape.Dim.Count: > 0 } i:
                    i.Type.TensorType.Shape.Dim[Pick(m.Index, i.Type.TensorType.Shape.Dim.Count)].DimParam = "N";
                    break;
                case MutationKind.InputElementType when Input(g, m) is { Type.TensorType: { } tt }:
                    tt.ElemType = (int)((ulong)v % 24);
                    break;
                case MutationKind.InputDropShape when Input(g, m) is { Type.TensorType: { } tt }:
                    tt.Shape = null;
                    break;
                case MutationKind.NodeRewireInput when Node(g, m) is { Input.Count: > 0 } n:
                    // Any value of the graph, including a later node's output (a cycle) or the node's own output.
                    var names = g.Node.SelectMany(x => x.Output).Concat(g.Initializer.Select(x => x.Name)).Concat(g.Input.Select(x => x.Name)).ToList();
                    n.Input[Pick(m.Index, n.Input.Count)] = names[Pick((int)v, names.Count)];
                    break;
                case MutationKind.NodeMissingInput when Node(g, m) is { Input.Count: > 0 } n:
                    n.Input[Pick(m.Index, n.Input.Count)] = "missing_" + v;
                    break;
                case MutationKind.NodeDropInput when Node(g, m) is { Input.Count: > 0 } n:
                    if ((v & 1) == 0) n.Input.RemoveAt(Pick(m.Index, n.Input.Count));
                    else n.Input[Pick(m.Index, n.Input.Count)] = "";
                    break;
                case MutationKind.RemoveNode when Node(g, m) is { } n:
                    g.Node.Remove(n);
                    break;
                case MutationKind.DuplicateNode when Node(g, m) is { } n:
                    g.Node.Insert(Pick(m.Index, g.Node.Count + 1), n.Clone());
                    break;
                case MutationKind.NodeOpType when Node(g, m) is { } n:
                    n.OpType = OpTypes[Pick((int)v, OpTypes.Length)];
                    break;
                case MutationKind.NodeExtraOutput when Node(g, m) is { } n:
                    n.Output.Add("extra_" + v);
                    break;
                case MutationKind.AttributeInts when Attribute(g, m) is { } a:
                    a.Type = AttributeProto.Types.AttributeType.Ints;
                    a.Ints.Clear();
                    a.Ints.Add(SomeValues(m.Index, v));
                    break;
                case MutationKind.AttributeInt when Attribute(g, m) is { } a:
                    a.Type = AttributeProto.Types.AttributeType.Int;
                    a.I = v;
                    break;
                case MutationKind.AttributeFloat when Attribute(g, m) is { } a:
                    a.Type = AttributeProto.Types.AttributeType.Float;
                    a.F = new[] { float.NaN, float.PositiveInfinity, -1e38f, 0f, -1f, 1e-45f, 6f }[Pick((int)v, 7)];
                    break;
                case MutationKind.AttributeType when Attribute(g, m) is { } a:
                    a.Type = (AttributeProto.Types.AttributeType)Pick((int)v, 15);
                    break;
                case MutationKind.AttributeAdd when Node(g, m) is { } n:
                    var added = new AttributeProto { Name = AttributeNames[Pick(m.Index, AttributeNames.Length)], Type = AttributeProto.Types.AttributeType.Int, I = v };
                    if ((v & 1) != 0) { added.Type = AttributeProto.Types.AttributeType.Ints; added.Ints.Add(new[] { v, v }); }
                    n.Attribute.Add(added);
                    break;
                case MutationKind.AttributeRemove when Attribute(g, m) is { } a:
                    g.Node.First(n => n.Attribute.Contains(a)).Attribute.Remove(a);
                    break;
                case MutationKind.RemoveOutput when g.Output.Count > 0:
                    g.Output.RemoveAt(Pick(m.Target, g.Output.Count));
                    break;
                case MutationKind.RenameOutput when g.Output.Count > 0:
                    var names2 = g.Node.SelectMany(x => x.Output).Concat(g.Input.Select(x => x.Name)).Concat(new[] { "nowhere" }).ToList();
                    g.Output[Pick(m.Target, g.Output.Count)].Name = names2[Pick((int)v, names2.Count)];
                    break;
                case MutationKind.Opset when model.OpsetImport.Count > 0:
                    model.OpsetImport[0].Version = v;
                    break;
                case MutationKind.DeepChain when g.Output.Count > 0:
                    // A long chain of Relu nodes in front of the first output: graph depth and node count.
                    int chain = (int)Math.Min(Math.Abs(v % 200_000), 200_000);
                    string previous = g.Output[0].Name;
                    for (int k = 0; k < chain; k++)
                    {
                        string next = $"chain_{k}";
                        g.Node.Add(new NodeProto { OpType = "Relu", Input = { previous }, Output = { next } });
                        previous = next;
                    }
                    g.Output[0].Name = previous;
                    break;
            }
        }

        /// <summary>0 to 4 values: <paramref name="first"/>, then interesting values picked by <paramref name="index"/>.</summary>
        private static IEnumerable<long> SomeValues(int index, long first) =>
            Enumerable.Range(0, index & 3).Select(k => k == 0 ? first : InterestingValues[Pick((index >> (2 + 5 * k)) & 31, InterestingValues.Length)]);

        private static void PoisonFloats(TensorProto t, int index, long value)
        {
            float poison = new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 3e38f, -3e38f, 1e-45f, 0f }[Pick((int)value, 7)];
            if (t.HasRawData && t.RawData.Length >= 4)
            {
                var raw = t.RawData.ToByteArray();
                int count = raw.Length / 4;
                // Either one element or every element.
                for (int k = 0; k < count; k++)
                    if ((index & 1) == 0 || k == Pick(index, count)) BitConverter.GetBytes(poison).CopyTo(raw, k * 4);
                t.RawData = ByteString.CopyFrom(raw);
            }
            else if (t.FloatData.Count > 0)
                for (int k = 0; k < t.FloatData.Count; k++)
                    if ((index & 1) == 0 || k == Pick(index, t.FloatData.Count)) t.FloatData[k] = poison;
        }

        private static void MutateStatistics(StatisticsProto stats, Mutation m)
        {
            if (stats.Tensors.Count == 0) return;
            var t = stats.Tensors[Pick(m.Target, stats.Tensors.Count)];
            double value = new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0, -0.0, 1e300, -1e300, 1e-300, 5, -5 }[Pick((int)m.Value, 10)];
            switch (m.Kind)
            {
                case MutationKind.StatisticsRange:
                    if ((m.Index & 1) == 0) t.Min = value; else t.Max = value;
                    if ((m.Index & 2) != 0 && t.Histogram != null) { if ((m.Index & 1) == 0) t.Histogram.Min = value; else t.Histogram.Max = value; }
                    break;
                case MutationKind.StatisticsHistogram when t.Histogram != null:
                    switch (m.Index & 3)
                    {
                        case 0: t.Histogram.Counts.Clear(); break;
                        case 1: if (t.Histogram.Counts.Count > 0) t.Histogram.Counts[Pick((int)m.Value, t.Histogram.Counts.Count)] = ulong.MaxValue; break;
                        case 2: for (int k = 0; k < t.Histogram.Counts.Count; k++) t.Histogram.Counts[k] = 0; break;
                        default: t.Histogram.Counts.Add(Enumerable.Repeat(1UL, 1 + (int)Math.Abs(m.Value % 5000))); break;
                    }
                    break;
                case MutationKind.StatisticsShape:
                    if (t.Shape.Count > 0) t.Shape[Pick(m.Index, t.Shape.Count)] = (int)m.Value;
                    break;
                case MutationKind.StatisticsRemoveTensor:
                    stats.Tensors.Remove(t);
                    break;
            }
        }

        private static TensorProto? Initializer(GraphProto g, Mutation m) => g.Initializer.Count == 0 ? null : g.Initializer[Pick(m.Target, g.Initializer.Count)];

        private static ValueInfoProto? Input(GraphProto g, Mutation m) => g.Input.Count == 0 ? null : g.Input[Pick(m.Target, g.Input.Count)];

        private static NodeProto? Node(GraphProto g, Mutation m) => g.Node.Count == 0 ? null : g.Node[Pick(m.Target, g.Node.Count)];

        private static AttributeProto? Attribute(GraphProto g, Mutation m)
        {
            var all = g.Node.SelectMany(n => n.Attribute).ToList();
            return all.Count == 0 ? null : all[Pick(m.Target, all.Count)];
        }
    }
}
