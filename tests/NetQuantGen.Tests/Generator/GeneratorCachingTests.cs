using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using NetQuantGen.Generator;
using Xunit;
using static NetQuantGen.Tests.Generator.GeneratorTestInputs;

namespace NetQuantGen.Tests.Generator
{
    /// <summary>
    /// The incremental pipeline caches: an edit that does not touch a model's attribute or files leaves every
    /// model step cached, so ModelCompiler (seconds on a real model) does not run again on each keystroke.
    /// </summary>
    public class GeneratorCachingTests
    {
        private static readonly string[] ModelSteps =
        {
            TrackingNames.ModelSpecs, TrackingNames.AdditionalFiles, TrackingNames.CollectedFiles,
            TrackingNames.ResolvedModels, TrackingNames.CompileRequests, TrackingNames.CompiledModels, TrackingNames.Reports,
        };

        private static GeneratorDriverHarness StartedHarness(out GeneratorRunResult first)
        {
            var harness = new GeneratorDriverHarness();
            var model = AllBytesModel();
            harness.AddFile(ModelPath, model);
            harness.AddFile(CalibrationPath, Statistics(model));
            harness.SetSource("Tiny.cs", Source(CalibratedArguments));
            harness.SetSource("Other.cs", "namespace Demo { public static class Other { public static int Value => 1; } }");
            first = harness.Run();
            return harness;
        }

