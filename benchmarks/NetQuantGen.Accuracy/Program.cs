using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using NetQuantGen.Calibration;
using NetQuantGen.Compiler;
using NetQuantGen.Cli;
using NetQuantGen.Reference;
using NetQuantGen.Runtime.Data;

// Produces ACCURACY.md beside the README: for each sample model, top-1 on the 10,000 Fashion-MNIST test images in
// FP32 (float reference executor) and in each quantization configuration (the generated code, compiled in memory;
// tests prove it bit-identical to the integer reference executor). Configurations that need data-dependent results
// (AdaRound, GPFQ, empirical bias correction) first run `netquant optimize` on the calibration images.
// The PyTorch rows come from samples/models/pytorch_ptq.json (written by samples/models/pytorch_ptq.py).
// Usage: dotnet run -c Release --project benchmarks/NetQuantGen.Accuracy [-- --count N] [--out ACCURACY.md]
//        [--recorded-fp32 (FP32 row from samples/models/accuracy.json, PyTorch's top-1 on the same images, instead of the slow float executor)]
//        [--models a,b] [--configs 0,6,9 (row indices, for partial runs)] [--work folder] [--reuse-optimized]

string root = typeof(Configuration).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "RepositoryRoot").Value!;
int count = 10_000;
string output = Path.Combine(root, "ACCURACY.md");
string work = Path.Combine(Path.GetTempPath(), "netquantgen-accuracy");
string[]? onlyModels = null;
int[]? onlyConfigurations = null;
bool reuse = false;
bool recordedFp32 = false;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--reuse-optimized") reuse = true;
    else if (args[i] == "--recorded-fp32") recordedFp32 = true;
    else if (i + 1 < args.Length && args[i] == "--count") count = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (i + 1 < args.Length && args[i] == "--out") output = args[++i];
    else if (i + 1 < args.Length && args[i] == "--work") work = args[++i];
    else if (i + 1 < args.Length && args[i] == "--models") onlyModels = args[++i].Split(',');
    else if (i + 1 < args.Length && args[i] == "--configs") onlyConfigurations = args[++i].Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToArray();
}
Directory.CreateDirectory(work);

var images = IdxFile.Read(Path.Combine(root, "samples", "data", "t10k-images-idx3-ubyte.gz"));
var labels = IdxFile.ReadLabels(Path.Combine(root, "samples", "data", "t10k-labels-idx1-ubyte.gz"));
string calibrationImages = Path.Combine(root, "samples", "data", "calib-images-idx3-ubyte.gz");
count = Math.Min(count, images.Count);

// The rows of the table, as data: a name, the attribute's options and, for data-dependent steps, `netquant optimize` arguments.
var perTensor = new CompilationOptions { WeightGranularity = WeightGranularityOption.PerTensor };
var w4 = new CompilationOptions { WeightBits = 4 };
// The mixed-precision row's weight budget: the size of uniform 4-bit weights (packed, with the int32 biases), as the allocation counts it.
const int MixedPrecisionBudgetBits = 4;
// The white paper's data-free pipeline: ReLU6 -> ReLU, cross-layer equalization, high-bias absorption, analytic bias correction.
var equalized = new CompilationOptions { Passes = 7 | 8 | 16 | 32, BiasCorrection = BiasCorrectionOption.Analytic };
var configurations = new[]
{
    new Configuration("W8A8 per-tensor, min-max", perTensor),
    new Configuration("W8A8 per-tensor, min-max + ReLU6→ReLU + CLE + bias absorption + analytic bias correction",
        equalized with { WeightGranularity = WeightGranularityOption.PerTensor }),
    new Configuration("W8A8 per-tensor, min-max + empirical bias correction", perTensor, "--bias-correction", "empirical"),
    new Configuration("W8A8 per-channel, min-max", new CompilationOptions()),
    new Configuration("W8A8 per-channel, percentile 99.99", new CompilationOptions { ActivationRange = RangeMethodOption.Percentile }),
    new Configuration("W8A8 per-channel, MSE", new CompilationOptions { ActivationRange = RangeMethodOption.Mse }),
    new Configuration("W8A8 per-channel, entropy", new CompilationOptions { ActivationRange = RangeMethodOption.Entropy }),
    new Configuration("W8A16 per-channel, min-max (int16 symmetric activations, TFLite 16x8)", new CompilationOptions { ActivationBits = 16 }),
    new Configuration("W4A8 per-channel, min-max", w4),
    new Configuration("W4A16 per-channel, min-max", w4 with { ActivationBits = 16 }),
    new Configuration("W4A8 per-channel + empirical bias correction", w4, "--bias-correction", "empirical"),
    new Configuration("W4A8 per-channel + AdaRound", w4, "--adaround", "--iterations", "200", "--batch", "64"),
    new Configuration("W4A8 per-channel + GPFQ", w4, "--gpfq"),
    new Configuration("W4A8 per-channel + sparse GPFQ (λ = 1): top-1 (zero weights)", w4, "--gpfq", "--gpfq-sparsity", "1"),
    new Configuration($"Mixed precision: per-layer weight bits (2-8) chosen from measured output sensitivity under a budget of the uniform W{MixedPrecisionBudgetBits} size: top-1 (size; W8 size)",
        new CompilationOptions(), "--sensitivity"),
    new Configuration("Data-free W8A8 per-channel (no calibration data: ranges from BatchNormalization, CLE, absorption, analytic bias correction)", new CompilationOptions()) { DataFree = true },
    // Quantization-aware training (samples/models/train_qat.py; small CNN only): the QDQ file is compiled as it is, no statistics.
    new Configuration("QAT W8A8 (PyTorch FX QAT, 1 epoch; QDQ model compiled with its own scales)", new CompilationOptions()) { QatModel = "small_cnn_qat" },
    new Configuration("QAT W4A8 (PyTorch FX QAT, 1 epoch; QDQ model compiled with its own scales)", new CompilationOptions()) { QatModel = "small_cnn_qat_w4" },
    new Configuration("W2A8 per-channel, min-max", new CompilationOptions { WeightBits = 2 }),
    new Configuration("QAT W2A8 (PyTorch FX QAT, 1 epoch; QDQ model compiled with its own scales)", new CompilationOptions()) { QatModel = "small_cnn_qat_w2" },
};
var models = new (string Name, int[] Shape)[] { ("small_cnn", new[] { 1, 1, 28, 28 }), ("mobilenet_v2_small", new[] { 1, 1, 28, 28 }), ("resnet18", new[] { 1, 3, 32, 32 }) }
    .Where(m => onlyModels == null || onlyModels.Contains(m.Name)).ToArray();
