using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using NetQuantGen.Calibration;
using NetQuantGen.IR;

namespace NetQuantGen.Cli
{
    /// <summary>`netquant inspect`: the graph after the float passes, its cost, and how statistics relate to it.</summary>
    internal static class InspectCommand
    {
        public static readonly CommandSpec Spec = new(
            "inspect",
            "Show the graph after the float passes with shapes, MACs and parameters; check a statistics file against it.",
            "Prints the graph after the float passes: one line per node with operator, name, input and output shapes, MACs and parameters, then totals. With --stats, also each tensor's calibrated range and whether the statistics match the model (hash, passes, tensor names and shapes). For a quantized model (QDQ or QOperator), each tensor's scale and zero-point and each quantized constant's as the model gives them.",
            new[] { new PositionalSpec("model.onnx", "The ONNX model.") },
            new[]
            {
                new OptionSpec("input-shape", "dims", ModelLoader.InputShapeHelp, Repeatable: true),
                new OptionSpec("passes", "list", ModelLoader.PassesHelp),
                new OptionSpec("stats", "file.calib", "Calibration statistics to show and check against the model."),
            },
            "Exits with 1 when the model cannot be imported or the statistics do not match it.");

        public static int Run(ParsedArguments args, Output output, CancellationToken cancellation)
        {
            string modelPath = args.Positionals[0];
            var importOptions = ModelLoader.ParseInputShapes(args.Values("input-shape"), Spec);
            var passes = ModelLoader.ParsePasses(args.Value("passes"), Spec);
            var model = ModelLoader.Load(modelPath, importOptions, passes, output);
            if (model == null) return CliApp.Failure;

            CalibrationStatistics? stats = null;
            string? statsPath = args.Value("stats");
            if (statsPath != null)
            {
                byte[] bytes;
                try
                {
                    bytes = File.ReadAllBytes(statsPath);
                }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                {
                    output.Diagnostic(statsPath, new Diagnostics.ModelDiagnostic(Diagnostics.DiagnosticCatalog.MissingFile,
                        $"Statistics file '{statsPath}' {(e is FileNotFoundException || e is DirectoryNotFoundException ? "does not exist" : "cannot be read: " + e.Message)}."));
                    return CliApp.Failure;
                }
                var read = StatisticsFile.Read(bytes, Path.GetFileName(statsPath));
                foreach (var d in read.Diagnostics) output.Diagnostic(statsPath, d);
                if (read.Statistics == null) return CliApp.Failure;
                stats = read.Statistics;
            }

            var w = output.Out;
            var graph = model.Graph;
            w.WriteLine($"Model: {model.FileName} (sha256 {model.Sha256})");
            w.WriteLine($"Passes: {(model.Passes.Ran.Count == 0 ? "none" : string.Join(", ", model.Passes.Ran))}" +
                        (model.Passes.Ran.Count == 0 ? "" : $" (changed the graph: {(model.Passes.Changed.Count == 0 ? "none" : string.Join(", ", model.Passes.Changed))})"));
            var quantized = model.Quantized;
            if (quantized != null)
                w.WriteLine($"Quantization: given by the model ({string.Join("/", quantized.ActivationTypes)} activations); it needs no statistics. Scales and zero-points below are the model's, zero-points in the int8 domain (uint8 ones − 128).");
            foreach (var input in graph.Inputs)
                w.WriteLine($"Input:  {input.Name} {Shapes.Format(input.Shape)} {Type(input.Type)}{Range(stats, input)}{QuantizationOf(quantized, input.Name, " ")}");
            foreach (var o in graph.Outputs)
                w.WriteLine($"Output: {o.Name} {Shapes.Format(o.Shape)} {Type(o.Type)}{Range(stats, o)}{QuantizationOf(quantized, o.Name, " ")}");
            w.WriteLine();

            var header = new List<string> { "#", "op", "name", "inputs", "outputs", "MACs", "params" };
            if (stats != null) header.Add("output range");
            if (quantized != null) header.Add("output quantization");
            var rows = new List<string[]> { header.ToArray() };
            long totalMacs = 0;
            var constants = new HashSet<Value>();
            for (int i = 0; i < graph.Nodes.Count; i++)
            {
                var node = graph.Nodes[i];
                long macs = Macs(node);
                long parameters = node.Inputs.Where(v => v != null && v.IsConstant).Sum(v => v!.ElementCount);
                foreach (var v in node.Inputs) if (v != null && v.IsConstant) constants.Add(v);
                totalMacs += macs;
                var row = new List<string>
                {
                    i.ToString(CultureInfo.InvariantCulture),
                    OpLabel(node.Op),
                    node.Name,
                    string.Join(" ", node.Inputs.Where(v => v != null && !v.IsConstant).Select(v => v!.Name + Shapes.Format(v.Shape))),
                    string.Join(" ", node.Outputs.Select(v => v.Name + Shapes.Format(v.Shape))),
                    Group(macs),
                    Group(parameters),
                };
                if (stats != null) row.Add(Range(stats, node.Output).TrimStart());
                if (quantized != null) row.Add(QuantizationOf(quantized, node.Output.Name, ""));
                rows.Add(row.ToArray());
            }
            WriteTable(w, rows, rightAligned: new[] { 0, 5, 6 });
            if (quantized != null && quantized.Constants.Count > 0)
            {
                w.WriteLine();
                w.WriteLine("Quantized constants (as stored in the model):");
                foreach (var c in quantized.Constants.Values.OrderBy(c => c.Name, StringComparer.Ordinal))
                    w.WriteLine($"  {c.Name} {Shapes.Format(c.Shape)} {Describe(c.Quantization)}");
            }
            long totalParameters = constants.Sum(v => v.ElementCount);
            w.WriteLine();
            w.WriteLine(string.Format(CultureInfo.InvariantCulture, "Total: {0} nodes, {1} MACs ({2}), {3} parameters ({4:F1} KB as float32, {5:F1} KB as int8)",
                graph.Nodes.Count, Group(totalMacs), Scaled(totalMacs), Group(totalParameters), totalParameters * 4 / 1024.0, totalParameters / 1024.0));

            if (stats == null) return CliApp.Success;

            w.WriteLine();
            w.WriteLine($"Statistics: {statsPath} ({stats.SampleCount} samples, {stats.Tensors.Count} tensors; {stats.Producer}; data: {stats.DataDescription})");
            bool hashOk = string.Equals(stats.ModelSha256, model.Sha256, StringComparison.OrdinalIgnoreCase);
            bool passesOk = stats.Passes.SequenceEqual(model.Passes.Ran, StringComparer.Ordinal);
            w.WriteLine($"  model hash: {(hashOk ? "matches" : $"DIFFERS (statistics: {stats.ModelSha256}; model: {model.Sha256})")}");
            w.WriteLine($"  passes:     {(passesOk ? "match" : "DIFFER")} (statistics: {(stats.Passes.Count == 0 ? "none" : string.Join(", ", stats.Passes))})");
            var expected = Calibrator.TensorsOf(graph);
            int present = expected.Count(v => stats.TryGet(v.Name, out var t) && t.Shape.SequenceEqual(v.Shape));
            var shapes = string.Join(", ", stats.InputShapes.Select(s => s.Name + Shapes.Format(s.Dims.ToArray())));
            w.WriteLine($"  tensors:    {present} of {expected.Count} model tensors have statistics of the right shape; the file has {stats.Tensors.Count} (input shapes: {shapes})");
            var problems = stats.CheckAgainst(graph, model.Sha256, model.Passes.Ran, Path.GetFileName(statsPath!));
            if (problems.Count == 0)
            {
                w.WriteLine("  => the statistics match the model.");
                return CliApp.Success;
            }
            w.WriteLine("  => the statistics do NOT match the model:");
            foreach (var d in problems) output.Diagnostic(statsPath!, d);
            return CliApp.Failure;
        }

