using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using NetQuantGen.Generator;
using Xunit;

namespace NetQuantGen.Tests.Generator
{
    /// <summary>
    /// Drives <see cref="QuantizedModelGenerator"/> through <see cref="CSharpGeneratorDriver"/> on an in-memory
    /// compilation, with step tracking on. AdditionalFiles are real files in a temp "project folder", since the
    /// generator reads their bytes from <see cref="AdditionalText.Path"/>; the folder is also what
    /// <c>build_property.projectdir</c> reports, as the .NET SDK does in a real build.
    /// </summary>
    public sealed class GeneratorDriverHarness : IDisposable
    {
        private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);
        private static readonly Lazy<IReadOnlyList<MetadataReference>> References = new(LoadReferences);

        private readonly TempFolder _folder = new();
        private readonly Dictionary<string, AdditionalText> _additionalTexts = new(StringComparer.Ordinal);
        private readonly Dictionary<string, SyntaxTree> _trees = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _globalOptions = new(StringComparer.OrdinalIgnoreCase);
        private CSharpCompilation _compilation;
        private GeneratorDriver _driver;

        /// <param name="projectDirectory">Whether the global options carry <c>build_property.projectdir</c>.</param>
        public GeneratorDriverHarness(bool projectDirectory = true)
        {
            if (projectDirectory) _globalOptions["build_property.projectdir"] = ProjectDirectory + Path.DirectorySeparatorChar;
            _compilation = CSharpCompilation.Create("NetQuantGen.GeneratorTests", Array.Empty<SyntaxTree>(), References.Value,
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true));
            _driver = CSharpGeneratorDriver.Create(
                new[] { new QuantizedModelGenerator().AsSourceGenerator() },
                Array.Empty<AdditionalText>(),
                ParseOptions,
                new OptionsProvider(_globalOptions),
                new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        }

        /// <summary>The temp folder that plays the project folder.</summary>
        public string ProjectDirectory => _folder.Path;

        public CSharpCompilation Compilation => _compilation;

        /// <summary>The compilation with the generated sources, after the last <see cref="Run"/>.</summary>
        public Compilation? OutputCompilation { get; private set; }

        public string FullPath(string relativePath) => Path.Combine(ProjectDirectory, relativePath.Replace('/', Path.DirectorySeparatorChar));

        /// <summary>Writes a file under the project folder and, when <paramref name="listed"/>, adds it as an AdditionalFile.</summary>
        public string AddFile(string relativePath, byte[] bytes, bool listed = true)
        {
            string path = FullPath(relativePath);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
            if (listed)
            {
                var text = new FileAdditionalText(path);
                _additionalTexts[path] = text;
                _driver = _driver.AddAdditionalTexts(ImmutableArray.Create<AdditionalText>(text));
            }
            return path;
        }

        /// <summary>Rewrites a listed file and hands the driver a new AdditionalText for it, as the build or IDE would.</summary>
        public void ReplaceFile(string relativePath, byte[] bytes)
        {
            string path = FullPath(relativePath);
            File.WriteAllBytes(path, bytes);
            var old = _additionalTexts[path];
            var text = new FileAdditionalText(path);
            _additionalTexts[path] = text;
            _driver = _driver.ReplaceAdditionalText(old, text);
        }

        /// <summary>Adds (or replaces) a C# file of the compilation; its path is under the project folder.</summary>
        public SyntaxTree SetSource(string fileName, string source)
        {
            var tree = CSharpSyntaxTree.ParseText(source, ParseOptions, FullPath(fileName));
            _compilation = _trees.TryGetValue(fileName, out var old)
                ? _compilation.ReplaceSyntaxTree(old, tree)
                : _compilation.AddSyntaxTrees(tree);
            _trees[fileName] = tree;
            return tree;
        }

        public SyntaxTree Tree(string fileName) => _trees[fileName];

        public void SetGlobalOption(string key, string value)
        {
            _globalOptions[key] = value;
            _driver = _driver.WithUpdatedAnalyzerConfigOptions(new OptionsProvider(_globalOptions));
        }

        /// <summary>Runs the generator once more (incrementally); no generator exception is ever acceptable.</summary>
        public GeneratorRunResult Run()
        {
            _driver = _driver.RunGeneratorsAndUpdateCompilation(_compilation, out var output, out _);
            OutputCompilation = output;
            var result = Assert.Single(_driver.GetRunResult().Results);
            Assert.Null(result.Exception);
            return result;
        }

