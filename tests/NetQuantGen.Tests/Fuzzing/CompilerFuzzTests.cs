using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CsCheck;
using NetQuantGen.Compiler;
using NetQuantGen.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace NetQuantGen.Tests.Fuzzing
{
    /// <summary>
    /// Property-based fuzzing (CsCheck) of the importer and the whole compiler with mutated real models: every input must
    /// end in generated source or an error diagnostic — no exception out of <see cref="ModelCompiler.Compile"/>, no
    /// internal-error diagnostic, no hang, no giant allocation. Runs for a bounded time (NETQUANTGEN_FUZZ_SECONDS,
    /// default 45); a failure is shrunk by CsCheck to a minimal list of mutations and reported with its seed.
    /// </summary>
    public class CompilerFuzzTests
    {
        private static readonly TimeSpan PerInputLimit = TimeSpan.FromSeconds(20);
        private const long AllocationLimit = 1L << 30;

        private readonly ITestOutputHelper _output;

        public CompilerFuzzTests(ITestOutputHelper output) => _output = output;

        private sealed record Seed(string Name, byte[] Model, byte[]? Statistics, string? InputShape);

        private static readonly Lazy<Seed[]> Seeds = new(() =>
        {
            var residual = TinyModels.ResidualCnn();
            var snapshot = TinyModels.Snapshot();
            return new[]
            {
                new Seed("small_cnn.onnx", System.IO.File.ReadAllBytes(Repository.SampleModel("small_cnn.onnx")), System.IO.File.ReadAllBytes(Repository.SampleModel("small_cnn.calib")), null),
                new Seed("residual.onnx", residual, TinyModels.Calibrate(residual, "residual.onnx", TinyModels.RandomInputs(16, 3 * 12 * 12, seed: 1).ToList()), null),
                new Seed("snapshot.onnx", snapshot, TinyModels.Calibrate(snapshot, "snapshot.onnx", TinyModels.DyadicInputs(8, 16).ToList()), null),
            };
        });

        public sealed record FuzzCase(int SeedIndex, bool WithStatistics, Mutation[] Mutations, CompilationOptions? Options)
        {
            public override string ToString() =>
                $"seed model #{SeedIndex}, statistics {WithStatistics}, mutations [{string.Join(", ", Mutations.AsEnumerable())}], options {Options?.ToString() ?? "default"}";
        }

        /// <summary>Attribute arguments as a user could write them, valid or not (the parser's checks are bypassed here on purpose).</summary>
        private static readonly Gen<CompilationOptions> Options =
            Gen.Select(Gen.OneOf<string?>(null, "1,1,28,28", "1,3,12,12", "1,1,4,4", "0", "-1,1", "1,,2", "99999999999", "1,1,46341,46341", "1, 1, 28, 28"),
                Gen.Int[-1, 17], Gen.Enum<WeightGranularityOption>(), Gen.Enum<RangeMethodOption>(),
                Gen.OneOf(99.99, 50.0, 100.0, 0.0, -1.0, 101.0, double.NaN), Gen.Int[0, 7],
                (shape, bits, granularity, range, percentile, passes) => new CompilationOptions
                {
                    InputShape = shape, WeightBits = bits, WeightGranularity = granularity, ActivationRange = range, Percentile = percentile, Passes = passes,
                });

        private static readonly Gen<long> Values = Gen.Frequency(
            (3, Gen.Int[0, ModelMutator.InterestingValues.Length - 1].Select(i => ModelMutator.InterestingValues[i])),
            (2, Gen.Long[-300, 300]),
            (1, Gen.Long));

        private static readonly Gen<Mutation> Mutations =
            Gen.Select(Gen.Enum<MutationKind>(), Gen.Int[0, 1 << 20], Gen.Int[0, 1 << 20], Values, (kind, target, index, value) => new Mutation(kind, target, index, value));

        private static readonly Gen<FuzzCase> Cases =
            Gen.Select(Gen.Int[0, 2], Gen.Bool, Mutations.Array[1, 4], Gen.Frequency((3, Gen.Const((CompilationOptions?)null)), (1, Options.Select(o => (CompilationOptions?)o))),
                (seed, statistics, mutations, options) => new FuzzCase(seed, statistics, mutations, options));

        [Fact]
        public void MutatedModelsEndInSourceOrADiagnosticNeverAnEscape()
        {
            int seconds = int.TryParse(Environment.GetEnvironmentVariable("NETQUANTGEN_FUZZ_SECONDS"), out int s) ? s : 45;
            var outcomes = new ConcurrentDictionary<string, int>();
            int tried = 0;
            var clock = Stopwatch.StartNew();
            Cases.Sample(c =>
            {
                Interlocked.Increment(ref tried);
                string outcome = Run(c);
                outcomes.AddOrUpdate(outcome.StartsWith("ESCAPE", StringComparison.Ordinal) ? "ESCAPE" : outcome, 1, (_, n) => n + 1);
                if (outcome.StartsWith("ESCAPE", StringComparison.Ordinal)) _output.WriteLine($"{outcome} for {c}");
                return !outcome.StartsWith("ESCAPE", StringComparison.Ordinal);
            }, time: seconds, threads: 1, writeLine: _output.WriteLine);

            string summary = $"fuzzer: {tried} mutated inputs in {clock.Elapsed.TotalSeconds:F0} s, none escaped; outcomes: " +
                string.Join(", ", outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Key} {o.Value}"));
            _output.WriteLine(summary);
            Console.WriteLine(summary);
            Assert.True(tried >= 100, $"only {tried} inputs in {seconds} s");
        }

        /// <summary>One input through the compiler on its own thread: "compiled", the first error's ID, or "ESCAPE: why".</summary>
        private static string Run(FuzzCase c)
        {
            var seed = Seeds.Value[c.SeedIndex];
            byte[] model;
            byte[]? statistics;
            try
            {
                (model, statistics) = ModelMutator.Apply(seed.Model, c.WithStatistics ? seed.Statistics : null, c.Mutations);
            }
            catch (Exception e) when (e is Google.Protobuf.InvalidProtocolBufferException)
            {
                return "not mutable"; // cannot happen for the seeds; kept so a broken seed reads clearly
            }
            var input = new ModelInput(seed.Name, model, statistics == null ? null : "fuzz.calib", statistics,
                c.Options ?? new CompilationOptions { InputShape = seed.InputShape }, new TargetClass("Fuzz", "Model", "public", true));
            long allocated = 0;
            var work = Task.Factory.StartNew(() =>
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                try { return ModelCompiler.Compile(input); }
                finally { allocated = GC.GetAllocatedBytesForCurrentThread() - before; }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (!work.Wait(PerInputLimit)) return $"ESCAPE: no result after {PerInputLimit.TotalSeconds} s (hang)";
            if (work.IsFaulted) return $"ESCAPE: {work.Exception!.InnerException}";
            var result = work.Result;
            if (allocated > AllocationLimit) return $"ESCAPE: allocated {allocated >> 20} MB";
            var internalError = result.Diagnostics.FirstOrDefault(d => d.Kind == DiagnosticCatalog.InternalError);
            if (internalError != null) return $"ESCAPE: {internalError}";
            var error = result.Diagnostics.FirstOrDefault(d => d.Kind.Level == DiagnosticLevel.Error);
            if (error != null) return result.Source == null ? error.Id : $"ESCAPE: source despite {error}";
            return result.Source != null ? "compiled" : "ESCAPE: neither source nor an error";
        }
    }
}
