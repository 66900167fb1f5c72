using System.IO;
using NetQuantGen.Diagnostics;

namespace NetQuantGen.Cli
{
    /// <summary>Where a command writes: results to stdout; diagnostics, errors and progress to stderr.</summary>
    internal sealed class Output
    {
        public Output(TextWriter stdout, TextWriter stderr, bool stderrIsTerminal)
        {
            Out = stdout;
            Error = stderr;
            ErrorIsTerminal = stderrIsTerminal;
        }

        public TextWriter Out { get; }

        public TextWriter Error { get; }

        /// <summary>True when stderr is an interactive terminal (a progress bar may redraw itself there).</summary>
        public bool ErrorIsTerminal { get; }

        /// <summary>Compiler-style: "model.onnx: error NQG0005: message".</summary>
        public void Diagnostic(string file, ModelDiagnostic diagnostic) =>
            Error.WriteLine($"{file}: {Level(diagnostic.Kind.Level)} {diagnostic.Id}: {diagnostic.Message}");

        /// <summary>An error that is not a model diagnostic: "file: error: message" (or "netquant: error: message").</summary>
        public void Fail(string? file, string message) =>
            Error.WriteLine($"{file ?? "netquant"}: error: {message}");

        public static string Level(DiagnosticLevel level) => level switch
        {
            DiagnosticLevel.Error => "error",
            DiagnosticLevel.Warning => "warning",
            _ => "info",
        };
    }
}