        /// <summary>The output values of a tracked step in the last run, with their reasons.</summary>
        public static IReadOnlyList<(object Value, IncrementalStepRunReason Reason)> StepOutputs(GeneratorRunResult result, string trackingName) =>
            result.TrackedSteps.TryGetValue(trackingName, out var steps)
                ? steps.SelectMany(step => step.Outputs).ToList()
                : Array.Empty<(object, IncrementalStepRunReason)>();

        /// <summary>The span of the (single) attribute in a file, where every model diagnostic must be.</summary>
        public static (string Path, TextSpan Span) AttributeSpan(SyntaxTree tree)
        {
            var attribute = tree.GetRoot().DescendantNodes().OfType<AttributeSyntax>().Single(a => a.Name.ToString().Contains("QuantizedModel"));
            return (tree.FilePath, attribute.Span);
        }

        /// <summary>Asserts that a diagnostic is located in the attribute of <paramref name="tree"/>.</summary>
        public static void AssertOnAttribute(Diagnostic diagnostic, SyntaxTree tree)
        {
            var (path, span) = AttributeSpan(tree);
            Assert.NotEqual(Location.None, diagnostic.Location);
            Assert.Equal(path, diagnostic.Location.GetLineSpan().Path);
            Assert.True(span.Contains(diagnostic.Location.SourceSpan),
                $"{diagnostic.Id} at {diagnostic.Location.SourceSpan} is not inside the attribute at {span}");
            var lines = tree.GetText().Lines;
            Assert.Equal(lines.GetLinePositionSpan(diagnostic.Location.SourceSpan), diagnostic.Location.GetLineSpan().Span);
        }

        public void Dispose() => _folder.Dispose();

        /// <summary>
        /// The reference assemblies of the running framework (the targeting pack beside the runtime), plus
        /// NetQuantGen.Attributes and NetQuantGen.Runtime. Falls back to the runtime's own assemblies.
        /// </summary>
        private static IReadOnlyList<MetadataReference> LoadReferences()
        {
            var paths = new List<string>();
            string runtimeDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
            var version = new DirectoryInfo(runtimeDirectory).Name; // e.g. 10.0.12
            var dotnetRoot = Path.GetFullPath(Path.Combine(runtimeDirectory, "..", "..", ".."));
            string tfm = $"net{Environment.Version.Major}.{Environment.Version.Minor}";
            string refPack = Path.Combine(dotnetRoot, "packs", "Microsoft.NETCore.App.Ref");
            string? refDirectory = new[] { Path.Combine(refPack, version, "ref", tfm) }
                .Concat(Directory.Exists(refPack)
                    ? Directory.GetDirectories(refPack).OrderByDescending(d => d, StringComparer.Ordinal).Select(d => Path.Combine(d, "ref", tfm))
                    : Enumerable.Empty<string>())
                .FirstOrDefault(Directory.Exists);
            if (refDirectory != null)
                paths.AddRange(Directory.GetFiles(refDirectory, "*.dll"));
            else
                paths.AddRange(((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
                    .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "netstandard.dll" or "mscorlib.dll"));
            paths.Add(typeof(QuantizedModelAttribute).Assembly.Location);
            paths.Add(Path.Combine(AppContext.BaseDirectory, "NetQuantGen.Runtime.dll"));
            return paths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
        }

        /// <summary>An AdditionalText backed by a file on disk. Like a binary file in the real compiler, it has no text.</summary>
        private sealed class FileAdditionalText : AdditionalText
        {
            public FileAdditionalText(string path) => Path = path;

            public override string Path { get; }

            public override SourceText? GetText(CancellationToken cancellationToken = default) =>
                throw new InvalidOperationException($"GetText() was called on binary AdditionalFile '{Path}'; the real compiler fails the build with CS2015 here.");
        }

        private sealed class OptionsProvider : AnalyzerConfigOptionsProvider
        {
            private static readonly AnalyzerConfigOptions NoOptions = new DictionaryOptions(new Dictionary<string, string>());

            public OptionsProvider(IReadOnlyDictionary<string, string> globalOptions) =>
                GlobalOptions = new DictionaryOptions(globalOptions.ToDictionary(p => p.Key, p => p.Value, AnalyzerConfigOptions.KeyComparer));

            public override AnalyzerConfigOptions GlobalOptions { get; }

            public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => NoOptions;

            public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => NoOptions;
        }

        private sealed class DictionaryOptions : AnalyzerConfigOptions
        {
            private readonly Dictionary<string, string> _values;

            public DictionaryOptions(Dictionary<string, string> values) => _values = values;

            public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) =>
                _values.TryGetValue(key, out value);
        }
    }
}
