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

    /// <summary>What the source output adds: the generated source (null after an error) and the diagnostics.</summary>
    internal sealed record ModelOutput(string HintName, string? Source, EquatableArray<DiagnosticInfo> Diagnostics);
}
