using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace NetQuantGen.Cli
{
    /// <summary>A usage error: the caller prints it with the command's usage on stderr and exits with 2.</summary>
    internal sealed class UsageException : Exception
    {
        public UsageException(string message, CommandSpec? command = null) : base(message) => Command = command;

        /// <summary>The command whose usage to print, or null for the general usage.</summary>
        public CommandSpec? Command { get; }
    }

    /// <summary>An option: "--name VALUE" (or "--name=VALUE") when <see cref="ValueName"/> is set, a switch otherwise.</summary>
    internal sealed record OptionSpec(string Name, string? ValueName, string Description, bool Required = false, bool Repeatable = false)
    {
        public bool TakesValue => ValueName != null;

        public string Usage => TakesValue ? $"--{Name} <{ValueName}>" : $"--{Name}";
    }

    internal sealed record PositionalSpec(string Name, string Description);

    /// <summary>A subcommand's grammar: positionals (all required), options, and the text its help shows.</summary>
    internal sealed record CommandSpec(string Name, string Brief, string Summary, IReadOnlyList<PositionalSpec> Positionals, IReadOnlyList<OptionSpec> Options, string? Details = null)
    {
        public string UsageLine
        {
            get
            {
                var text = new StringBuilder("netquant ").Append(Name);
                foreach (var p in Positionals) text.Append(" <").Append(p.Name).Append('>');
                foreach (var o in Options) text.Append(' ').Append(o.Required ? o.Usage : "[" + o.Usage + "]");
                return text.ToString();
            }
        }

        public string Help()
        {
            var text = new StringBuilder();
            text.AppendLine($"Usage: {UsageLine}");
            text.AppendLine();
            foreach (var line in Wrap(Summary, 100)) text.AppendLine(line);
            if (Positionals.Count > 0)
            {
                text.AppendLine();
                text.AppendLine("Arguments:");
                foreach (var p in Positionals) AppendEntry(text, "<" + p.Name + ">", p.Description);
            }
            text.AppendLine();
            text.AppendLine("Options:");
            foreach (var o in Options) AppendEntry(text, o.Usage, o.Description + (o.Required ? " (required)" : ""));
            AppendEntry(text, "-h, --help", "Show this help.");
            if (Details != null)
            {
                text.AppendLine();
                text.Append(Details.TrimEnd()).AppendLine();
            }
            return text.ToString();
        }

        internal static void AppendEntry(StringBuilder text, string left, string description, int column = 30)
        {
            var lines = Wrap(description, 78 - column);
            text.Append("  ").Append(left.PadRight(column - 2));
            if (left.Length > column - 3) text.AppendLine().Append(new string(' ', column));
            text.AppendLine(lines[0]);
            foreach (var line in lines.Skip(1)) text.Append(new string(' ', column)).AppendLine(line);
        }

        private static List<string> Wrap(string text, int width)
        {
            var lines = new List<string>();
            var line = new StringBuilder();
            foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (line.Length > 0 && line.Length + 1 + word.Length > width)
                {
                    lines.Add(line.ToString());
                    line.Clear();
                }
                if (line.Length > 0) line.Append(' ');
                line.Append(word);
            }
            lines.Add(line.ToString());
            return lines;
        }
    }

    /// <summary>The parsed arguments of one command.</summary>
    internal sealed class ParsedArguments
    {
        private readonly Dictionary<string, List<string>> _options = new(StringComparer.Ordinal);

        public ParsedArguments(CommandSpec command) => Command = command;

        public CommandSpec Command { get; }

        public List<string> Positionals { get; } = new();

        public bool HelpRequested { get; set; }

        public bool Has(string option) => _options.ContainsKey(option);

        /// <summary>The option's value (the last one if given several times), or null when absent.</summary>
        public string? Value(string option) => _options.TryGetValue(option, out var values) ? values[values.Count - 1] : null;

        public IReadOnlyList<string> Values(string option) => _options.TryGetValue(option, out var values) ? values : (IReadOnlyList<string>)Array.Empty<string>();

        internal void Add(string option, string value)
        {
            if (!_options.TryGetValue(option, out var values)) _options[option] = values = new List<string>();
            values.Add(value);
        }
    }

    /// <summary>
    /// A small GNU-style parser: "--name value", "--name=value", switches, "-h"/"--help", "--" ends options.
    /// Every mistake is a <see cref="UsageException"/> with a one-line message.
    /// </summary>
    internal static class ArgumentParser
    {
        public static ParsedArguments Parse(CommandSpec command, IReadOnlyList<string> args)
        {
            var parsed = new ParsedArguments(command);
            bool optionsEnded = false;
            for (int i = 0; i < args.Count; i++)
            {
                string arg = args[i];
                if (optionsEnded || arg == "-" || !arg.StartsWith("-", StringComparison.Ordinal))
                {
                    parsed.Positionals.Add(arg);
                    continue;
                }
                if (arg == "--")
                {
                    optionsEnded = true;
                    continue;
                }
                if (arg == "-h" || arg == "--help" || arg == "-?")
                {
                    parsed.HelpRequested = true;
                    continue;
                }
                if (!arg.StartsWith("--", StringComparison.Ordinal))
                    throw new UsageException($"unknown option '{arg}' for '{command.Name}' (options are spelled --name)", command);
                string name = arg.Substring(2);
                string? inlineValue = null;
                int equals = name.IndexOf('=');
                if (equals >= 0)
                {
                    inlineValue = name.Substring(equals + 1);
                    name = name.Substring(0, equals);
                }
                var option = command.Options.FirstOrDefault(o => o.Name == name)
                    ?? throw new UsageException($"unknown option '--{name}' for '{command.Name}'{Suggest(command, name)}", command);
                if (!option.TakesValue)
                {
                    if (inlineValue != null) throw new UsageException($"option '--{name}' takes no value", command);
                    parsed.Add(name, "true");
                    continue;
                }
                string? value = inlineValue;
                if (value == null)
                {
                    if (i + 1 >= args.Count) throw new UsageException($"option '--{name}' needs a value <{option.ValueName}>", command);
                    value = args[++i];
                }
                if (!option.Repeatable && parsed.Has(name)) throw new UsageException($"option '--{name}' is given twice", command);
                parsed.Add(name, value);
            }
            if (parsed.HelpRequested) return parsed;
            if (parsed.Positionals.Count < command.Positionals.Count)
                throw new UsageException($"'{command.Name}' needs <{command.Positionals[parsed.Positionals.Count].Name}>", command);
            if (parsed.Positionals.Count > command.Positionals.Count)
                throw new UsageException($"unexpected argument '{parsed.Positionals[command.Positionals.Count]}' for '{command.Name}'", command);
            foreach (var option in command.Options)
                if (option.Required && !parsed.Has(option.Name))
                    throw new UsageException($"'{command.Name}' needs --{option.Name} <{option.ValueName}>", command);
            return parsed;
        }

        private static string Suggest(CommandSpec command, string name)
        {
            var close = command.Options.Where(o => o.Name.StartsWith(name, StringComparison.Ordinal) || name.StartsWith(o.Name, StringComparison.Ordinal)
                || Distance(o.Name, name) <= Math.Max(1, name.Length / 4)).Select(o => "--" + o.Name).ToList();
            return close.Count > 0 ? $" (did you mean {string.Join(" or ", close)}?)" : "";
        }

        private static int Distance(string a, string b)
        {
            var d = new int[a.Length + 1, b.Length + 1];
            for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
            for (int j = 0; j <= b.Length; j++) d[0, j] = j;
            for (int i = 1; i <= a.Length; i++)
                for (int j = 1; j <= b.Length; j++)
                    d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            return d[a.Length, b.Length];
        }
    }
}
