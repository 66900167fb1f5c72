using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.Import;

namespace NetQuantGen.Compilation
{
    /// <summary>Where the generated code goes: the user's partial class.</summary>
    public sealed record TargetClass(string? Namespace, string Name, string Accessibility, bool IsStatic);

    /// <summary>Everything one model compilation reads: files as bytes (the build reads only files), options, target.</summary>
    public sealed class ModelInput
    {
        public ModelInput(string modelFileName, byte[] modelBytes, string? statisticsFileName, byte[]? statisticsBytes, CompilationOptions options, TargetClass target)
        {
            ModelFileName = modelFileName;
            ModelBytes = modelBytes;
            StatisticsFileName = statisticsFileName;
            StatisticsBytes = statisticsBytes;
            Options = options;
            Target = target;
        }

        public string ModelFileName { get; }

        public byte[] ModelBytes { get; }

        public string? StatisticsFileName { get; }

        public byte[]? StatisticsBytes { get; }

        public CompilationOptions Options { get; }

        public TargetClass Target { get; }
    }

    /// <summary>The generated source (null when an error stopped compilation) and every diagnostic.</summary>
    public sealed class CompilationResult
    {
        public CompilationResult(string? source, IReadOnlyList<ModelDiagnostic> diagnostics)
        {
            Source = source;
            Diagnostics = diagnostics;
        }

        public string? Source { get; }

        public IReadOnlyList<ModelDiagnostic> Diagnostics { get; }
    }

    /// <summary>
    /// The whole compiler behind one call: import → float passes → quantization → integer IR → C#.
    /// Used by the source generator and by the netquant tool; never throws.
    /// </summary>
    public static class ModelCompiler
    {
        public static CompilationResult Compile(ModelInput input)
        {
            var diagnostics = new List<ModelDiagnostic>();
            try
            {
                var import = OnnxImporter.Import(input.ModelBytes, input.ModelFileName, ImportOptionsFor(input));
                diagnostics.AddRange(import.Diagnostics);
                if (import.Graph == null) return new CompilationResult(null, diagnostics);
                throw new ModelException(DiagnosticCatalog.InternalError, $"Model '{input.ModelFileName}': code generation is not wired yet.");
            }
            catch (ModelException e)
            {
                diagnostics.Add(e.ToDiagnostic());
                return new CompilationResult(null, diagnostics);
            }
            catch (Exception e)
            {
                diagnostics.Add(new ModelDiagnostic(DiagnosticCatalog.InternalError,
                    $"Model '{input.ModelFileName}': the compiler failed unexpectedly ({e.GetType().Name}: {e.Message}). Please report this with the model."));
                return new CompilationResult(null, diagnostics);
            }
        }

        /// <summary>Parses the InputShape option ("1,3,224,224"), which pins the model's first input.</summary>
        public static ImportOptions ImportOptionsFor(ModelInput input)
        {
            var options = new ImportOptions();
            var text = input.Options.InputShape;
            if (string.IsNullOrWhiteSpace(text)) return options;
            var parts = text!.Split(',');
            var dims = new int[parts.Length];
            for (int i = 0; i < parts.Length; i++)
                if (!int.TryParse(parts[i].Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out dims[i]) || dims[i] <= 0)
                    throw new ModelException(DiagnosticCatalog.InvalidOption,
                        $"Model '{input.ModelFileName}': InputShape \"{text}\" is not a comma-separated list of positive integers (e.g. \"1,3,224,224\").");
            options.FirstInputShape = dims;
            return options;
        }
    }
}
