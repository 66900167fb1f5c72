using System;
using System.Collections.Generic;
using NetQuantGen.IR;

namespace NetQuantGen.Import
{
    /// <summary>What the caller tells the importer beyond the model bytes.</summary>
    public sealed class ImportOptions
    {
        /// <summary>Static shapes for inputs with dynamic dimensions, by input name.</summary>
        public IReadOnlyDictionary<string, int[]> InputShapes { get; set; } = new Dictionary<string, int[]>();

        /// <summary>A static shape for the first runtime input, for callers that do not know its name (the attribute's InputShape).</summary>
        public int[]? FirstInputShape { get; set; }

        /// <summary>Inputs whose values are fixed at build time (e.g. a Reshape's shape fed as an input).</summary>
        public IReadOnlyDictionary<string, TensorData> PinnedInputs { get; set; } = new Dictionary<string, TensorData>();

        /// <summary>
        /// Reads a byte range of an external-data file, given its full path (already checked to be inside
        /// the model's folder). Null when the caller has no file access: external data is then an error.
        /// </summary>
        public Func<string, long, long, byte[]>? ReadExternalData { get; set; }

        /// <summary>The folder that holds the model; external-data locations must stay inside it.</summary>
        public string? ModelDirectory { get; set; }
    }
}
