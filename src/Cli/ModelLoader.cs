using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using NetQuantGen.Calibration;
using NetQuantGen.Diagnostics;
using NetQuantGen.Import;
using NetQuantGen.IR;
using NetQuantGen.Passes;
using NetQuantGen.Quantization;

namespace NetQuantGen.Cli
{
    /// <summary>A model imported and run through the float passes, with what the statistics file records about it.</summary>
    internal sealed class LoadedModel
    {
        public LoadedModel(string path, byte[] bytes, Graph graph, PassReport passes, QdqModel? quantized)
        {
            Path = path;
            Bytes = bytes;
            Graph = graph;
            Passes = passes;
            Quantized = quantized;
            Sha256 = ModelHash.Sha256Hex(bytes);
        }

        /// <summary>The quantization a quantized (QDQ/QOperator) model carries, or null for a float model.</summary>
        public QdqModel? Quantized { get; }

        /// <summary>The path as the user gave it (used as the prefix of messages).</summary>
        public string Path { get; }

        public string FileName => System.IO.Path.GetFileName(Path);

        public byte[] Bytes { get; }

        public string Sha256 { get; }

        /// <summary>The graph after the float passes.</summary>
        public Graph Graph { get; }

        public PassReport Passes { get; }
    }

    /// <summary>Reads, imports and transforms a model the way the generator does, printing diagnostics compiler-style.</summary>
    internal static class ModelLoader
    {
        /// <summary>The model's and the statistics file's bytes; false, after saying why, when either cannot be read.</summary>
        public static bool TryReadModelAndStatistics(string modelPath, string statsPath, Output output, out byte[] modelBytes, out byte[] statsBytes)
        {
            try
            {
                modelBytes = File.ReadAllBytes(modelPath);
                statsBytes = File.ReadAllBytes(statsPath);
                return true;
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                output.Fail(null, e.Message);
                modelBytes = statsBytes = Array.Empty<byte>();
                return false;
            }
        }

        /// <summary>The --input-shape option text, shared by the commands.</summary>
        public const string InputShapeHelp =
            "Static shape for a dynamic input, e.g. 1,3,32,32 (or 1x3x32x32); NAME=1,3,32,32 names the input. Repeatable.";

        public const string PassesHelp =
            "Float passes to run, in order, comma-separated, or 'none' (default: remove-identity,fold-batchnorm,fuse-activation).";

        /// <summary>Parses --passes ("none" for no pass); unknown names are a usage error.</summary>
        public static IReadOnlyList<string> ParsePasses(string? text, CommandSpec command)
        {
            if (text == null) return PassPipeline.DefaultOrder;
            if (text.Trim().Length == 0 || text.Trim() == "none") return Array.Empty<string>();
            var names = text.Split(',').Select(n => n.Trim()).Where(n => n.Length > 0).ToList();
            foreach (var name in names)
                if (!PassPipeline.KnownPasses.Contains(name))
                    throw new UsageException($"unknown pass '{name}' in --passes (known passes: {string.Join(", ", PassPipeline.Order)}, or 'none')", command);
            var duplicate = names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
            if (duplicate != null) throw new UsageException($"pass '{duplicate.Key}' is listed twice in --passes", command);
            return names;
        }

        /// <summary>Parses the --input-shape values into import options; malformed text is a usage error.</summary>
        public static ImportOptions ParseInputShapes(IReadOnlyList<string> values, CommandSpec command)
        {
            var options = new ImportOptions();
            var named = new Dictionary<string, int[]>(StringComparer.Ordinal);
            foreach (var value in values)
            {
                string text = value;
                string? name = null;
                int equals = text.IndexOf('=');
                if (equals >= 0)
                {
                    name = text.Substring(0, equals).Trim();
                    text = text.Substring(equals + 1);
                }
                var parts = text.Split(',', 'x', 'X');
                var dims = new int[parts.Length];
                for (int i = 0; i < parts.Length; i++)
                    if (!int.TryParse(parts[i].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out dims[i]) || dims[i] <= 0)
                        throw new UsageException($"--input-shape '{value}' is not a list of positive integers such as 1,3,32,32", command);
                if (string.IsNullOrEmpty(name))
                {
                    if (options.FirstInputShape != null) throw new UsageException("--input-shape is given twice without an input name (use NAME=1,3,32,32 for each input)", command);
                    options.FirstInputShape = dims;
                }
                else
                {
                    if (named.ContainsKey(name!)) throw new UsageException($"--input-shape gives input '{name}' twice", command);
                    named[name!] = dims;
                }
            }
            options.InputShapes = named;
            return options;
        }

        /// <summary>Reads, imports and runs the passes; on failure prints the diagnostics and returns null.</summary>
        public static LoadedModel? Load(string path, ImportOptions options, IReadOnlyList<string> passes, Output output)
        {
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                string why = e is FileNotFoundException || e is DirectoryNotFoundException ? "does not exist" : $"cannot be read ({e.Message})";
                output.Diagnostic(path, new ModelDiagnostic(DiagnosticCatalog.MissingFile, $"Model file '{path}' {why}."));
                return null;
            }

            string fileName = Path.GetFileName(path);
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            options.ModelDirectory = folder;
            options.ReadExternalData = ReadRange;
            // A quantized model (QDQ or QOperator) is read as the generator reads it: its float graph plus its quantization.
            QdqModel? quantized;
            try
            {
                quantized = QdqModelReader.Read(bytes, fileName, options);
            }
            catch (ModelException e)
            {
                output.Diagnostic(path, e.ToDiagnostic());
                return null;
            }
            var import = OnnxImporter.Import(quantized?.FloatModel ?? bytes, fileName, options);
            foreach (var d in import.Diagnostics) output.Diagnostic(path, d);
            if (import.Diagnostics.Any(d => d.Kind == DiagnosticCatalog.UnpinnedDynamicDimension))
                output.Error.WriteLine("netquant: note: on the command line, pin dynamic dimensions with --input-shape (e.g. --input-shape 1,3,32,32).");
            if (import.Graph == null) return null;

            try
            {
                // A quantized model keeps its weights: only the passes the generator runs on it (QdqLowering.Passes).
                var report = PassPipeline.FromNames(quantized != null ? QdqLowering.Passes : passes).Run(import.Graph);
                return new LoadedModel(path, bytes, import.Graph, report, quantized);
            }
            catch (ModelException e)
            {
                output.Diagnostic(path, e.ToDiagnostic());
                return null;
            }
        }

        private static byte[] ReadRange(string path, long offset, long length)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (length < 0) length = stream.Length - offset;
            if (offset < 0 || length < 0 || offset + length > stream.Length)
                throw new IOException($"the byte range [{offset}, {offset + length}) is outside '{Path.GetFileName(path)}' ({stream.Length} bytes)");
            var buffer = new byte[length];
            stream.Position = offset;
            stream.ReadExactly(buffer);
            return buffer;
        }
    }
}
