using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using NetQuantGen.Compiler;
using CompilationOptions = NetQuantGen.Compiler.CompilationOptions;
using NetQuantGen.Diagnostics;

namespace NetQuantGen.Generator
{
    // The values that flow through the incremental pipeline. They hold no ISymbol, SyntaxNode, Compilation
    // or Location (which would keep whole compilations alive and defeat caching): only equatable data.

    /// <summary>Where a diagnostic goes, as plain data; turned back into a <see cref="Location"/> when reported.</summary>
    internal sealed record LocationInfo(string FilePath, TextSpan TextSpan, LinePositionSpan LineSpan)
    {
        public Location ToLocation() => Location.Create(FilePath, TextSpan, LineSpan);

        public static LocationInfo? From(SyntaxNode? node) => node == null ? null : From(node.GetLocation());

        public static LocationInfo? From(Location? location) =>
            location?.SourceTree == null ? null
                : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }

    /// <summary>A diagnostic as plain data: a catalog kind, the full message and where it goes.</summary>
    internal sealed record DiagnosticInfo(DiagnosticKind Kind, string Message, LocationInfo? Location)
    {
        public bool IsError => Kind.Level == DiagnosticLevel.Error;

        public Diagnostic ToDiagnostic() => Diagnostic.Create(DiagnosticDescriptors.For(Kind), Location?.ToLocation(), Message);
    }

    /// <summary>
    /// One <c>[QuantizedModel]</c> use, as the parser reads it from the attributed class: the target class,
    /// the file paths as written, the options, the attribute's location and any problem found so far.
    /// </summary>
    internal sealed record ModelSpec(
        string? Namespace,
        string ClassName,
        string Accessibility,
        bool IsStatic,
        string OnnxPath,
        string? CalibrationPath,
        CompilationOptions Options,
        LocationInfo? AttributeLocation,
        EquatableArray<DiagnosticInfo> Diagnostics)
    {
        /// <summary>The class's full name, for messages.</summary>
        public string FullName => Namespace == null ? ClassName : Namespace + "." + ClassName;

        /// <summary>The generated file's hint name: <c>&lt;Namespace&gt;.&lt;Class&gt;.QuantizedModel.g.cs</c>.</summary>
        public string HintName => FullName + ".QuantizedModel.g.cs";

        public TargetClass ToTarget() => new(Namespace, ClassName, Accessibility, IsStatic);
    }

    /// <summary>A spec with its files found among the AdditionalFiles (or the reasons they were not).</summary>
    internal sealed record ResolvedModel(
        ModelSpec Spec,
        FileContent? Model,
        FileContent? Calibration,
        EquatableArray<DiagnosticInfo> Diagnostics);

    /// <summary>
    /// What <see cref="Compiler.ModelCompiler"/> needs, and nothing else: no location, so that moving the
    /// attribute (typing a line above it) does not compile the model again. <see cref="Blocked"/> when an
    /// earlier step found an error, in which case the compiler is not run.
    /// </summary>
    internal sealed record CompileRequest(
        string HintName,
        string ModelFileName,
        FileContent? Model,
        string? CalibrationFileName,
        FileContent? Calibration,
        CompilationOptions Options,
        TargetClass Target,
        bool Blocked);

    /// <summary>The compiler's answer: the source (null after an error) and its diagnostics, not yet located.</summary>
    internal sealed record CompiledModel(string HintName, string? Source, EquatableArray<ModelDiagnostic> Diagnostics);

    /// <summary>Where a model's diagnostics go, and those found before the compiler ran.</summary>
    internal sealed record ModelReport(string HintName, LocationInfo? Location, EquatableArray<DiagnosticInfo> Diagnostics);
}