        /// <summary>Multiply-accumulates of one run of the node (Conv, Gemm, MatMul; 0 for the rest).</summary>
        internal static long Macs(Node node)
        {
            switch (node.Op)
            {
                case Conv:
                {
                    var weight = node.Input(1);
                    int outChannels = weight.Shape[0];
                    return outChannels == 0 ? 0 : node.Output.ElementCount * (weight.ElementCount / outChannels);
                }
                case Gemm gemm:
                {
                    var a = node.Input(0);
                    long k = gemm.TransA ? a.Shape[0] : a.Shape[a.Shape.Length - 1];
                    return node.Output.ElementCount * k;
                }
                case MatMul:
                {
                    var a = node.Input(0);
                    return node.Output.ElementCount * a.Shape[a.Shape.Length - 1];
                }
                default:
                    return 0;
            }
        }

        private static string OpLabel(Operator op)
        {
            FusedClamp? fused = op switch
            {
                Conv c => c.Fused,
                Gemm g => g.Fused,
                Binary b => b.Fused,
                _ => null,
            };
            if (fused == null) return op.OpType;
            if (fused.Min == 0 && float.IsPositiveInfinity(fused.Max)) return op.OpType + "+Relu";
            return op.OpType + string.Format(CultureInfo.InvariantCulture, "+Clip({0:G6},{1:G6})", fused.Min, fused.Max);
        }

