using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;

namespace NetQuantGen.Generator
{
    /// <summary>
    /// The pipeline's last steps: a location-free request, <see cref="ModelCompiler"/> on it, the generated
    /// source, and every diagnostic placed on the attribute.
    /// </summary>
    internal static class CompileStep
    {
        public static CompileRequest ToRequest(ResolvedModel resolved)
        {
            var spec = resolved.Spec;
            bool blocked = resolved.Model == null || spec.Diagnostics.Any(d => d.IsError) || resolved.Diagnostics.Any(d => d.IsError);
            return new CompileRequest(
                spec.HintName,
                spec.OnnxPath,
                blocked ? null : resolved.Model,
                resolved.Calibration == null ? null : spec.CalibrationPath,
                blocked ? null : resolved.Calibration,
                spec.Options,
                spec.ToTarget(),
                blocked);
        }

        public static ModelReport ToReport(ResolvedModel resolved) => new(
            resolved.Spec.HintName,
            resolved.Spec.AttributeLocation,
            new EquatableArray<DiagnosticInfo>(resolved.Spec.Diagnostics.Concat(resolved.Diagnostics)));

        /// <summary>
        /// Runs the compiler unless the request is blocked. Never throws: <see cref="ModelCompiler"/> turns its
        /// own failures into diagnostics, and anything else becomes an internal-error diagnostic.
        /// </summary>
        public static CompiledModel Compile(CompileRequest request)
        {
            if (request.Blocked || request.Model == null)
                return new CompiledModel(request.HintName, null, EquatableArray<ModelDiagnostic>.Empty);
            var diagnostics = new List<ModelDiagnostic>();
            string? source = null;
            try
            {
                var input = new ModelInput(
                    request.ModelFileName,
                    request.Model.ToArray(),
                    request.CalibrationFileName,
                    request.Calibration?.ToArray(),
                    request.Options,
                    request.Target);
                var result = ModelCompiler.Compile(input);
                diagnostics.AddRange(result.Diagnostics);
                source = result.Source;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.InternalError,
                    $"Model '{request.ModelFileName}': the compiler failed unexpectedly ({e.GetType().Name}: {e.Message}). Please report this with the model."));
            }
            // No half-written output: an error anywhere means no source.
            if (diagnostics.Any(d => d.Kind.Level == DiagnosticLevel.Error)) source = null;
            return new CompiledModel(request.HintName, source, new EquatableArray<ModelDiagnostic>(diagnostics));
        }

        public static void AddSource(SourceProductionContext context, CompiledModel model)
        {
            if (model.Source == null) return;
            try
            {
                context.AddSource(model.HintName, SourceText.From(model.Source, Encoding.UTF8));
            }
            catch (ArgumentException)
            {
                // The same class attributed twice (partial declarations): C# already reports CS0579.
            }
        }

        /// <summary>Reports each model's diagnostics, the compiler's ones at the attribute of the class they belong to.</summary>
        public static void ReportDiagnostics(SourceProductionContext context, (ImmutableArray<ModelReport> Reports, ImmutableArray<CompiledModel> Compiled) input)
        {
            foreach (var report in input.Reports)
            {
                foreach (var diagnostic in report.Diagnostics)
                    context.ReportDiagnostic(diagnostic.ToDiagnostic());
                foreach (var compiled in input.Compiled.Where(c => c.HintName == report.HintName).Take(1))
                    foreach (var diagnostic in compiled.Diagnostics)
                        context.ReportDiagnostic(new DiagnosticInfo(diagnostic.Kind, diagnostic.Message, report.Location).ToDiagnostic());
            }
        }
    }
}
