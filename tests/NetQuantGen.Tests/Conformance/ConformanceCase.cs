using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using NetQuantGen.Diagnostics;
using NetQuantGen.Import;
using NetQuantGen.IR;
using NetQuantGen.Onnx.Proto;
using NetQuantGen.Reference;

namespace NetQuantGen.Tests.Conformance
{
    public enum CaseStatus { Passed, Failed, Unclaimed }

    /// <summary>What happened to one ONNX backend test case.</summary>
    public sealed record CaseResult(string Name, CaseStatus Status, string Reason, string? DiagnosticId = null);

    /// <summary>
    /// One case of the ONNX backend test data (libonnx-testdata): <c>model.onnx</c> plus
    /// <c>test_data_set_*/input_N.pb</c> and <c>output_N.pb</c>, serialized TensorProtos matched to the
    /// model's graph inputs and outputs by position, as onnx.backend.test.runner does.
    /// </summary>
    public static class ConformanceCase
    {
        /// <summary>
        /// numpy.testing.assert_allclose tolerances of onnx.backend.test.runner: onnx/backend/test/loader sets
        /// rtol = 1e-3, atol = 1e-7 for every case that ships its model.onnx (only the downloadable "real"
        /// models may override them in a data.json).
        /// </summary>
        public const double RelativeTolerance = 1e-3;

        public const double AbsoluteTolerance = 1e-7;

        /// <summary>Case folders (those holding a model.onnx) of a kind folder such as data/node.</summary>
        public static IEnumerable<string> Find(string kindFolder) =>
            Directory.GetDirectories(kindFolder)
                .Where(d => File.Exists(Path.Combine(d, "model.onnx")))
                .OrderBy(d => d, StringComparer.Ordinal);

        public static CaseResult Run(string caseFolder, string name)
        {
            ModelProto proto;
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(Path.Combine(caseFolder, "model.onnx"));
                proto = ModelProto.Parser.ParseFrom(bytes);
            }
            catch (Exception e)
            {
                return new CaseResult(name, CaseStatus.Failed, $"cannot read the model: {e.Message}");
            }

            var dataSets = Directory.GetDirectories(caseFolder, "test_data_set_*").OrderBy(d => d, StringComparer.Ordinal).ToList();
            if (dataSets.Count == 0)
                return new CaseResult(name, CaseStatus.Failed, "the case has no test_data_set_* folder");

            var failures = new List<string>();
            foreach (var dataSet in dataSets)
            {
                var outcome = RunDataSet(bytes, proto, name, dataSet);
                if (outcome.Status == CaseStatus.Unclaimed) return outcome;
                if (outcome.Status == CaseStatus.Failed) failures.Add($"{Path.GetFileName(dataSet)}: {outcome.Reason}");
            }
            return failures.Count == 0
                ? new CaseResult(name, CaseStatus.Passed, $"{dataSets.Count} data set(s)")
                : new CaseResult(name, CaseStatus.Failed, string.Join("; ", failures));
        }

