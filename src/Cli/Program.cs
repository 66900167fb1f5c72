using System;
using System.Threading;

namespace NetQuantGen.Cli
{
    public static class Program
    {
        public static int Main(string[] args)
        {
            using var cancellation = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) =>
            {
                // First Ctrl+C: stop cleanly (no half-written files); a second one ends the process.
                if (cancellation.IsCancellationRequested) return;
                e.Cancel = true;
                cancellation.Cancel();
            };
            return CliApp.Run(args, Console.Out, Console.Error, stderrIsTerminal: !Console.IsErrorRedirected, cancellation.Token);
        }
    }
}