var peers = PeerRows(Path.Combine(root, "samples", "models", "pytorch_ptq.json"));

var table = new StringBuilder();
table.AppendLine("# Accuracy of the sample models");
table.AppendLine();
table.AppendLine($"Top-1 on the first {count:N0} Fashion-MNIST test images (`samples/data`). FP32 is the float reference executor; every");
table.AppendLine("other NetQuantGen row is the generated integer code of that configuration (bit-identical to the integer reference executor; tests check it).");
table.AppendLine("Calibration: the committed `samples/models/*.calib`, 1,000 training images. Rows with AdaRound, GPFQ or empirical bias");
table.AppendLine("correction first run `netquant optimize` (256 of those images, 2,048 sampled input patches per layer; AdaRound 200 Adam steps");
table.AppendLine("of 64 patches per layer, fewer than the paper's 10,000 to keep the run to minutes on 2 cores). Reproduce with:");
table.AppendLine();
table.AppendLine("```");
table.AppendLine(("dotnet run -c Release --project benchmarks/NetQuantGen.Accuracy" + (args.Length > 0 ? " -- " + string.Join(" ", args) : "")).Replace(work, "<work>"));
table.AppendLine("```");
table.AppendLine();
table.AppendLine("| configuration | " + string.Join(" | ", models.Select(m => m.Name)) + " |");
table.AppendLine("|---|" + string.Join("|", models.Select(_ => "---:")) + "|");

