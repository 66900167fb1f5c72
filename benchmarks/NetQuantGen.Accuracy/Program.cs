using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Threading.Tasks;
using NetQuantGen.Compiler;
using NetQuantGen.Cli;
using NetQuantGen.Reference;
using NetQuantGen.Runtime.Data;

// Produces ACCURACY.md beside the README: for each sample model, top-1 on the 10,000 Fashion-MNIST test images in
// FP32 (float reference executor) and in each quantization configuration (the generated code, compiled in memory;
// tests prove it bit-identical to the integer reference executor).
// Usage: dotnet run -c Release --project benchmarks/NetQuantGen.Accuracy [-- --count N] [--out ACCURACY.md]

string root = typeof(Configuration).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "RepositoryRoot").Value!;
int count = 10_000;
string output = Path.Combine(root, "ACCURACY.md");
for (int i = 0; i + 1 < args.Length; i += 2)
{
    if (args[i] == "--count") count = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
    else if (args[i] == "--out") output = args[i + 1];
}

var images = IdxFile.Read(Path.Combine(root, "samples", "data", "t10k-images-idx3-ubyte.gz"));
var labels = IdxFile.ReadLabels(Path.Combine(root, "samples", "data", "t10k-labels-idx1-ubyte.gz"));
count = Math.Min(count, images.Count);

var configurations = new[]
{
    new Configuration("W8A8 per-tensor, min-max", new CompilationOptions { WeightGranularity = WeightGranularityOption.PerTensor }),
    new Configuration("W8A8 per-channel, min-max", new CompilationOptions()),
    new Configuration("W8A8 per-channel, percentile 99.99", new CompilationOptions { ActivationRange = RangeMethodOption.Percentile }),
    new Configuration("W8A8 per-channel, MSE", new CompilationOptions { ActivationRange = RangeMethodOption.Mse }),
    new Configuration("W8A8 per-channel, entropy", new CompilationOptions { ActivationRange = RangeMethodOption.Entropy }),
};
var models = new (string Name, int[] Shape)[] { ("small_cnn", new[] { 1, 1, 28, 28 }), ("mobilenet_v2_small", new[] { 1, 1, 28, 28 }), ("resnet18", new[] { 1, 3, 32, 32 }) };

var table = new StringBuilder();
table.AppendLine("# Accuracy of the sample models");
table.AppendLine();
table.AppendLine($"Top-1 on the first {count:N0} Fashion-MNIST test images (`samples/data`). FP32 is the float reference executor; every");
table.AppendLine("other row is the generated integer code of that configuration (bit-identical to the integer reference executor; tests check it).");
table.AppendLine("Calibration: the committed `samples/models/*.calib`, 1,000 training images. Reproduce with:");
table.AppendLine();
table.AppendLine("```");
table.AppendLine("dotnet run -c Release --project benchmarks/NetQuantGen.Accuracy");
table.AppendLine("```");
table.AppendLine();
table.AppendLine("| configuration | " + string.Join(" | ", models.Select(m => m.Name)) + " |");
table.AppendLine("|---|" + string.Join("|", models.Select(_ => "---:")) + "|");

var rows = new List<string[]> { new[] { "FP32" } };
rows.AddRange(configurations.Select(c => new[] { c.Name }));
var cells = rows.Select(r => new List<string>(r)).ToList();
foreach (var (name, shape) in models)
{
    var inputs = Enumerable.Range(0, count).Select(i => InputPreprocessing.FitImage(images.ItemBytes(i), shape)).ToArray();
    byte[] modelBytes = File.ReadAllBytes(Path.Combine(root, "samples", "models", name + ".onnx"));
    byte[] statistics = File.ReadAllBytes(Path.Combine(root, "samples", "models", name + ".calib"));
    Lowering Lower(CompilationOptions options) => ModelCompiler.Lower(new ModelInput(name + ".onnx", modelBytes, name + ".calib", statistics,
        options with { InputShape = string.Join(",", shape) }, new TargetClass(null, "Model", "public", true)));

    var baseline = Lower(new CompilationOptions());
    if (baseline.FloatGraph == null) throw new InvalidOperationException(string.Join("\n", baseline.Diagnostics));
    cells[0].Add(Percent(Top1(inputs, () => { var e = new FloatExecutor(baseline.FloatGraph); return e.Run; })));
    for (int c = 0; c < configurations.Length; c++)
    {
        var result = ModelCompiler.Compile(new ModelInput(name + ".onnx", modelBytes, name + ".calib", statistics,
            configurations[c].Options with { InputShape = string.Join(",", shape) }, new TargetClass("Accuracy", "Model", "public", true)));
        if (result.Source == null) throw new InvalidOperationException(string.Join("\n", result.Diagnostics));
        using var generated = new GeneratedModel(result.Source, "Accuracy.Model");
        cells[c + 1].Add(Percent(Top1(inputs, () => generated.Run)));
    }
    Console.Error.WriteLine($"{name}: done");
}
foreach (var row in cells) table.AppendLine("| " + string.Join(" | ", row) + " |");
File.WriteAllText(output, table.ToString());
Console.WriteLine(table);
return 0;

// Runs the images on two threads (one runner each: the executors are single-threaded) and returns the fraction classified correctly.
double Top1(float[][] inputs, Func<Func<float[], float[]>> newRunner)
{
    int correct = 0;
    Parallel.For(0, 2, part =>
    {
        var run = newRunner();
        int mine = 0;
        for (int i = part; i < inputs.Length; i += 2)
        {
            var scores = run(inputs[i]);
            int best = 0;
            for (int k = 1; k < scores.Length; k++) if (scores[k] > scores[best]) best = k;
            if (best == labels[i]) mine++;
        }
        System.Threading.Interlocked.Add(ref correct, mine);
    });
    return correct / (double)inputs.Length;
}

static string Percent(double fraction) => (100 * fraction).ToString("F2", CultureInfo.InvariantCulture) + "%";

sealed record Configuration(string Name, CompilationOptions Options);
