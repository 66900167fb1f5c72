using System;
using System.IO;
using System.Linq;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace NetQuantGen.Tests.Conformance
{
    /// <summary>
    /// The ONNX backend cases of the quantization operators (QuantizeLinear, DequantizeLinear, QLinearConv,
    /// QLinearMatMul, ConvInteger, MatMulInteger, DynamicQuantizeLinear) through the quantized-model import and
    /// the integer reference executor. Every case must reproduce ONNX's integers exactly; none may be refused.
    /// </summary>
    public sealed class QuantizedConformanceTests
    {
        private const string NodeCases = "/usr/share/libonnx-testdata/data/node";

        private readonly ITestOutputHelper _output;

        public QuantizedConformanceTests(ITestOutputHelper output) => _output = output;

        [Fact]
        public void EveryQuantizationOperatorCasePassesThroughTheIntegerReference()
        {
            var folder = Repository.RequireDebianFolder(NodeCases, "libonnx-testdata");
            var results = ConformanceCase.Find(folder)
                .Where(QuantizedConformanceCase.IsQuantizationCase)
                .Select(c => QuantizedConformanceCase.Run(c, Path.GetFileName(c)))
                .ToList();
            var report = new StringBuilder();
            report.AppendLine($"Quantization operators, {results.Count} cases: passed {results.Count(r => r.Status == CaseStatus.Passed)}, failed {results.Count(r => r.Status == CaseStatus.Failed)}, unclaimed {results.Count(r => r.Status == CaseStatus.Unclaimed)}");
            foreach (var r in results) report.AppendLine($"  {r.Status,-9} {r.Name}{(r.DiagnosticId != null ? " " + r.DiagnosticId : "")} {r.Reason}");
            _output.WriteLine(report.ToString());

            Assert.Equal(QuantizedConformanceCase.Operators.OrderBy(o => o),
                results.Select(r => r.Name).Select(OperatorOf).Distinct().OrderBy(o => o));
            Assert.Equal(14, results.Count);
            Assert.All(results, r => Assert.True(r.Status == CaseStatus.Passed, $"{r.Name}: {r.Status} {r.DiagnosticId} {r.Reason}"));
        }

        private static string OperatorOf(string caseName) => caseName switch
        {
            var n when n.Contains("convinteger") => "ConvInteger",
            var n when n.Contains("matmulinteger") => "MatMulInteger",
            var n when n.Contains("dynamicquantizelinear") => "DynamicQuantizeLinear",
            var n when n.Contains("dequantizelinear") => "DequantizeLinear",
            var n when n.Contains("quantizelinear") => "QuantizeLinear",
            var n when n.Contains("qlinearconv") => "QLinearConv",
            var n when n.Contains("qlinearmatmul") => "QLinearMatMul",
            _ => caseName,
        };
    }
}
