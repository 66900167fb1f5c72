using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Calibration;
using NetQuantGen.Compiler;
using NetQuantGen.Import;
using NetQuantGen.Passes;
using static NetQuantGen.Tests.OnnxBuilder;

namespace NetQuantGen.Tests
{
    /// <summary>Small synthetic models with random weights, and calibration statistics for them, for end-to-end tests.</summary>
    public static class TinyModels
    {
        /// <summary>
        /// Conv-BN-ReLU → MaxPool → depthwise Conv-BN-ReLU6 → Conv + residual Add → ReLU → GlobalAveragePool
        /// → Flatten → Gemm: one of every layer kind the sample models use. Input 1×3×12×12, output 1×5.
        /// </summary>
        public static byte[] ResidualCnn(int seed = 7)
        {
            var random = new Random(seed);
            float[] Random(int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();
            float[] Positive(int n) => Enumerable.Range(0, n).Select(_ => (float)(0.5 + random.NextDouble())).ToArray();
            return new OnnxBuilder()
                .Input("input", 1, 3, 12, 12)
                .Initializer("w1", new long[] { 8, 3, 3, 3 }, Random(216, 0.5f))
                .Initializer("b1", new long[] { 8 }, Random(8, 0.1f))
                .Initializer("bn1_scale", new long[] { 8 }, Positive(8))
                .Initializer("bn1_bias", new long[] { 8 }, Random(8, 0.2f))
                .Initializer("bn1_mean", new long[] { 8 }, Random(8, 0.3f))
                .Initializer("bn1_var", new long[] { 8 }, Positive(8))
                .Initializer("wd", new long[] { 8, 1, 3, 3 }, Random(72, 0.6f))
                .Initializer("bnd_scale", new long[] { 8 }, Positive(8))
                .Initializer("bnd_bias", new long[] { 8 }, Random(8, 0.2f))
                .Initializer("bnd_mean", new long[] { 8 }, Random(8, 0.3f))
                .Initializer("bnd_var", new long[] { 8 }, Positive(8))
                .Initializer("w2", new long[] { 8, 8, 1, 1 }, Random(64, 0.4f))
                .Initializer("b2", new long[] { 8 }, Random(8, 0.1f))
                .Initializer("fc_w", new long[] { 5, 8 }, Random(40, 0.5f))
                .Initializer("fc_b", new long[] { 5 }, Random(5, 0.1f))
                .Initializer("six", new long[0], new[] { 6f })
                .Initializer("zero", new long[0], new[] { 0f })
                .Node("Conv", new[] { "input", "w1", "b1" }, new[] { "c1" }, "conv1", Ints("pads", 1, 1, 1, 1))
                .Node("BatchNormalization", new[] { "c1", "bn1_scale", "bn1_bias", "bn1_mean", "bn1_var" }, new[] { "n1" }, "bn1")
                .Node("Relu", new[] { "n1" }, new[] { "r1" }, "relu1")
                .Node("MaxPool", new[] { "r1" }, new[] { "p1" }, "pool1", Ints("kernel_shape", 2, 2), Ints("strides", 2, 2))
                .Node("Conv", new[] { "p1", "wd" }, new[] { "cd" }, "dwconv", Ints("pads", 1, 1, 1, 1), Int("group", 8))
                .Node("BatchNormalization", new[] { "cd", "bnd_scale", "bnd_bias", "bnd_mean", "bnd_var" }, new[] { "nd" }, "bnd")
                .Node("Clip", new[] { "nd", "zero", "six" }, new[] { "rd" }, "relu6")
                .Node("Conv", new[] { "rd", "w2", "b2" }, new[] { "c2" }, "conv2")
                .Node("Add", new[] { "c2", "p1" }, new[] { "sum" }, "residual")
                .Node("Relu", new[] { "sum" }, new[] { "r2" }, "relu2")
                .Node("GlobalAveragePool", new[] { "r2" }, new[] { "gap" }, "gap")
                .Node("Flatten", new[] { "gap" }, new[] { "flat" }, "flatten")
                .Node("Gemm", new[] { "flat", "fc_w", "fc_b" }, new[] { "logits" }, "fc", Int("transB", 1))
                .Output("logits")
                .Bytes();
        }

        /// <summary>
        /// Conv(1→2, 3×3) + ReLU → MaxPool → Flatten → Gemm(8→3) on a 1×1×4×4 input, small enough to read
        /// its generated source. Weights and inputs are multiples of 1/16, so every float sum is exact in
        /// any order and the statistics (hence the snapshot) are the same on every machine.
        /// </summary>
        /// <summary>
        /// Layers whose shapes hit every kernel edge: a 3-channel 3×3 stride-2 first layer (patches), output channels
        /// that are not a multiple of 16 (20, 37, 13, 17), asymmetric padding with a 2-row dilation and a 2-column
        /// stride, a depthwise layer down to a one-pixel-wide image, a 3×3 convolution on that width-1 image, a Gemm.
        /// </summary>
        public static byte[] OddShapes(int seed = 11)
        {
            var random = new Random(seed);
            float[] Random(int n, float scale) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();
            return new OnnxBuilder()
                .Input("input", 1, 3, 11, 7)
                .Initializer("w1", new long[] { 20, 3, 3, 3 }, Random(540, 0.5f))
                .Initializer("b1", new long[] { 20 }, Random(20, 0.1f))
                .Initializer("w2", new long[] { 37, 20, 3, 2 }, Random(37 * 20 * 6, 0.3f))
                .Initializer("b2", new long[] { 37 }, Random(37, 0.1f))
                .Initializer("wd", new long[] { 37, 1, 3, 3 }, Random(37 * 9, 0.6f))
                .Initializer("bd", new long[] { 37 }, Random(37, 0.1f))
                .Initializer("w3", new long[] { 13, 37, 1, 1 }, Random(13 * 37, 0.4f))
                .Initializer("w4", new long[] { 17, 13, 3, 3 }, Random(17 * 13 * 9, 0.4f))
                .Initializer("b4", new long[] { 17 }, Random(17, 0.1f))
                .Initializer("fc_w", new long[] { 5, 34 }, Random(170, 0.5f))
                .Initializer("fc_b", new long[] { 5 }, Random(5, 0.1f))
                .Node("Conv", new[] { "input", "w1", "b1" }, new[] { "c1" }, "conv1", Ints("pads", 1, 1, 1, 1), Ints("strides", 2, 2))
                .Node("Relu", new[] { "c1" }, new[] { "r1" }, "relu1")
                .Node("Conv", new[] { "r1", "w2", "b2" }, new[] { "c2" }, "conv2", Ints("pads", 2, 1, 0, 0), Ints("strides", 1, 2), Ints("dilations", 2, 1))
                .Node("Relu", new[] { "c2" }, new[] { "r2" }, "relu2")
                .Node("Conv", new[] { "r2", "wd", "bd" }, new[] { "cd" }, "dwconv", Ints("pads", 1, 1, 1, 1), Ints("strides", 2, 2), Int("group", 37))
                .Node("Conv", new[] { "cd", "w3" }, new[] { "c3" }, "pointwise")
                .Node("Conv", new[] { "c3", "w4", "b4" }, new[] { "c4" }, "conv4", Ints("pads", 1, 1, 1, 1))
                .Node("Relu", new[] { "c4" }, new[] { "r4" }, "relu4")
                .Node("Flatten", new[] { "r4" }, new[] { "flat" }, "flatten")
                .Node("Gemm", new[] { "flat", "fc_w", "fc_b" }, new[] { "logits" }, "fc", Int("transB", 1))
                .Output("logits")
                .Bytes();
        }

        public static byte[] Snapshot()
        {
            float Dyadic(int i, int modulus) => ((i * 7) % modulus - modulus / 2) / 16f;
            return new OnnxBuilder()
                .Input("image", 1, 1, 4, 4)
                .Initializer("conv_w", new long[] { 2, 1, 3, 3 }, Enumerable.Range(0, 18).Select(i => Dyadic(i, 11)).ToArray())
                .Initializer("conv_b", new long[] { 2 }, new[] { 0.0625f, -0.125f })
                .Initializer("fc_w", new long[] { 3, 8 }, Enumerable.Range(0, 24).Select(i => Dyadic(i, 13)).ToArray())
                .Initializer("fc_b", new long[] { 3 }, new[] { 0.25f, 0f, -0.25f })
                .Node("Conv", new[] { "image", "conv_w", "conv_b" }, new[] { "conv" }, "conv", Ints("pads", 1, 1, 1, 1))
                .Node("Relu", new[] { "conv" }, new[] { "relu" }, "relu")
                .Node("MaxPool", new[] { "relu" }, new[] { "pool" }, "pool", Ints("kernel_shape", 2, 2), Ints("strides", 2, 2))
                .Node("Flatten", new[] { "pool" }, new[] { "flat" }, "flatten")
                .Node("Gemm", new[] { "flat", "fc_w", "fc_b" }, new[] { "scores" }, "fc", Int("transB", 1))
                .Output("scores")
                .Bytes();
        }

        /// <summary>Inputs that are multiples of 1/16 in [0, 1).</summary>
        public static IEnumerable<float[]> DyadicInputs(int count, int length)
        {
            for (int i = 0; i < count; i++)
                yield return Enumerable.Range(0, length).Select(j => ((i * 31 + j * 17) % 16) / 16f).ToArray();
        }

        public static IEnumerable<float[]> RandomInputs(int count, int length, int seed)
        {
            var random = new Random(seed);
            for (int i = 0; i < count; i++)
                yield return Enumerable.Range(0, length).Select(_ => (float)random.NextDouble()).ToArray();
        }

        /// <summary>Calibrates a model as netquant calibrate would: import, default float passes, two passes over the samples.</summary>
        public static byte[] Calibrate(byte[] model, string modelName, IReadOnlyList<float[]> samples, string? inputShape = null)
        {
            var options = new CompilationOptions { InputShape = inputShape };
            var input = new ModelInput(modelName, model, null, null, options, new TargetClass(null, "Unused", "internal", true));
            var graph = OnnxImporter.Import(model, modelName, ModelCompiler.ImportOptionsFor(input)).Graph!;
            var passes = PassPipeline.FromNames(options.PassNames());
            passes.Run(graph);
            var statistics = new Calibrator(graph).Run(() => samples,
                new CalibrationMetadata(ModelHash.Sha256Hex(model), modelName, passes.PassNames, "test samples"));
            return StatisticsFile.Write(statistics);
        }
    }
}
