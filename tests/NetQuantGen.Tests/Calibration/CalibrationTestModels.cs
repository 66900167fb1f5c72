using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Import;
using NetQuantGen.IR;
using NetQuantGen.Passes;
using static NetQuantGen.Tests.OnnxBuilder;

namespace NetQuantGen.Tests.Calibration
{
    /// <summary>Tiny models and deterministic sample streams for the calibration tests.</summary>
    internal static class CalibrationTestModels
    {
        public const string InputName = "input";

        /// <summary>
        /// input 1x1x6x6 → Conv(2 filters, 3x3, pad 1) + bias → BatchNormalization → Relu → MaxPool 2x2 →
        /// Flatten → Gemm(3) : after the default passes, Conv+Relu, MaxPool, Flatten, Gemm.
        /// </summary>
        public static byte[] ConvNet(int seed = 3)
        {
            var random = new Random(seed);
            float[] Values(int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();
            float[] Positive(int n) => Enumerable.Range(0, n).Select(_ => (float)(0.5 + random.NextDouble())).ToArray();
            return new OnnxBuilder()
                .Input(InputName, 1, 1, 6, 6)
                .Initializer("w", new long[] { 2, 1, 3, 3 }, Values(18, 0.8f))
                .Initializer("b", new long[] { 2 }, Values(2, 0.2f))
                .Initializer("bn_scale", new long[] { 2 }, Positive(2))
                .Initializer("bn_bias", new long[] { 2 }, Values(2, 0.3f))
                .Initializer("bn_mean", new long[] { 2 }, Values(2, 0.2f))
                .Initializer("bn_var", new long[] { 2 }, Positive(2))
                .Initializer("fc_w", new long[] { 3, 18 }, Values(54, 0.5f))
                .Initializer("fc_b", new long[] { 3 }, Values(3, 0.1f))
                .Node("Conv", new[] { InputName, "w", "b" }, new[] { "conv" }, "conv1", Ints("pads", 1, 1, 1, 1))
                .Node("BatchNormalization", new[] { "conv", "bn_scale", "bn_bias", "bn_mean", "bn_var" }, new[] { "bn" }, "bn1")
                .Node("Relu", new[] { "bn" }, new[] { "relu" }, "relu1")
                .Node("MaxPool", new[] { "relu" }, new[] { "pool" }, "pool1", Ints("kernel_shape", 2, 2), Ints("strides", 2, 2))
                .Node("Flatten", new[] { "pool" }, new[] { "flat" }, "flatten")
                .Node("Gemm", new[] { "flat", "fc_w", "fc_b" }, new[] { "logits" }, "fc", Int("transB", 1))
                .Output("logits")
                .Bytes();
        }

        /// <summary>Imports a model and runs the default float passes, as `netquant calibrate` does.</summary>
        public static (Graph Graph, IReadOnlyList<string> Passes) Prepare(byte[] model, string name = "tiny.onnx")
        {
            var import = OnnxImporter.Import(model, name);
            if (import.Graph == null) throw new InvalidOperationException(string.Join("; ", import.Diagnostics));
            var report = PassPipeline.FromNames(PassPipeline.DefaultOrder).Run(import.Graph);
            return (import.Graph, report.Ran);
        }

        /// <summary>Deterministic pseudo-random samples in [-1, 1] of the given length (fresh arrays).</summary>
        public static IEnumerable<float[]> Samples(int count, int length, int seed = 11)
        {
            var random = new Random(seed);
            for (int i = 0; i < count; i++)
                yield return Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        }
    }
}
