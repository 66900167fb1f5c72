using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace NetQuantGen.Cli
{
    /// <summary>
    /// Compiles generated model source in memory (as dotnet/runtime tests its Regex generator's output) — for
    /// tests and measurements that need many builds of a model without a project per build —
    /// loads it into its own AssemblyLoadContext and exposes its Run entry points (the int8 one only when
    /// the build has it: a FLOAT32 build has none).
    /// </summary>
    public sealed class GeneratedModel : IDisposable
    {
        private readonly AssemblyLoadContext _context;
        private readonly Action<float[], float[]> _runFloat;
        private readonly RunInt8? _runInt8;

        private readonly RunInt16? _runInt16;

        private delegate void RunInt8(ReadOnlySpan<sbyte> input, Span<sbyte> output);

        private delegate void RunInt16(ReadOnlySpan<short> input, Span<short> output);

        public delegate void FloatRun(ReadOnlySpan<float> input, Span<float> output);

        public GeneratedModel(string source, string typeName)
        {
            var tree = CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest));
            var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
                .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "netstandard.dll" or "mscorlib.dll")
                .Select(p => MetadataReference.CreateFromFile(p))
                .Append(MetadataReference.CreateFromFile(typeof(NetQuantGen.Runtime.WeightData).Assembly.Location))
                .ToList();
            var compilation = CSharpCompilation.Create("Generated" + Guid.NewGuid().ToString("N"), new[] { tree }, references,
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release, nullableContextOptions: NullableContextOptions.Enable));
            using var stream = new MemoryStream();
            var emit = compilation.Emit(stream);
            var errors = emit.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning || d.IsWarningAsError).ToList();
            if (!emit.Success || errors.Count > 0)
            {
                if (errors.Count == 0) errors = emit.Diagnostics.ToList();
                throw new InvalidOperationException("Generated code does not compile cleanly:\n" + string.Join("\n", errors.Take(20)));
            }
            stream.Position = 0;
            // Not collectible: unloading an assembly whose [ThreadStatic] arenas thread-pool threads still hold crashed the
            // test host (AccessViolation in a later model's first layer); the memory of a few test models is cheap.
            _context = new AssemblyLoadContext("generated", isCollectible: false);
            _context.Resolving += (context, name) => name.Name == "NetQuantGen.Runtime" ? typeof(NetQuantGen.Runtime.WeightData).Assembly : null;
            var type = _context.LoadFromStream(stream).GetType(typeName, throwOnError: true)!;
            Type = type;
            var floatRun = (FloatRun)type.GetMethod("Run", new[] { typeof(ReadOnlySpan<float>), typeof(Span<float>) })!.CreateDelegate(typeof(FloatRun));
            FloatEntryPoint = floatRun;
            _runFloat = (input, output) => floatRun(input, output);
            _runInt8 = (RunInt8?)type.GetMethod("Run", new[] { typeof(ReadOnlySpan<sbyte>), typeof(Span<sbyte>) })?.CreateDelegate(typeof(RunInt8));
            _runInt16 = (RunInt16?)type.GetMethod("Run", new[] { typeof(ReadOnlySpan<short>), typeof(Span<short>) })?.CreateDelegate(typeof(RunInt16));
        }

        public Type Type { get; }

        /// <summary>The generated float Run method itself, for callers that measure it (no wrapper allocations).</summary>
        public FloatRun FloatEntryPoint { get; private set; } = null!;

        public T Constant<T>(string name) => (T)Type.GetField(name, BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;

        public float[] Run(float[] input)
        {
            var output = new float[Constant<int>("OutputLength")];
            _runFloat(input, output);
            return output;
        }

        public sbyte[] Run(sbyte[] input)
        {
            if (_runInt8 == null) throw new InvalidOperationException($"{Type.FullName} has no int8 Run overload (a FLOAT32 build).");
            var output = new sbyte[Constant<int>("OutputLength")];
            _runInt8(input, output);
            return output;
        }

        /// <summary>The integer overload of a model whose input and output are int16 (16-bit activations).</summary>
        public short[] Run(short[] input)
        {
            if (_runInt16 == null) throw new InvalidOperationException($"{Type.FullName} has no int16 Run overload (its input or output is not int16).");
            var output = new short[Constant<int>("OutputLength")];
            _runInt16(input, output);
            return output;
        }

        public void Dispose() { } // see the constructor: the context is kept for the life of the process
    }
}
