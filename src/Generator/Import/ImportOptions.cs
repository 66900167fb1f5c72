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

        /// <summary>
        /// Most bytes the declared initializers and Constant tensors may hold together, checked from the declared
        /// dimensions before any tensor is read (a hostile file can declare 2^40 elements in a few bytes).
        /// The default, 1 GiB, is far above what a model whose weights are baked into an assembly can use.
        /// </summary>
        public long MaxTensorBytes { get; set; } = DefaultMaxTensorBytes;

        /// <summary>Most nodes a graph may have (the generated code has a method per layer).</summary>
        public int MaxNodes { get; set; } = DefaultMaxNodes;

        /// <summary>Longest chain of nodes from an input to an output.</summary>
        public int MaxGraphDepth { get; set; } = DefaultMaxGraphDepth;

        public const long DefaultMaxTensorBytes = 1L << 30;
        public const int DefaultMaxNodes = 20_000;
        public const int DefaultMaxGraphDepth = 5_000;
    }
}