var cells = new List<List<string>> { new() { "FP32" } };
cells.AddRange(configurations.Select(c => new List<string> { c.Name }));
cells.AddRange(peers.Select(p => new List<string> { p.Name }));
var timings = new List<string>();
var reused = new List<string>();
foreach (var (name, shape) in models)
{
    var inputs = Enumerable.Range(0, count).Select(i => InputPreprocessing.FitImage(images.ItemBytes(i), shape)).ToArray();
    string modelPath = Path.Combine(root, "samples", "models", name + ".onnx");
    string statisticsPath = Path.Combine(root, "samples", "models", name + ".calib");
    byte[] modelBytes = File.ReadAllBytes(modelPath);
    string inputShape = string.Join(",", shape);
    var baseline = ModelCompiler.Lower(new ModelInput(name + ".onnx", modelBytes, name + ".calib", File.ReadAllBytes(statisticsPath),
        new CompilationOptions { InputShape = inputShape }, new TargetClass(null, "Model", "public", true)));
    if (baseline.FloatGraph == null) throw new InvalidOperationException(string.Join("\n", baseline.Diagnostics));
    cells[0].Add(recordedFp32 && count == images.Count
        ? Percent(JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "samples", "models", "accuracy.json"))).RootElement.GetProperty(name).GetProperty("fp32_top1").GetDouble()) + " (PyTorch)"
        : Percent(Top1(inputs, () => { var e = new FloatExecutor(baseline.FloatGraph); return e.Run; })));
    for (int c = 0; c < configurations.Length; c++)
    {
        var configuration = configurations[c];
        if (onlyConfigurations != null && !onlyConfigurations.Contains(c))
        {
            cells[c + 1].Add("not run");
            continue;
        }
        if (configuration.QatModel != null)
        {
            cells[c + 1].Add(QatTop1(name, configuration.QatModel, inputs));
            continue;
        }
        var options = configuration.Options with { InputShape = inputShape };
        if (configuration.Name.StartsWith("Mixed precision", StringComparison.Ordinal))
            options = options with { SizeBudgetKiB = (int)(NetQuantGen.Quantization.LayerBitAllocation.UniformBytes(baseline.FloatGraph, MixedPrecisionBudgetBits) / 1024) };
        string statistics = statisticsPath;
        if (!options.PassNames().SequenceEqual(new CompilationOptions().PassNames()))
        {
            // Passes that change tensor ranges need statistics collected after them.
            statistics = Path.Combine(work, $"{name}.{c}.calib");
            if (!reuse || !File.Exists(statistics))
            {
                var log = new StringWriter();
                if (CliApp.Run(new[] { "calibrate", modelPath, "--data", calibrationImages, "--input-shape", inputShape,
                        "--passes", string.Join(",", options.PassNames()), "--out", statistics }, log, log) != CliApp.Success)
                    throw new InvalidOperationException(log.ToString());
            }
        }
        if (configuration.Optimize.Length > 0)
        {
            statistics = Path.Combine(work, $"{name}.{c}.calib");
            if (reuse && File.Exists(statistics)) reused.Add(FormattableString.Invariant($"{name}: {configuration.Name} ({StatisticsFile.Read(File.ReadAllBytes(statistics)).Statistics?.Optimization})"));
            else
            {
                var arguments = new List<string> { "optimize", modelPath, "--stats", statisticsPath, "--data", calibrationImages, "--input-shape", inputShape,
                    "--weight-bits", options.WeightBits.ToString(CultureInfo.InvariantCulture),
                    "--granularity", options.WeightGranularity == WeightGranularityOption.PerTensor ? "per-tensor" : "per-channel", "--out", statistics };
                arguments.AddRange(configuration.Optimize);
                var clock = Stopwatch.StartNew();
                var log = new StringWriter();
                if (CliApp.Run(arguments.ToArray(), log, log) != CliApp.Success) throw new InvalidOperationException(log.ToString());
                timings.Add($"| {name} | {configuration.Name} | {clock.Elapsed.TotalSeconds.ToString("F0", CultureInfo.InvariantCulture)} s |");
                Console.Error.Write(log);
            }
        }
        byte[]? statisticsBytes = configuration.DataFree ? null : File.ReadAllBytes(statistics);
        var result = ModelCompiler.Compile(new ModelInput(name + ".onnx", modelBytes, configuration.DataFree ? null : Path.GetFileName(statistics), statisticsBytes,
            options, new TargetClass("Accuracy", "Model", "public", true)));
        if (configuration.DataFree && !result.Diagnostics.Any(d => d.Kind == NetQuantGen.Diagnostics.DiagnosticCatalog.DataFreeQuantization))
            throw new InvalidOperationException($"{name}: the data-free build fell back to FLOAT32: " + string.Join("\n", result.Diagnostics));
        if (result.Source == null) throw new InvalidOperationException(string.Join("\n", result.Diagnostics));
        using var generated = new GeneratedModel(result.Source, "Accuracy.Model");
        string cell = Percent(Top1(inputs, () => generated.Run));
        if (options.SizeBudgetKiB > 0)
            cell += FormattableString.Invariant($" ({options.SizeBudgetKiB} KiB; {NetQuantGen.Quantization.LayerBitAllocation.UniformBytes(baseline.FloatGraph, 8) / 1024} KiB)");
        if (configuration.Optimize.Contains("--gpfq-sparsity"))
        {
            var rounded = StatisticsFile.Read(statisticsBytes!).Statistics!.RoundedWeights;
            cell += FormattableString.Invariant($" ({100.0 * rounded.Sum(r => (long)r.Values.Count(v => v == 0)) / rounded.Sum(r => (long)r.Values.Length):F1}%)");
        }
        cells[c + 1].Add(cell);
        Console.Error.WriteLine($"{name}: {configuration.Name}: {cell}");
    }
    for (int p = 0; p < peers.Count; p++)
        cells[configurations.Length + 1 + p].Add(peers[p].Top1.TryGetValue(name, out double top1) ? Percent(top1) : "n/a");
    Console.Error.WriteLine($"{name}: done");
}
foreach (var row in cells) table.AppendLine("| " + string.Join(" | ", row) + " |");
table.AppendLine();
table.AppendLine("The PyTorch rows are PyTorch's own post-training quantization of the same weights on the same calibration and test images:");
table.AppendLine("torch.ao FX graph mode (`prepare_fx`, calibration, `convert_fx`) with each backend's default QConfigMapping (HistogramObserver");
table.AppendLine("on activations; weights per-channel on onednn, per-tensor on qnnpack), by `samples/models/pytorch_ptq.py` (Debian's torch 1.13),");
table.AppendLine("which writes `samples/models/pytorch_ptq.json`.");
table.AppendLine();
table.AppendLine("The QAT rows compile the QDQ models that `samples/models/train_qat.py` wrote (PyTorch FX `prepare_qat_fx` from the trained");
table.AppendLine("float weights, BN folded, fake quantization with the straight-through estimator, one epoch over 24,000 training images;");
table.AppendLine("W4 and W2 are restricted int8 ranges, [-7, 7] and [-1, 1]; 2 bits is the lowest width our QDQ path and the generator carry).");
table.AppendLine("Compare them with the PTQ rows of the same bit-width; in parentheses PyTorch's fake-quantized top-1 (`samples/models/qat_accuracy.json`);");
table.AppendLine("only the small CNN has QAT models.");
if (reused.Count > 0)
{
    table.AppendLine();
    table.AppendLine("Optimized statistics reused from an earlier `netquant optimize` run of the same configuration (`--reuse-optimized`):");
    table.AppendLine();
    foreach (var line in reused) table.AppendLine("- " + line);
}
if (timings.Count > 0)
{
    table.AppendLine();
    table.AppendLine("Time of `netquant optimize` (2 threads, on a shared 2-core machine):");
    table.AppendLine();
    table.AppendLine("| model | configuration | time |");
    table.AppendLine("|---|---|---:|");
    foreach (var line in timings) table.AppendLine(line);
}
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