        private static string Range(CalibrationStatistics? stats, Value value)
        {
            if (stats == null) return "";
            if (!stats.TryGet(value.Name, out var t)) return "  (no statistics)";
            return string.Format(CultureInfo.InvariantCulture, "  [{0:G5}, {1:G5}] mean {2:G4} std {3:G4}", t.Min, t.Max, t.Mean, t.StandardDeviation);
        }

        /// <summary>A tensor's quantization as the model gives it: scale and zero-point, per axis, at run time or int32 accumulators.</summary>
        private static string QuantizationOf(Import.QdqModel? model, string tensor, string prefix)
        {
            if (model == null) return "";
            if (model.Activations.TryGetValue(tensor, out var p))
                return prefix + string.Format(CultureInfo.InvariantCulture, "scale {0:R} zero-point {1}", p.Scale, p.ZeroPoint);
            if (model.BoundaryActivations.TryGetValue(tensor, out var b))
                return prefix + (b.IsDynamic ? "scale and zero-point computed at run time (DynamicQuantizeLinear)" : Describe(b.PerAxis!));
            if (model.Accumulators.Contains(tensor)) return prefix + "int32 accumulators (ConvInteger/MatMulInteger)";
            return prefix + "float (not quantized)";
        }

        private static string Describe(Import.GivenQuantization q)
        {
            string type = q.Type.ToString().ToLowerInvariant();
            var zeroPoints = q.ZeroPoints.Distinct().Select(z => z.ToString(CultureInfo.InvariantCulture)).ToList();
            string zeros = zeroPoints.Count == 1 ? zeroPoints[0] : $"{zeroPoints.Count} distinct in [{q.ZeroPoints.Min()}, {q.ZeroPoints.Max()}]";
            return q.PerAxis
                ? string.Format(CultureInfo.InvariantCulture, "{0} per axis {1}: {2} scales in [{3:G6}, {4:G6}], zero-points {5}", type, q.Axis, q.Scales.Length, q.Scales.Min(), q.Scales.Max(), zeros)
                : string.Format(CultureInfo.InvariantCulture, "{0} scale {1:R} zero-point {2}", type, q.Scales[0], zeros);
        }

        private static string Type(ElementType type) => type.ToString().ToLowerInvariant();

        private static string Group(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

        private static string Scaled(long n) =>
            n >= 1_000_000_000 ? string.Format(CultureInfo.InvariantCulture, "{0:F2} G", n / 1e9)
            : n >= 1_000_000 ? string.Format(CultureInfo.InvariantCulture, "{0:F2} M", n / 1e6)
            : string.Format(CultureInfo.InvariantCulture, "{0:F1} K", n / 1e3);

        private static void WriteTable(TextWriter w, List<string[]> rows, int[] rightAligned)
        {
            int columns = rows.Max(r => r.Length);
            var widths = new int[columns];
            foreach (var row in rows)
                for (int c = 0; c < row.Length; c++) widths[c] = Math.Max(widths[c], row[c].Length);
            foreach (var row in rows)
            {
                var cells = new string[row.Length];
                for (int c = 0; c < row.Length; c++)
                    cells[c] = c == row.Length - 1 && !rightAligned.Contains(c) ? row[c]
                        : rightAligned.Contains(c) ? row[c].PadLeft(widths[c]) : row[c].PadRight(widths[c]);
                w.WriteLine(string.Join("  ", cells).TrimEnd());
            }
        }
    }
}