        private static void AssertNotRecomputed(GeneratorRunResult result)
        {
            foreach (var step in ModelSteps)
            {
                var outputs = GeneratorDriverHarness.StepOutputs(result, step);
                Assert.True(outputs.Count > 0, $"step {step} did not report");
                Assert.All(outputs, o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
                    $"step {step} reported {o.Reason}"));
            }
            // Cached (not merely Unchanged): the compile step's transform, i.e. ModelCompiler, did not run.
            Assert.All(GeneratorDriverHarness.StepOutputs(result, TrackingNames.CompiledModels), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
            Assert.All(GeneratorDriverHarness.StepOutputs(result, TrackingNames.AdditionalFiles), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
        }

        [Fact]
        public void FirstRunComputesEveryStep()
        {
            using var harness = StartedHarness(out var first);
            foreach (var step in ModelSteps)
                Assert.All(GeneratorDriverHarness.StepOutputs(first, step), o => Assert.Equal(IncrementalStepRunReason.New, o.Reason));
            Assert.Equal(HintName, CompiledOutput(first).HintName);
            AssertCompiled(first, ModelPath, Sha256(AllBytesModel()));
        }

        [Fact]
        public void AddingAnUnrelatedFileLeavesTheModelCached()
        {
            using var harness = StartedHarness(out _);
            harness.SetSource("Added.cs", "namespace Demo { public static class Added { } }");
            AssertNotRecomputed(harness.Run());
        }

        [Fact]
        public void EditingAnUnrelatedFileLeavesTheModelCached()
        {
            using var harness = StartedHarness(out _);
            harness.SetSource("Other.cs", "namespace Demo { public static class Other { public static int Value => 2; } }");
            AssertNotRecomputed(harness.Run());
            harness.SetSource("Other.cs", "namespace Demo { public static class Other { public static int Value => 3; public static int More => 4; } }");
            AssertNotRecomputed(harness.Run());
        }

        [Fact]
        public void EditingTheAttributedFileBelowTheAttributeDoesNotRecompile()
        {
            using var harness = StartedHarness(out _);
            harness.SetSource("Tiny.cs", Source(CalibratedArguments) + "\n// an edit after the class\nnamespace Demo { static class Helper { } }\n");
            var result = harness.Run();
            // The spec is parsed again but comes out equal; everything after it is cached.
            Assert.All(GeneratorDriverHarness.StepOutputs(result, TrackingNames.ModelSpecs),
                o => Assert.True(o.Reason is IncrementalStepRunReason.Unchanged or IncrementalStepRunReason.Cached, o.Reason.ToString()));
            Assert.All(GeneratorDriverHarness.StepOutputs(result, TrackingNames.CompiledModels), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
        }

        [Fact]
        public void MovingTheAttributeMovesItsDiagnosticsWithoutRecompiling()
        {
            using var harness = new GeneratorDriverHarness();
            harness.AddFile(ModelPath, AllBytesModel());
            harness.SetSource("Tiny.cs", Source()); // no statistics: the compiler warns
            var first = harness.Run();
            var warning = Assert.Single(first.Diagnostics);
            Assert.Equal(NetQuantGen.Diagnostics.DiagnosticCatalog.MissingStatistics.Id, warning.Id);

            var tree = harness.SetSource("Tiny.cs", "// two new lines\n// above the attribute\n" + Source());
            var result = harness.Run();
            Assert.All(GeneratorDriverHarness.StepOutputs(result, TrackingNames.ModelSpecs), o => Assert.Equal(IncrementalStepRunReason.Modified, o.Reason));
            Assert.All(GeneratorDriverHarness.StepOutputs(result, TrackingNames.CompileRequests), o => Assert.Equal(IncrementalStepRunReason.Unchanged, o.Reason));
            Assert.All(GeneratorDriverHarness.StepOutputs(result, TrackingNames.CompiledModels), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
            var moved = Assert.Single(result.Diagnostics);
            Assert.Equal(warning.Id, moved.Id);
            Assert.Equal(warning.Location.GetLineSpan().StartLinePosition.Line + 2, moved.Location.GetLineSpan().StartLinePosition.Line);
            GeneratorDriverHarness.AssertOnAttribute(moved, tree);
        }

        [Fact]
        public void ChangingTheModelBytesRecompiles()
        {
            using var harness = StartedHarness(out var first);
            var files = FilesRead(first);
            string oldSha = Assert.Single(files, f => f.Path.EndsWith(".onnx", StringComparison.Ordinal)).Sha256;

            // A new model with the old statistics: the compiler runs again and finds them stale.
            var changed = AllBytesModel(weightScale: 0.02f);
            harness.ReplaceFile(ModelPath, changed);
            var result = harness.Run();
            var read = Assert.Single(GeneratorDriverHarness.StepOutputs(result, TrackingNames.AdditionalFiles), o => o.Reason == IncrementalStepRunReason.Modified);
            Assert.Equal(Sha256(changed), ((FileContent)read.Value).Sha256);
            Assert.NotEqual(oldSha, ((FileContent)read.Value).Sha256);
            Assert.All(GeneratorDriverHarness.StepOutputs(result, TrackingNames.ResolvedModels), o => Assert.Equal(IncrementalStepRunReason.Modified, o.Reason));
            Assert.All(GeneratorDriverHarness.StepOutputs(result, TrackingNames.CompiledModels), o => Assert.Equal(IncrementalStepRunReason.Modified, o.Reason));
            Assert.Contains(result.Diagnostics, d => d.Id == NetQuantGen.Diagnostics.DiagnosticCatalog.StaleStatistics.Id);

            // Recalibrated: compiled again, and the header names the new bytes.
            harness.ReplaceFile(CalibrationPath, Statistics(changed));
            result = harness.Run();
            Assert.All(GeneratorDriverHarness.StepOutputs(result, TrackingNames.CompiledModels), o => Assert.Equal(IncrementalStepRunReason.Modified, o.Reason));
            AssertCompiled(result, ModelPath, Sha256(changed));
        }

        [Fact]
        public void RewritingTheModelWithTheSameBytesDoesNotRecompile()
        {
            using var harness = StartedHarness(out _);
            harness.ReplaceFile(ModelPath, AllBytesModel());
            var result = harness.Run();
            // The model is read again (its AdditionalText is new) but its hash is the same: nothing downstream reruns.
            var reads = GeneratorDriverHarness.StepOutputs(result, TrackingNames.AdditionalFiles);
            Assert.Equal(IncrementalStepRunReason.Unchanged, Assert.Single(reads, o => ((FileContent)o.Value).Path.EndsWith(".onnx", StringComparison.Ordinal)).Reason);
            Assert.Equal(IncrementalStepRunReason.Cached, Assert.Single(reads, o => ((FileContent)o.Value).Path.EndsWith(".calib", StringComparison.Ordinal)).Reason);
            Assert.All(GeneratorDriverHarness.StepOutputs(result, TrackingNames.CompiledModels), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
        }

        [Fact]
        public void ChangingAnArgumentRecompiles()
        {
            using var harness = StartedHarness(out _);
            harness.SetSource("Tiny.cs", Source(CalibratedArguments + ", WeightBits = 4"));
            var result = harness.Run();
            Assert.All(GeneratorDriverHarness.StepOutputs(result, TrackingNames.ModelSpecs), o => Assert.Equal(IncrementalStepRunReason.Modified, o.Reason));
            Assert.All(GeneratorDriverHarness.StepOutputs(result, TrackingNames.CompiledModels),
                o => Assert.NotEqual(IncrementalStepRunReason.Cached, o.Reason));
        }

        /// <summary>
        /// No pipeline value may hold a symbol, syntax node, compilation or location: they keep whole
        /// compilations alive and never compare equal across runs (dotnet/runtime checks its generators the same way).
        /// </summary>
        [Fact]
        public void PipelineValuesHoldNoCompilerObjects()
        {
            using var harness = StartedHarness(out var first);
            var forbidden = new[] { typeof(ISymbol), typeof(SyntaxNode), typeof(SyntaxTree), typeof(Compilation), typeof(SemanticModel), typeof(Location), typeof(AttributeData) };
            var ours = typeof(TrackingNames).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (string)f.GetValue(null)!).ToList();
            Assert.All(ours, name => Assert.True(first.TrackedSteps.ContainsKey(name), $"no step is named {name}"));
            foreach (var (name, steps) in first.TrackedSteps.Where(p => ours.Contains(p.Key)))
                foreach (var step in steps)
                    foreach (var (value, _) in step.Outputs)
                        AssertGraph(value, forbidden, name, new HashSet<object>(ReferenceEqualityComparer.Instance), depth: 0);
        }

        private static void AssertGraph(object? value, Type[] forbidden, string path, HashSet<object> seen, int depth)
        {
            if (value == null || depth > 12) return;
            var type = value.GetType();
            Assert.False(forbidden.Any(f => f.IsAssignableFrom(type)), $"{path} holds a {type.FullName}");
            if (type.IsPrimitive || type.IsEnum || value is string || value is decimal) return;
            if (!type.IsValueType && !seen.Add(value)) return;
            if (value is IEnumerable sequence)
            {
                if (value is IEnumerable<byte>) return;
                int i = 0;
                foreach (var item in sequence)
                    AssertGraph(item, forbidden, $"{path}[{i++}]", seen, depth + 1);
                return;
            }
            if (type.Namespace != null && type.Namespace.StartsWith("Microsoft.CodeAnalysis.Text", StringComparison.Ordinal)) return; // TextSpan, LinePositionSpan
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                AssertGraph(field.GetValue(value), forbidden, $"{path}.{field.Name}", seen, depth + 1);
        }
    }
}
