using System;
using Microsoft.CodeAnalysis;

namespace NetQuantGen.Generator
{
    /// <summary>
    /// Compiles every class marked <c>[QuantizedModel("x.onnx")]</c> into integer-only C#. This type only
    /// wires the incremental pipeline; each step lives in its own class:
    /// <list type="number">
    /// <item><see cref="Parser"/>: attribute + class → equatable <see cref="ModelSpec"/> (validated arguments).</item>
    /// <item><see cref="AdditionalFileReader"/>: each .onnx/.calib AdditionalFile → <see cref="FileContent"/> (bytes + SHA-256).</item>
    /// <item><see cref="InputResolver"/>: spec + files + project folder → <see cref="ResolvedModel"/>.</item>
    /// <item><see cref="CompileStep"/>: a location-free request → <see cref="Compiler.ModelCompiler"/> → source; diagnostics at the attribute.</item>
    /// </list>
    /// Editing unrelated code leaves every model step cached, so the compiler does not run again.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class QuantizedModelGenerator : IIncrementalGenerator
    {
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            var specs = context.SyntaxProvider
                .ForAttributeWithMetadataName(Parser.AttributeMetadataName, Parser.IsCandidate, Parser.Parse)
                .Where(static spec => spec != null)
                .Select(static (spec, _) => spec!)
                .WithTrackingName(TrackingNames.ModelSpecs);

            var files = context.AdditionalTextsProvider
                .Where(static text => AdditionalFileReader.IsGeneratorInput(text.Path))
                .Select(static (text, cancellationToken) => AdditionalFileReader.Read(text, cancellationToken))
                .WithTrackingName(TrackingNames.AdditionalFiles)
                .Collect()
                .Select(static (all, _) => new EquatableArray<FileContent>(all))
                .WithTrackingName(TrackingNames.CollectedFiles);

            var settings = context.AnalyzerConfigOptionsProvider
                .Select(static (provider, _) => GeneratorSettings.From(provider.GlobalOptions))
                .WithTrackingName(TrackingNames.Settings);

            var resolved = specs
                .Combine(files.Combine(settings))
                .Select(static (input, _) => InputResolver.Resolve(input.Left, input.Right.Left, input.Right.Right.ProjectDirectory))
                .WithTrackingName(TrackingNames.ResolvedModels);

            // The compiler sees no location: moving the attribute does not recompile the model.
            var compiled = resolved
                .Select(static (model, _) => CompileStep.ToRequest(model))
                .WithTrackingName(TrackingNames.CompileRequests)
                .Select(static (request, _) => CompileStep.Compile(request))
                .WithTrackingName(TrackingNames.CompiledModels);
            context.RegisterSourceOutput(compiled, CompileStep.AddSource);

            var reports = resolved
                .Select(static (model, _) => CompileStep.ToReport(model))
                .WithTrackingName(TrackingNames.Reports);
            context.RegisterSourceOutput(reports.Collect().Combine(compiled.Collect()), CompileStep.ReportDiagnostics);
        }
    }

    /// <summary>The names of the pipeline steps, so tests can check what was cached.</summary>
    public static class TrackingNames
    {
        /// <summary>One <see cref="ModelSpec"/> per attributed class.</summary>
        public const string ModelSpecs = "NetQuantGen.ModelSpecs";

        /// <summary>One <see cref="FileContent"/> per .onnx/.calib AdditionalFile.</summary>
        public const string AdditionalFiles = "NetQuantGen.AdditionalFiles";

        /// <summary>All of them, as one equatable array.</summary>
        public const string CollectedFiles = "NetQuantGen.CollectedFiles";

        /// <summary>The global options the generator reads (the project folder).</summary>
        public const string Settings = "NetQuantGen.Settings";

        /// <summary>Specs with their files found.</summary>
        public const string ResolvedModels = "NetQuantGen.ResolvedModels";

        /// <summary>What the compiler is given (no location).</summary>
        public const string CompileRequests = "NetQuantGen.CompileRequests";

        /// <summary>The output of <see cref="Compiler.ModelCompiler"/>: the step that must stay cached on unrelated edits.</summary>
        public const string CompiledModels = "NetQuantGen.CompiledModels";

        /// <summary>Each model's attribute location and the diagnostics found before compiling.</summary>
        public const string Reports = "NetQuantGen.Reports";
    }

    /// <summary>The MSBuild properties the generator reads, as equatable data.</summary>
    internal sealed record GeneratorSettings(string? ProjectDirectory)
    {
        /// <summary>The project folder; the .NET SDK makes ProjectDir compiler-visible by default.</summary>
        public const string ProjectDirectoryKey = "build_property.projectdir";

        public static GeneratorSettings From(Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions options)
        {
            string? projectDirectory = options.TryGetValue(ProjectDirectoryKey, out var dir) && !string.IsNullOrWhiteSpace(dir) ? dir : null;
            return new GeneratorSettings(projectDirectory);
        }
    }
}
