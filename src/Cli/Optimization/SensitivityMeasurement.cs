using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using NetQuantGen.Calibration;
using NetQuantGen.IR;
using NetQuantGen.Quantization;
using NetQuantGen.Reference;

namespace NetQuantGen.Cli.Optimization
{
    /// <summary>
    /// Measures how much each layer's weight quantization hurts the network output: for every Conv/Gemm/MatMul and
    /// every width b from 2 to 8, the float network runs the calibration samples with only that layer's weights
    /// quantized to b bits (as the build would quantize them, then dequantized) and the output's noise-to-signal ratio
    /// ‖y_b − y‖² / ‖y‖² is recorded. The size-budget allocation of the build reads it from the statistics file.
    /// </summary>
    public static class SensitivityMeasurement
    {
        public static IReadOnlyList<LayerSensitivity> Run(Graph graph, QuantizationSettings quantization, IReadOnlyList<float[]> samples, int threads, Action<string>? log = null)
        {
            var reference = Outputs(graph, samples, threads);
            double signal = Math.Max(reference.Sum(y => y.Sum(v => (double)v * v)), 1e-30);
            var result = new List<LayerSensitivity>();
            foreach (var node in graph.Nodes.Where(n => n.Op is Conv || n.Op is Gemm || n.Op is MatMul))
            {
                var weights = node.Input(1);
                if (weights.Constant?.Floats == null) continue;
                var original = weights.Constant;
                var noise = new double[LayerBitWidths.MaxBits + 1];
                for (int bits = LayerBitWidths.MinBits; bits <= LayerBitWidths.MaxBits; bits++)
                {
                    float[][] outputs;
                    weights.Constant = TensorData.FromFloats(original.Shape, FakeQuantized(node, original, bits, quantization));
                    try
                    {
                        outputs = Outputs(graph, samples, threads);
                    }
                    finally
                    {
                        weights.Constant = original;
                    }
                    double error = 0;
                    for (int n = 0; n < outputs.Length; n++)
                        for (int i = 0; i < outputs[n].Length; i++)
                        {
                            double e = outputs[n][i] - reference[n][i];
                            error += e * e;
                        }
                    noise[bits] = error / signal;
                }
                result.Add(new LayerSensitivity(node.Name, quantization.Granularity, noise));
                log?.Invoke(FormattableString.Invariant($"{node.Name}: output noise-to-signal by weight bits 2..8: {string.Join(" ", noise.Skip(LayerBitWidths.MinBits).Select(v => v.ToString("E2", System.Globalization.CultureInfo.InvariantCulture)))}"));
            }
            return result;
        }

        /// <summary>The graph's single output for every sample, on <paramref name="threads"/> executors planned from the graph as it is now.</summary>
        private static float[][] Outputs(Graph graph, IReadOnlyList<float[]> samples, int threads)
        {
            var outputs = new float[samples.Count][];
            var executors = Enumerable.Range(0, threads).Select(_ => new FloatExecutor(graph)).ToArray();
            Parallel.For(0, threads, part =>
            {
                for (int n = part; n < samples.Count; n += threads) outputs[n] = executors[part].Run(samples[n]);
            });
            return outputs;
        }

        /// <summary>
        /// The weights quantized to <paramref name="bits"/> per output channel (or per tensor) and dequantized, in their
        /// stored layout: output channels outermost for Conv and Gemm with transB, the columns of a [K, N] matrix otherwise.
        /// </summary>
        private static float[] FakeQuantized(Node node, TensorData weights, int bits, QuantizationSettings settings)
        {
            var floats = weights.Floats!;
            bool columns = node.Op is MatMul || node.Op is Gemm { TransB: false };
            int outputs = columns ? weights.Shape[weights.Shape.Length - 1] : weights.Shape[0];
            int per = floats.Length / outputs;
            var rows = columns ? Transposed(floats, per, outputs) : floats;
            var (q, scales) = WeightQuantizer.Quantize(rows, outputs, bits, settings.Granularity, settings.WeightRange);
            var dequantized = new float[rows.Length];
            for (int i = 0; i < rows.Length; i++) dequantized[i] = q[i] * scales[i / per];
            return columns ? Transposed(dequantized, outputs, per) : dequantized;
        }

        /// <summary>A [rows, columns] row-major matrix transposed.</summary>
        private static float[] Transposed(float[] matrix, int rows, int columns)
        {
            var result = new float[matrix.Length];
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < columns; c++) result[c * rows + r] = matrix[r * columns + c];
            return result;
        }
    }
}
