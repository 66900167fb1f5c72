using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Calibration;
using NetQuantGen.Compiler;
using NetQuantGen.IntegerIR;
using NetQuantGen.IR;
using NetQuantGen.Passes;
using NetQuantGen.Quantization;
using NetQuantGen.Reference;

namespace NetQuantGen.Cli.Report
{
    /// <summary>One Conv/Gemm/MatMul: SQNR of its quantized weights (and of its output activation, when data was given).</summary>
    public sealed record LayerFigures(string Node, string Kind, int OutputChannels, double WeightSqnr, string Output, double? OutputSqnr);

    /// <summary>One calibrated tensor: its histogram and the clipping range the build's range method chooses.</summary>
    public sealed record TensorFigures(string Name, TensorStatistics Statistics, ActivationRange Chosen, double? Sqnr);

    /// <summary>Per output channel [min, max] of one layer's float weights (the white paper's Figure 5).</summary>
    public sealed record ChannelRanges(string Node, float[] Min, float[] Max);

    /// <summary>
    /// What `netquant report` shows, computed from the model, its statistics and the build options: per-layer SQNR
    /// of weights and activations (quantized vs float; activations from the float and integer reference executors
    /// on a few images), the clipping range on each histogram, and per-channel weight ranges before and after
    /// cross-layer equalization.
    /// </summary>
    public sealed class QuantizationReport
    {
        /// <summary>The float pass whose effect the per-channel weight ranges show.</summary>
        public const string EqualizationPass = CrossLayerEqualization.PassName;

        public required string ModelName { get; init; }

        public required string Settings { get; init; }

        public required string Optimization { get; init; }

        public required int Images { get; init; }

        public required IReadOnlyList<LayerFigures> Layers { get; init; }

        public required IReadOnlyList<TensorFigures> Tensors { get; init; }

        public required ChannelRanges Before { get; init; }

        /// <summary>The same layer after ReLU6→ReLU and cross-layer equalization (the build's passes plus those two).</summary>
        public required ChannelRanges After { get; init; }

        public static QuantizationReport Build(ModelInput input, Lowering lowering, CalibrationStatistics statistics, IReadOnlyList<float[]> images)
        {
            var graph = lowering.FloatGraph!;
            var integer = lowering.IntegerGraph!;
            var options = input.Options;

            // The float weights as the quantizer lays them out, seen through its hook.
            var floatWeights = new Dictionary<string, float[]>(StringComparer.Ordinal);
            var settings = ModelCompiler.SettingsFor(options, statistics);
            var saved = settings.WeightOverride;
            Quantizer.Run(graph, new QuantizationSettings(settings.RangeOf)
            {
                WeightBits = settings.WeightBits,
                Granularity = settings.Granularity,
                BiasCorrectionOf = settings.BiasCorrectionOf,
                WeightOverride = (node, weights, m) =>
                {
                    floatWeights[node] = weights;
                    return saved?.Invoke(node, weights, m);
                },
            });

            var activationSqnr = ActivationSqnr(graph, integer, images);
            var layers = integer.Operations.OfType<QConvolution>().Select(c =>
            {
                var w = floatWeights[c.Source];
                int perChannel = w.Length / c.OutputChannels;
                double signal = 0, noise = 0;
                for (int i = 0; i < w.Length; i++)
                {
                    double q = c.WeightScales[i / perChannel] * c.Weights[i];
                    signal += (double)w[i] * w[i];
                    noise += (w[i] - q) * (w[i] - q);
                }
                return new LayerFigures(c.Source, c.Kind, c.OutputChannels, Decibels(signal, noise), c.Output.Name,
                    activationSqnr.TryGetValue(c.Output.Name, out var s) ? s : null);
            }).ToList();

            var tensors = statistics.Tensors.Select(t => new TensorFigures(t.Name, t, RangeSetting.Choose(t, options.ActivationRange, options.Percentile),
                activationSqnr.TryGetValue(t.Name, out var s) ? s : null)).ToList();

            var (before, after) = EqualizationRanges(input, graph);
            return new QuantizationReport
            {
                ModelName = input.ModelFileName,
                Settings = ModelCompiler.Describe(options),
                Optimization = statistics.Optimization,
                Images = images.Count,
                Layers = layers,
                Tensors = tensors,
                Before = before,
                After = after,
            };
        }