        private static CaseResult RunDataSet(byte[] bytes, ModelProto proto, string name, string dataSet)
        {
            var graphInputs = proto.Graph.Input;
            var inputs = ReadTensors(dataSet, "input");
            var expected = ReadTensors(dataSet, "output");
            if (inputs.Count > graphInputs.Count)
                return new CaseResult(name, CaseStatus.Failed, $"{inputs.Count} input files for {graphInputs.Count} graph inputs");

            // Non-float inputs (shapes, axes, pads, ...) are fixed at build time: pin them to the test's values.
            // Float inputs are runtime inputs whose shapes come from the test data when the model leaves them open.
            var pinned = new Dictionary<string, TensorData>(StringComparer.Ordinal);
            var shapes = new Dictionary<string, int[]>(StringComparer.Ordinal);
            for (int i = 0; i < inputs.Count; i++)
            {
                var info = graphInputs[i];
                var (data, error) = inputs[i];
                var tensorType = info.Type?.TensorType;
                if (tensorType == null || tensorType.ElemType != (int)TensorProto.Types.DataType.Float)
                {
                    if (data != null) pinned[info.Name] = data;
                    continue;
                }
                if (data == null)
                    return new CaseResult(name, CaseStatus.Failed, $"cannot read float input #{i}: {error}");
                var dims = tensorType.Shape?.Dim;
                if (dims == null || dims.Any(d => !d.HasDimValue || d.DimValue <= 0))
                    shapes[info.Name] = data.Shape;
            }

            // A float input the importer needs constant (Pad's constant_value, Dropout's ratio) is a build-time
            // value too: pin it, as a user would, and import again.
            ImportResult result;
            while (true)
            {
                result = OnnxImporter.Import(bytes, name, new ImportOptions { PinnedInputs = pinned, InputShapes = shapes });
                if (result.Succeeded) break;
                var diagnostic = result.Diagnostics[0];
                var runtimeInput = NeedsConstant(diagnostic, graphInputs.Take(inputs.Count).Select(g => g.Name).Where(n => !pinned.ContainsKey(n)));
                if (runtimeInput == null)
                    return new CaseResult(name, CaseStatus.Unclaimed, diagnostic.Message, diagnostic.Id);
                int index = graphInputs.Select(g => g.Name).ToList().IndexOf(runtimeInput);
                pinned[runtimeInput] = inputs[index].Data!;
                shapes.Remove(runtimeInput);
            }

            var graph = result.Graph!;
            try
            {
                var executor = new FloatExecutor(graph);
                var feed = new Dictionary<string, float[]>(StringComparer.Ordinal);
                for (int i = 0; i < inputs.Count; i++)
                    if (!pinned.ContainsKey(graphInputs[i].Name))
                        feed[graphInputs[i].Name] = inputs[i].Data!.Floats!;
                var actual = executor.Run(feed);
                if (expected.Count != graph.Outputs.Count)
                    return new CaseResult(name, CaseStatus.Failed, $"{expected.Count} expected outputs, the graph has {graph.Outputs.Count}");
                var problems = new List<string>();
                for (int i = 0; i < expected.Count; i++)
                {
                    var output = graph.Outputs[i];
                    var (want, error) = expected[i];
                    string? problem = want == null ? $"cannot read output_{i}.pb: {error}" : Compare(output, actual[output.Name], want);
                    if (problem != null) problems.Add($"output '{output.Name}': {problem}");
                }
                return problems.Count == 0
                    ? new CaseResult(name, CaseStatus.Passed, "")
                    : new CaseResult(name, CaseStatus.Failed, string.Join("; ", problems));
            }
            catch (Exception e)
            {
                return new CaseResult(name, CaseStatus.Failed, $"{e.GetType().Name}: {e.Message}");
            }
        }

        private static readonly Regex RuntimeInput = new(@"takes its [\w ]+ from '(?<name>[^']+)', which is computed at run time", RegexOptions.Compiled);

        private static string? NeedsConstant(ModelDiagnostic diagnostic, IEnumerable<string> unpinnedInputs)
        {
            if (diagnostic.Id != DiagnosticCatalog.UnsupportedAttribute.Id) return null;
            var match = RuntimeInput.Match(diagnostic.Message);
            if (!match.Success) return null;
            string input = match.Groups["name"].Value;
            return unpinnedInputs.Contains(input) ? input : null;
        }

        private static List<(TensorData? Data, string? Error)> ReadTensors(string dataSet, string prefix)
        {
            var result = new List<(TensorData?, string?)>();
            for (int i = 0; ; i++)
            {
                var path = Path.Combine(dataSet, $"{prefix}_{i}.pb");
                if (!File.Exists(path)) return result;
                try
                {
                    result.Add((OnnxImporter.ReadTensor(File.ReadAllBytes(path), $"{prefix}_{i}.pb"), null));
                }
                catch (Exception e)
                {
                    result.Add((null, e.Message));
                }
            }
        }

        /// <summary>numpy.testing.assert_allclose: |actual − expected| ≤ atol + rtol·|expected|, NaN equal to NaN.</summary>
        private static string? Compare(Value output, float[] actual, TensorData expected)
        {
            if (expected.Type != ElementType.Float32)
                return $"expected {expected.Type} data, the executor computes float32";
            if (!expected.Shape.SequenceEqual(output.Shape))
                return $"shape {Shapes.Format(output.Shape)}, expected {Shapes.Format(expected.Shape)}";
            var want = expected.Floats!;
            int mismatches = 0, worst = -1;
            double worstExcess = 0;
            for (int i = 0; i < want.Length; i++)
            {
                double a = actual[i], e = want[i];
                if (double.IsNaN(a) || double.IsNaN(e))
                {
                    if (double.IsNaN(a) != double.IsNaN(e)) { mismatches++; worst = i; worstExcess = double.PositiveInfinity; }
                    continue;
                }
                if (double.IsInfinity(a) || double.IsInfinity(e))
                {
                    if (a != e) { mismatches++; worst = i; worstExcess = double.PositiveInfinity; }
                    continue;
                }
                double excess = Math.Abs(a - e) - (AbsoluteTolerance + RelativeTolerance * Math.Abs(e));
                if (excess > 0)
                {
                    mismatches++;
                    if (excess > worstExcess || worst < 0) { worstExcess = excess; worst = i; }
                }
            }
            if (mismatches == 0) return null;
            return string.Format(CultureInfo.InvariantCulture, "{0} of {1} elements differ beyond rtol={2}, atol={3}; worst at {4}: got {5:R}, expected {6:R}",
                mismatches, want.Length, RelativeTolerance, AbsoluteTolerance, worst, actual[worst], want[worst]);
        }
    }
}
