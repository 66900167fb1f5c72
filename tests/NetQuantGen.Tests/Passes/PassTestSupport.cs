using System;
using System.Linq;
using NetQuantGen.Import;
using NetQuantGen.IR;
using Xunit;
using static NetQuantGen.Tests.OnnxBuilder;

namespace NetQuantGen.Tests.Passes
{
    /// <summary>Small models and queries shared by the pass tests.</summary>
    internal static class PassTestSupport
    {
        public static Graph ImportModel(OnnxBuilder builder, ImportOptions? options = null)
        {
            var result = OnnxImporter.Import(builder.Bytes(), "pass-test.onnx", options);
            Assert.True(result.Succeeded, string.Join("\n", result.Diagnostics));
            return result.Graph!;
        }

        public static float[] Random(Random random, int count, float low = -1f, float high = 1f) =>
            Enumerable.Range(0, count).Select(_ => low + (float)random.NextDouble() * (high - low)).ToArray();

        /// <summary>A BatchNormalization over <paramref name="channels"/> with random, non-trivial parameters named {prefix}_scale, _bias, _mean, _var.</summary>
        public static OnnxBuilder BatchNorm(this OnnxBuilder b, Random random, string input, string output, int channels, string name = "bn")
        {
            var dims = new long[] { channels };
            // Some negative scales too: a BN before a ReLU may flip a channel's sign.
            var gamma = Random(random, channels, -1.5f, 1.5f).Select(g => Math.Abs(g) < 0.2f ? g + 0.5f : g).ToArray();
            return b.Initializer(name + "_scale", dims, gamma)
                .Initializer(name + "_bias", dims, Random(random, channels, -0.5f, 0.5f))
                .Initializer(name + "_mean", dims, Random(random, channels, -0.3f, 0.3f))
                .Initializer(name + "_var", dims, Random(random, channels, 0.2f, 2f))
                .Node("BatchNormalization", new[] { input, name + "_scale", name + "_bias", name + "_mean", name + "_var" }, new[] { output }, name,
                    Float("epsilon", 1e-5f));
        }

        /// <summary>x [1, inC, 6, 6] → Conv 3×3 pad 1 (weights "w", optional bias "b") → "c".</summary>
        public static OnnxBuilder ConvModel(Random random, int inC = 3, int outC = 4, int group = 1, bool bias = false)
        {
            var b = new OnnxBuilder().Input("x", 1, inC, 6, 6)
                .Initializer("w", new long[] { outC, inC / group, 3, 3 }, Random(random, outC * (inC / group) * 9, -0.5f, 0.5f));
            if (bias) b.Initializer("b", new long[] { outC }, Random(random, outC, -0.2f, 0.2f));
            return b.Node("Conv", bias ? new[] { "x", "w", "b" } : new[] { "x", "w" }, new[] { "c" }, "conv",
                Ints("pads", 1, 1, 1, 1), Int("group", group));
        }

        public static OnnxBuilder ClipBounds(this OnnxBuilder b, string prefix, float min, float max) =>
            b.Initializer(prefix + "_min", Array.Empty<long>(), new[] { min })
             .Initializer(prefix + "_max", Array.Empty<long>(), new[] { max });

        public static Node Single(Graph graph, string opType) => Assert.Single(graph.Nodes, n => n.Op.OpType == opType);

        public static Value ValueNamed(Graph graph, string name) => graph.Values().Single(v => v.Name == name);
    }
}
