using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using NetQuantGen.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace NetQuantGen.Tests.Conformance
{
    /// <summary>
    /// The float reference executor against the ONNX backend conformance tests shipped by Debian's
    /// libonnx-testdata. Every case the importer accepts ("claims") must pass within the ONNX runner's
    /// tolerances; every case it refuses is listed with the diagnostic that says why.
    /// </summary>
    public sealed class OnnxConformanceTests
    {
        private const string DataRoot = "/usr/share/libonnx-testdata/data";
        private static readonly string[] Kinds = { "node", "pytorch-converted", "pytorch-operator" };

        /// <summary>A floor so that an importer that wrongly refuses everything cannot pass by claiming nothing.</summary>
        private const int MinimumPassed = 200;

        private readonly ITestOutputHelper _output;

        public OnnxConformanceTests(ITestOutputHelper output) => _output = output;

        [Fact]
        public void EveryClaimedConformanceCasePassesWithinOnnxTolerances()
        {
            Repository.RequireDebianFolder(DataRoot, "libonnx-testdata");
            var watch = Stopwatch.StartNew();
            var results = new List<CaseResult>();
            foreach (var kind in Kinds)
            {
                var folder = Repository.RequireDebianFolder(Path.Combine(DataRoot, kind), "libonnx-testdata");
                foreach (var caseFolder in ConformanceCase.Find(folder))
                    results.Add(ConformanceCase.Run(caseFolder, $"{kind}/{Path.GetFileName(caseFolder)}"));
            }

            var passed = results.Where(r => r.Status == CaseStatus.Passed).ToList();
            var failed = results.Where(r => r.Status == CaseStatus.Failed).ToList();
            var unclaimed = results.Where(r => r.Status == CaseStatus.Unclaimed).ToList();
            var report = new StringBuilder();
            report.AppendLine($"ONNX conformance ({DataRoot}/{{{string.Join(",", Kinds)}}}), {watch.Elapsed.TotalSeconds:F1} s:");
            report.AppendLine($"  found {results.Count}, claimed {passed.Count + failed.Count}, passed {passed.Count}, failed {failed.Count}, unclaimed {unclaimed.Count}");
            report.AppendLine($"  tolerances: rtol={ConformanceCase.RelativeTolerance}, atol={ConformanceCase.AbsoluteTolerance} (onnx.backend.test.runner defaults)");
            report.AppendLine("Unclaimed by reason:");
            foreach (var group in unclaimed.GroupBy(r => r.DiagnosticId ?? "?").OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var kind = DiagnosticCatalog.All.FirstOrDefault(k => k.Id == group.Key);
                report.AppendLine($"  {group.Key} {kind?.Title}: {group.Count()}");
                if (group.Key == DiagnosticCatalog.UnsupportedOperator.Id)
                {
                    // Hundreds of cases: one line per operator.
                    var byOperator = group.GroupBy(r => OperatorOf(r.Reason)).OrderBy(g => g.Key, StringComparer.Ordinal)
                        .Select(g => $"{g.Key}×{g.Count()}");
                    report.AppendLine("    " + string.Join(", ", byOperator));
                }
                else
                    foreach (var r in group)
                        report.AppendLine($"    {r.Name}: {Shorten(r.Reason)}");
            }
            if (failed.Count > 0)
            {
                report.AppendLine("FAILED (claimed):");
                foreach (var r in failed) report.AppendLine($"  {r.Name}: {r.Reason}");
            }
            report.AppendLine("Passed: " + string.Join(", ", passed.Select(r => r.Name)));

            string text = report.ToString();
            _output.WriteLine(text);
            Console.WriteLine(text);

            Assert.True(failed.Count == 0, $"{failed.Count} claimed conformance cases failed:\n" + string.Join("\n", failed.Select(r => $"  {r.Name}: {r.Reason}")));
            Assert.True(passed.Count >= MinimumPassed,
                $"only {passed.Count} cases were claimed and passed (expected at least {MinimumPassed}): is the importer refusing models it supports?");
        }

        private static readonly Regex OperatorName = new(@"uses operator '(?<op>[^']+)'", RegexOptions.Compiled);

        private static string OperatorOf(string message)
        {
            var m = OperatorName.Match(message);
            return m.Success ? m.Groups["op"].Value : "?";
        }

        /// <summary>Drops the "Model 'name': " prefix the case name already gives.</summary>
        private static string Shorten(string message)
        {
            int i = message.IndexOf("': ", StringComparison.Ordinal);
            return message.StartsWith("Model '", StringComparison.Ordinal) && i > 0 ? message.Substring(i + 3) : message;
        }
    }
}
