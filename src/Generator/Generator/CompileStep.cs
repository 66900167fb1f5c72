using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;

namespace NetQuantGen.Generator
{
    /// <summary>The pipeline's last two steps: run <see cref="ModelCompiler"/> on a resolved model, and add what it produced.</summary>
    internal static class CompileStep
    {
        /// <summary>
        /// Compiles the model unless an earlier step found an error. Never throws: <see cref="ModelCompiler"/>
        /// turns its own failures into diagnostics, and anything else becomes an internal-error diagnostic.
        /// </summary>
        public static ModelOutput Compile(ResolvedModel resolved)
        {
            var spec = resolved.Spec;
            var diagnostics = new List<DiagnosticInfo>(spec.Diagnostics);
            diagnostics.AddRange(resolved.Diagnostics);
            if (diagnostics.Any(d => d.IsError) || resolved.Model == null)
                return new ModelOutput(spec.HintName, null, new EquatableArray<DiagnosticInfo>(diagnostics));

            string? source = null;
            try
            {
                var input = new ModelInput(
                    spec.OnnxPath,
                    resolved.Model.ToArray(),
                    resolved.Calibration == null ? null : spec.CalibrationPath,
                    resolved.Calibration?.ToArray(),
                    spec.Options,
                    spec.ToTarget());
                var result = ModelCompiler.Compile(input);
                diagnostics.AddRange(result.Diagnostics.Select(d => new DiagnosticInfo(d.Kind, d.Message, spec.AttributeLocation)));
                source = result.Source;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                diagnostics.Add(new DiagnosticInfo(DiagnosticCatalog.InternalError,
                    $"Model '{spec.OnnxPath}': the compiler failed unexpectedly ({e.GetType().Name}: {e.Message}). Please report this with the model.",
                    spec.AttributeLocation));
            }
            // No half-written output: an error anywhere means no source.
            if (diagnostics.Any(d => d.IsError)) source = null;
            return new ModelOutput(spec.HintName, source, new EquatableArray<DiagnosticInfo>(diagnostics));
        }

        public static void AddOutput(SourceProductionContext context, ModelOutput output)
        {
            foreach (var diagnostic in output.Diagnostics)
                context.ReportDiagnostic(diagnostic.ToDiagnostic());
            if (output.Source == null) return;
            try
            {
                context.AddSource(output.HintName, SourceText.From(output.Source, Encoding.UTF8));
            }
            catch (ArgumentException)
            {
                // The same class attributed twice (partial declarations): C# already reports CS0579.
            }
        }
    }
}
