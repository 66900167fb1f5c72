using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Threading;
using NetQuantGen.Compiler;
using NetQuantGen.Emit;
using NetQuantGen.IntegerIR;

namespace NetQuantGen.Cli
{
    /// <summary>
    /// `netquant profile`: builds the model as the generator would, compiles the generated code in memory and
    /// times every layer method on this machine: where the time goes and how close each layer is to the int8 peak.
    /// </summary>
    internal static class ProfileCommand
    {
        public static readonly CommandSpec Spec = new(
            "profile",
            "Time each layer of the generated INT8 code on this machine (ms, share, GMAC/s, % of the int8 peak).",
            "Compiles the model exactly as the build does (default options, or the quantization options given), loads the generated code in memory and runs each layer method many times on one thread. Prints one line per layer: time (the fastest of --runs calls, since other load only adds time), share of the total, MACs, GMAC/s and the percentage of the int8 peak given with --peak.",
            new[] { new PositionalSpec("model.onnx", "The ONNX model.") },
            [
                new OptionSpec("stats", "file.calib", "The statistics file from 'netquant calibrate'.", Required: true),
                new OptionSpec("input-shape", "dims", "Static shape of the model's first input, e.g. 1,3,224,224, as the attribute's InputShape."),
                new OptionSpec("runs", "N", "Timed runs of each layer (default 50)."),
                new OptionSpec("peak", "GMAC/s", "The machine's int8 peak for one core (default 90: 32 int8 MACs per cycle at 2.8 GHz)."),
                new OptionSpec("verify", "N", "First run N seeded random int8 inputs through the generated code and the integer reference executor; exit 1 on the first difference."),
                new OptionSpec("threads", "N", "Threads each convolution layer may use for one image (default 1; results are bit-identical for any count)."),
                new OptionSpec("requantization", "arithmetic", "fixed-point (default, DESIGN §3) or float (ONNX Runtime's), as the attribute's Requantization."),
                .. ExportCommand.QuantizationOptions,
            ],
            "Example:\n  netquant profile samples/models/resnet18.onnx --stats samples/models/resnet18_224.calib --input-shape 1,3,224,224");

        private delegate void Layer(Span<sbyte> arena, Span<short> scratch);

