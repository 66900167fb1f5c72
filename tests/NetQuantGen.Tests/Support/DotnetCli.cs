using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;

namespace NetQuantGen.Tests
{
    /// <summary>Runs the dotnet CLI (or a built program) in a clean environment — none of the test host's MSBuild variables — with a time limit.</summary>
    public static class DotnetCli
    {
        public static (int ExitCode, string Log) Run(string workingDirectory, params string[] arguments) =>
            Run(workingDirectory, TimeSpan.FromMinutes(5), null, "dotnet", arguments);

        /// <summary>Runs <paramref name="program"/> with extra environment variables (a null value removes the variable).</summary>
        public static (int ExitCode, string Log) Run(string workingDirectory, TimeSpan timeLimit, IReadOnlyDictionary<string, string?>? environment,
            string program, params string[] arguments)
        {
            var start = new ProcessStartInfo(program)
            {
                WorkingDirectory = workingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in arguments) start.ArgumentList.Add(argument);
            foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k.StartsWith("MSBuild", StringComparison.Ordinal)).ToList())
                start.Environment.Remove(key);
            start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            start.Environment["DOTNET_NOLOGO"] = "1";
            start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
            start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
            foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
            {
                if (value == null) start.Environment.Remove(key);
                else start.Environment[key] = value;
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit((int)timeLimit.TotalMilliseconds))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"`{program} {string.Join(" ", arguments)}` took more than {timeLimit.TotalMinutes:F0} minutes:\n" + stdout.Result + stderr.Result);
            }
            process.WaitForExit();
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
    }
}
