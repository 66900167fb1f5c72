using System.Collections.Generic;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;

namespace NetQuantGen.Import
{
    /// <summary>The imported graph, or the diagnostics that explain why there is none.</summary>
    public sealed class ImportResult
    {
        public ImportResult(Graph? graph, IReadOnlyList<ModelDiagnostic> diagnostics)
        {
            Graph = graph;
            Diagnostics = diagnostics;
        }

        public Graph? Graph { get; }

        public IReadOnlyList<ModelDiagnostic> Diagnostics { get; }

        public bool Succeeded => Graph != null;
    }
}
