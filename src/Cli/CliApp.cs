using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;

namespace NetQuantGen.Cli
{
    /// <summary>
    /// The netquant command line, callable in-process: <see cref="Run(string[], TextWriter, TextWriter)"/>
    /// returns the exit code (0 success, 1 a model/data/IO error, 2 a usage error, 130 cancelled) and never
    /// throws for bad input.
    /// </summary>
    public static class CliApp
    {
        public const int Success = 0;
        public const int Failure = 1;
        public const int UsageError = 2;
        public const int Cancelled = 130;

        private static readonly IReadOnlyList<(CommandSpec Spec, Func<ParsedArguments, Output, CancellationToken, int> Run)> Commands = new[]
        {
            (CalibrateCommand.Spec, (Func<ParsedArguments, Output, CancellationToken, int>)CalibrateCommand.Run),
            (InspectCommand.Spec, InspectCommand.Run),
            (ExportCommand.Spec, ExportCommand.Run),
            (ProfileCommand.Spec, ProfileCommand.Run),
            (OptimizeCommand.Spec, OptimizeCommand.Run),
            (ReportCommand.Spec, ReportCommand.Run),
        };

        /// <summary>"netquant 1.0.0" (assembly version only, so files it writes do not change with every commit).</summary>
        public static string Producer => "netquant " + (typeof(CliApp).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");

        public static int Run(string[] args, TextWriter stdout, TextWriter stderr) =>
            Run(args, stdout, stderr, stderrIsTerminal: false, CancellationToken.None);

        public static int Run(string[] args, TextWriter stdout, TextWriter stderr, bool stderrIsTerminal, CancellationToken cancellation)
        {
            var output = new Output(stdout, stderr, stderrIsTerminal);
            try
            {
                if (args.Length == 0)
                {
                    stderr.Write(GeneralHelp());
                    return UsageError;
                }
                string first = args[0];
                if (first is "-h" or "--help" or "-?")
                {
                    stdout.Write(GeneralHelp());
                    return Success;
                }
                if (first == "--version")
                {
                    stdout.WriteLine(Producer);
                    return Success;
                }
                if (first == "help")
                {
                    if (args.Length == 1)
                    {
                        stdout.Write(GeneralHelp());
                        return Success;
                    }
                    var topic = Commands.FirstOrDefault(c => c.Spec.Name == args[1]);
                    if (topic.Spec == null) throw new UsageException($"unknown command '{args[1]}'");
                    stdout.Write(topic.Spec.Help());
                    return Success;
                }
                var command = Commands.FirstOrDefault(c => c.Spec.Name == first);
                if (command.Spec == null)
                    throw new UsageException(first.StartsWith("-", StringComparison.Ordinal) ? $"unknown option '{first}'" : $"unknown command '{first}'");
                var parsed = ArgumentParser.Parse(command.Spec, args.Skip(1).ToList());
                if (parsed.HelpRequested)
                {
                    stdout.Write(command.Spec.Help());
                    return Success;
                }
                return command.Run(parsed, output, cancellation);
            }
            catch (UsageException e)
            {
                stderr.WriteLine($"netquant: {e.Message}");
                stderr.WriteLine();
                if (e.Command != null)
                {
                    stderr.WriteLine($"Usage: {e.Command.UsageLine}");
                    stderr.WriteLine($"Run 'netquant {e.Command.Name} --help' for details.");
                }
                else stderr.Write(GeneralHelp());
                return UsageError;
            }
            catch (OperationCanceledException)
            {
                stderr.WriteLine("netquant: cancelled; nothing was written.");
                return Cancelled;
            }
            catch (Exception e)
            {
                // A bug in the tool, not bad input: say so without a stack trace unless asked.
                output.Fail(null, $"unexpected {e.GetType().Name}: {e.Message}. Please report this (set NETQUANT_DEBUG=1 for details).");
                if (Environment.GetEnvironmentVariable("NETQUANT_DEBUG") == "1") stderr.WriteLine(e);
                return Failure;
            }
        }

        public static string GeneralHelp()
        {
            var text = new StringBuilder();
            text.AppendLine("netquant: calibration and inspection for NetQuantGen, the ONNX-to-integer-C# compiler.");
            text.AppendLine();
            text.AppendLine("Usage: netquant <command> [arguments] [options]");
            text.AppendLine();
            text.AppendLine("Commands:");
            foreach (var (spec, _) in Commands) CommandSpec.AppendEntry(text, spec.Name, spec.Brief, 14);
            text.AppendLine();
            text.AppendLine("Options:");
            CommandSpec.AppendEntry(text, "-h, --help", "Show this help; 'netquant <command> --help' shows a command's.", 14);
            CommandSpec.AppendEntry(text, "--version", "Show the tool's version.", 14);
            text.AppendLine();
            text.AppendLine("Exit codes: 0 success, 1 error (messages like 'model.onnx: error NQG0002: ...'), 2 usage error.");
            return text.ToString();
        }
    }
}
