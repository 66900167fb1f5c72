using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using NetQuantGen.Diagnostics;

namespace NetQuantGen.Generator
{
    /// <summary>
    /// Roslyn descriptors for the kinds in <see cref="DiagnosticCatalog"/>. The catalog alone defines IDs,
    /// titles and levels; this only maps them. Every message is complete (it names the model, the node and
    /// what to do), so the format is just "{0}".
    /// </summary>
    internal static class DiagnosticDescriptors
    {
        public const string Category = "NetQuantGen";

        private static readonly Dictionary<string, DiagnosticDescriptor> ById =
            DiagnosticCatalog.All.ToDictionary(k => k.Id, Create, StringComparer.Ordinal);

        /// <summary>Every descriptor, in catalog order.</summary>
        public static IReadOnlyList<DiagnosticDescriptor> All { get; } = DiagnosticCatalog.All.Select(k => ById[k.Id]).ToArray();

        public static DiagnosticDescriptor For(DiagnosticKind kind) =>
            ById.TryGetValue(kind.Id, out var descriptor) ? descriptor : Create(kind);

        private static DiagnosticDescriptor Create(DiagnosticKind kind) => new(
            id: kind.Id,
            title: kind.Title,
            messageFormat: "{0}",
            category: Category,
            defaultSeverity: Severity(kind.Level),
            isEnabledByDefault: true);

        public static DiagnosticSeverity Severity(DiagnosticLevel level) => level switch
        {
            DiagnosticLevel.Error => DiagnosticSeverity.Error,
            DiagnosticLevel.Warning => DiagnosticSeverity.Warning,
            _ => DiagnosticSeverity.Info,
        };
    }
}