        /// <summary>10·log10(signal/noise); infinite when there is no noise.</summary>
        public static double Decibels(double signal, double noise) => noise <= 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / noise);

        /// <summary>Per float tensor the integer graph also has: SQNR of the dequantized integer activations against the float ones, over the images.</summary>
        private static Dictionary<string, double> ActivationSqnr(Graph graph, IntegerGraph integer, IReadOnlyList<float[]> images)
        {
            var signal = new Dictionary<string, double>(StringComparer.Ordinal);
            var noise = new Dictionary<string, double>(StringComparer.Ordinal);
            var floatExecutor = new FloatExecutor(graph);
            var integerExecutor = new IntegerExecutor(integer);
            var floats = new Dictionary<string, float[]>(StringComparer.Ordinal);
            foreach (var image in images)
            {
                floatExecutor.Run(new Dictionary<string, float[]> { [graph.Inputs[0].Name] = image }, (value, data) => floats[value.Name] = (float[])data.Clone());
                integerExecutor.RunQuantized(IntegerExecutor.QuantizeValues(image, integer.Inputs[0].Output), _ => null, (tensor, data) =>
                {
                    if (!floats.TryGetValue(tensor.Name, out var reference) || reference.Length != data.Length) return true;
                    double s = 0, n = 0;
                    for (int i = 0; i < data.Length; i++)
                    {
                        double e = reference[i] - (data[i] - tensor.ZeroPoint) * (double)tensor.Scale;
                        s += (double)reference[i] * reference[i];
                        n += e * e;
                    }
                    signal[tensor.Name] = signal.TryGetValue(tensor.Name, out var a) ? a + s : s;
                    noise[tensor.Name] = noise.TryGetValue(tensor.Name, out var b) ? b + n : n;
                    return true;
                });
            }
            return signal.ToDictionary(p => p.Key, p => Decibels(p.Value, noise[p.Key]), StringComparer.Ordinal);
        }

        /// <summary>
        /// The layer the white paper's Figure 5 shows (the first depthwise convolution, else the first convolution):
        /// its per-channel weight ranges after the build's passes, and after ReLU6→ReLU and cross-layer equalization
        /// (as the paper equalizes MobileNetV2: CLE only crosses ReLU).
        /// </summary>
        private static (ChannelRanges Before, ChannelRanges After) EqualizationRanges(ModelInput input, Graph graph)
        {
            var before = Ranges(graph);
            var equalized = Import.OnnxImporter.Import(input.ModelBytes, input.ModelFileName, ModelCompiler.ImportOptionsFor(input)).Graph!;
            var added = new[] { ReplaceRelu6.PassName, EqualizationPass };
            var names = input.Options.PassNames().Where(p => !added.Contains(p)).Concat(added);
            PassPipeline.FromNames(PassPipeline.Order.Where(names.Contains).ToList()).Run(equalized);
            return (before, Ranges(equalized, before.Node));
        }

        private static ChannelRanges Ranges(Graph graph, string? nodeName = null)
        {
            var convolutions = graph.Nodes.Where(n => n.Op is Conv && n.Input(1).Constant != null).ToList();
            var node = nodeName != null ? convolutions.FirstOrDefault(n => n.Name == nodeName) ?? convolutions[0]
                : convolutions.FirstOrDefault(n => n.Op is Conv c && c.Group > 1 && c.Group == n.Output.Shape[1]) ?? convolutions[0];
            var w = node.Input(1).Constant!.ToFloats();
            int m = node.Input(1).Shape[0], perChannel = w.Length / m;
            var min = new float[m];
            var max = new float[m];
            for (int c = 0; c < m; c++)
            {
                min[c] = w.Skip(c * perChannel).Take(perChannel).Min();
                max[c] = w.Skip(c * perChannel).Take(perChannel).Max();
            }
            return new ChannelRanges(node.Name, min, max);
        }
    }
}