        public static int Run(ParsedArguments args, Output output, CancellationToken cancellation)
        {
            string modelPath = args.Positionals[0], statsPath = args.Value("stats")!;
            int runs = Number(args.Value("runs"), 50, "runs");
            double peak = Number(args.Value("peak"), 90, "peak");
            Runtime.Kernels.KernelThreads.Count = Number(args.Value("threads"), 1, "threads");
            byte[] model, statistics;
            try
            {
                model = File.ReadAllBytes(modelPath);
                statistics = File.ReadAllBytes(statsPath);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                output.Fail(modelPath, e.Message);
                return CliApp.Failure;
            }
            var input = new ModelInput(Path.GetFileName(modelPath), model, Path.GetFileName(statsPath), statistics,
                ExportCommand.ParseOptions(args) with { InputShape = args.Value("input-shape"), Requantization = ExportCommand.ParseRequantization(args, Spec) }, new TargetClass("Profile", "Model", "public", true));
            var lowering = ModelCompiler.Lower(input);
            var result = ModelCompiler.Compile(input);
            foreach (var d in result.Diagnostics) output.Diagnostic(modelPath, d);
            if (result.Source == null || lowering.IntegerGraph == null) return CliApp.Failure;

            using var generated = new GeneratedModel(result.Source, "Profile.Model");
            var sample = new float[generated.Constant<int>("InputLength")];
            var logits = new float[generated.Constant<int>("OutputLength")];
            generated.FloatEntryPoint(sample, logits); // allocates this thread's arena and scratch, decodes the weights
            // Tiered JIT: every layer method and kernel instantiation must reach its optimized code before timing. The
            // background compiler is slow on a loaded machine, so rounds run until the best Run stops improving.
            var warmUp = Stopwatch.StartNew();
            for (double best = double.MaxValue, round; warmUp.ElapsedMilliseconds < 60_000; best = Math.Min(best, round))
            {
                round = Fastest(30, () => generated.FloatEntryPoint(sample, logits));
                if (round > 0.98 * best && warmUp.ElapsedMilliseconds > 2000) break;
            }
            if (args.Value("verify") is string verifyText)
            {
                int count = Number(verifyText, 0, "verify");
                var reference = new IntegerExecutor(lowering.IntegerGraph);
                var random = new Random(1);
                var q = new sbyte[generated.Constant<int>("InputLength")];
                for (int i = 0; i < count; i++)
                {
                    random.NextBytes((byte[])(object)q);
                    if (!reference.RunQuantized(q).AsSpan().SequenceEqual(generated.Run(q)))
                    {
                        output.Fail(modelPath, $"random input {i} (seed 1): the generated code on kernel path {Runtime.Kernels.KernelPaths.Current} differs from the integer reference executor.");
                        return CliApp.Failure;
                    }
                }
                output.Out.WriteLine($"verified: {count} random inputs bit-identical to the integer reference on kernel path {Runtime.Kernels.KernelPaths.Current}");
            }
            var arena = (sbyte[])generated.Type.GetField("t_arena", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!;
            var scratch = (short[])generated.Type.GetField("t_scratch", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!;

            var layers = ModelEmitter.Layers(lowering.IntegerGraph);
            var operations = layers.Operations;
            var fusion = LayerFusion.Plan(layers);
            var rows = new List<(string Name, string Source, string Kernel, double Ms, long Macs)>();
            for (int i = 0; i < operations.Count; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                // A fused Add or MaxPool runs inside its convolution's line (kernel "…+Add", "…+MaxPool").
                if (fusion.IsFusedAway(operations[i])) continue;
                string name = ModelEmitter.LayerName(operations[i], i);
                var layer = (Layer)generated.Type.GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!.CreateDelegate(typeof(Layer));
                layer(arena, scratch);
                rows.Add((name, operations[i].Source, operations[i] is QConvolution k ? KernelName(k) + fusion.Suffix(k) : "",
                    Fastest(runs, () => layer(arena, scratch)), operations[i] is QConvolution c ? c.MacCount : 0));
            }
            double runMs = Fastest(runs, () => generated.FloatEntryPoint(sample, logits));

            double total = rows.Sum(r => r.Ms);
            var w = output.Out;
            w.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0}: Run {1:F3} ms ({2:F1} GMAC/s over {3:N0} MACs); sum of layers {4:F3} ms; kernel path {5}; {6} thread(s) per layer",
                input.ModelFileName, runMs, lowering.IntegerGraph.MacCount / runMs / 1e6, lowering.IntegerGraph.MacCount, total, Runtime.Kernels.KernelPaths.Current, Runtime.Kernels.KernelThreads.Count));
            w.WriteLine($"{"layer",-28} {"ONNX node",-28} {"kernel",-14} {"ms",9} {"share",6} {"MACs",13} {"GMAC/s",7} {"% peak",7}");
            foreach (var (name, source, kernel, ms, macs) in rows)
                w.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0,-28} {1,-28} {2,-14} {3,9:F4} {4,5:F1}% {5,13:N0} {6,7:F1} {7,6:F1}%",
                    name, source.Length > 28 ? source.Substring(0, 27) + "…" : source, kernel, ms, 100 * ms / total, macs,
                    macs == 0 ? 0 : macs / ms / 1e6, macs == 0 ? 0 : 100 * macs / ms / 1e6 / peak));
            return CliApp.Success;
        }

        /// <summary>The kernel the emitter chose, with the int16 run length where the weights proved the byte kernel exact.</summary>
        private static string KernelName(QConvolution c) => ConvolutionEmitter.ByteGroupOf(c) is int group && group > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{ConvolutionEmitter.KernelOf(c)}/{group}") : ConvolutionEmitter.KernelOf(c).ToString();

        /// <summary>The fastest of <paramref name="runs"/> timed calls, in ms: the machine is often shared, and other work only ever adds time.</summary>
        private static double Fastest(int runs, Action call)
        {
            double best = double.MaxValue;
            for (int r = 0; r < runs; r++)
            {
                long start = Stopwatch.GetTimestamp();
                call();
                best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
            return best;
        }

        private static int Number(string? text, int fallback, string option) => text == null ? fallback
            : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 ? v
            : throw new UsageException($"--{option} '{text}' is not a positive whole number", Spec);
    }
}
