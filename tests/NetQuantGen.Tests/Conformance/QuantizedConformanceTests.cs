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
    /// the integer reference executor. Claimed cases must reproduce ONNX's integers exactly; the others are
    /// listed with the diagnostic a user would get.
    /// </summary>
    public sealed class QuantizedConformanceTests
    {
        private const string NodeCases = "/usr/share/libonnx-testdata/data/node";

        private readonly ITestOutputHelper _output;

        public QuantizedConformanceTests(ITestOutputHelper output) => _output = output;

        [Fact]
        public void EveryClaimedQuantizationCasePassesThroughTheIntegerReference()
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
            Assert.DoesNotContain(results, r => r.Status == CaseStatus.Failed);
            foreach (var passing in new[] { "test_quantizelinear", "test_dequantizelinear" })
                Assert.Equal(CaseStatus.Passed, results.Single(r => r.Name == passing).Status);
            // Everything refused is refused for a reason the user can act on (NQG0052), never as an internal error.
            Assert.All(results.Where(r => r.Status == CaseStatus.Unclaimed), r => Assert.Contains(r.DiagnosticId, new[] { "NQG0052", "NQG0003" }));
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