// Top-1 of the generated code of a quantization-aware-trained QDQ model of `model` (PyTorch's fake-quantized top-1 in
// parentheses), or why there is none.
string QatTop1(string model, string qatModel, float[][] inputs)
{
    string path = Path.Combine(root, "samples", "models", qatModel + ".onnx");
    if (!qatModel.StartsWith(model + "_qat", StringComparison.Ordinal) || !File.Exists(path)) return "no QAT model";
    var result = ModelCompiler.Compile(new ModelInput(qatModel + ".onnx", File.ReadAllBytes(path), null, null, new CompilationOptions(),
        new TargetClass("Accuracy", "Model", "public", true)));
    if (result.Source == null) throw new InvalidOperationException(string.Join("\n", result.Diagnostics));
    using var generated = new GeneratedModel(result.Source, "Accuracy.Model");
    double trained = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "samples", "models", "qat_accuracy.json"))).RootElement
        .GetProperty(qatModel).GetProperty("qat_top1").GetDouble();
    string cell = $"{Percent(Top1(inputs, () => generated.Run))} ({Percent(trained)})";
    Console.Error.WriteLine($"{model}: {qatModel}: {cell}");
    return cell;
}

// Weights of the quantized layers at 8 bits, in KiB: what a size budget is a fraction of.
static string Percent(double fraction) => (100 * fraction).ToString("F2", CultureInfo.InvariantCulture) + "%";

// The PyTorch PTQ rows, one per backend, from the json pytorch_ptq.py writes.
static List<(string Name, Dictionary<string, double> Top1)> PeerRows(string path)
{
    var rows = new List<(string, Dictionary<string, double>)>();
    if (!File.Exists(path)) return rows;
    using var json = JsonDocument.Parse(File.ReadAllText(path));
    foreach (var (backend, label) in new[] { ("onednn", "PyTorch PTQ W8A8 (FX, onednn: per-channel weights, HistogramObserver)"), ("qnnpack", "PyTorch PTQ W8A8 (FX, qnnpack: per-tensor weights, HistogramObserver)") })
        rows.Add((label, json.RootElement.GetProperty("models").EnumerateObject()
            .Where(m => m.Value.TryGetProperty(backend + "_top1", out _))
            .ToDictionary(m => m.Name, m => m.Value.GetProperty(backend + "_top1").GetDouble())));
    return rows;
}

sealed record Configuration(string Name, CompilationOptions Options, params string[] Optimize)
{
    /// <summary>Built without statistics (data-free), which must give INT8, not the FLOAT32 fallback.</summary>
    public bool DataFree { get; init; }

    /// <summary>A quantization-aware-trained QDQ file in samples/models (without .onnx), compiled instead of the float model.</summary>
    public string? QatModel { get; init; }
}

