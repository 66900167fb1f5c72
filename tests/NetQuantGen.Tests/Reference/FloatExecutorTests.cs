using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.IR;
using NetQuantGen.Reference;
using Xunit;

namespace NetQuantGen.Tests.Reference
{
    /// <summary>
    /// The float reference executor's fast paths (packed GEMM, im2col, pointwise, depthwise, matrix-vector)
    /// against naive loops written straight from the ONNX definitions, plus the executor's contract.
    /// </summary>
    public sealed class FloatExecutorTests
    {
        // ------------------------------------------------------------------ convolution

        public static IEnumerable<object[]> Convolutions => new[]
        {
            // input shape, weight shape, group, strides, dilations, pads (begins then ends), constant weights
            new object[] { new[] { 1, 3, 11, 13 }, new[] { 8, 3, 3, 3 }, 1, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, true },
            new object[] { new[] { 2, 5, 9, 10 }, new[] { 7, 5, 3, 2 }, 1, new[] { 2, 1 }, new[] { 1, 2 }, new[] { 0, 2, 1, 0 }, true },
            new object[] { new[] { 1, 16, 6, 6 }, new[] { 40, 16, 1, 1 }, 1, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 0, 0, 0, 0 }, true },   // pointwise
            new object[] { new[] { 1, 6, 8, 8 }, new[] { 12, 3, 3, 3 }, 2, new[] { 1, 1 }, new[] { 2, 2 }, new[] { 2, 2, 2, 2 }, true },    // grouped, dilated
            new object[] { new[] { 1, 8, 9, 9 }, new[] { 16, 1, 3, 3 }, 8, new[] { 2, 2 }, new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, true },    // depthwise ×2
            new object[] { new[] { 1, 8, 12, 12 }, new[] { 8, 1, 5, 5 }, 8, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 2, 2, 2, 2 }, true },   // depthwise
            new object[] { new[] { 1, 300, 4, 4 }, new[] { 70, 300, 3, 3 }, 1, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, true }, // depth blocks, few columns
            new object[] { new[] { 1, 64, 2, 2 }, new[] { 130, 64, 3, 3 }, 1, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, true }, // transposed product
            new object[] { new[] { 1, 40, 3, 3 }, new[] { 33, 40, 3, 3 }, 1, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 0, 0, 0, 0 }, true },  // one output position
            new object[] { new[] { 1, 20, 40, 40 }, new[] { 130, 20, 3, 3 }, 1, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, true }, // column blocks
            new object[] { new[] { 2, 4, 17 }, new[] { 6, 2, 4 }, 2, new[] { 3 }, new[] { 2 }, new[] { 3, 1 }, false },                    // 1-D, runtime weights
            new object[] { new[] { 1, 3, 5, 6, 7 }, new[] { 4, 3, 2, 3, 2 }, 1, new[] { 1, 2, 1 }, new[] { 2, 1, 1 }, new[] { 1, 0, 1, 0, 1, 1 }, true }, // 3-D
            new object[] { new[] { 1, 4, 7, 7 }, new[] { 4, 1, 3, 3 }, 4, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 1, 1, 1, 1 }, false },   // depthwise, runtime weights
        };

        [Theory]
        [MemberData(nameof(Convolutions))]
        public void ConvolutionMatchesTheDirectDefinition(int[] xShape, int[] wShape, int group, int[] strides, int[] dilations, int[] pads, bool constantWeights)
        {
            var random = new Random(xShape.Sum() * 31 + wShape.Sum());
            var x = RandomData(random, xShape);
            var w = RandomData(random, wShape);
            var b = RandomData(random, new[] { wShape[0] });
            var window = new Window(Array.Empty<int>(), strides, dilations, pads, AutoPad.NotSet, false);

            var xv = Input("x", xShape);
            var wv = constantWeights ? Constant("w", wShape, w) : Input("w", wShape);
            var y = Computed("y");
            var graph = Build(new[] { xv }.Concat(constantWeights ? Array.Empty<Value>() : new[] { wv }), y,
                new Node("conv", new Conv(window, group), new Value?[] { xv, wv, Constant("b", new[] { wShape[0] }, b) }, new[] { y }));

            var feed = new Dictionary<string, float[]> { ["x"] = x };
            if (!constantWeights) feed["w"] = w;
            var actual = new FloatExecutor(graph).Run(feed)["y"];

            var expected = NaiveConvolution(x, xShape, w, wShape, b, group, strides, dilations, pads, y.Shape);
            AssertClose(expected, actual, 1e-4);
        }

        [Fact]
        public void GroupedConvolutionEqualsPerGroupConvolutions()
        {
            var random = new Random(7);
            int[] xShape = { 2, 6, 10, 10 }, wShape = { 9, 2, 3, 3 };
            var x = RandomData(random, xShape);
            var w = RandomData(random, wShape);
            var window = new Window(Array.Empty<int>(), new[] { 2, 1 }, new[] { 1, 2 }, new[] { 1, 2, 0, 2 }, AutoPad.NotSet, false);

            var xv = Input("x", xShape);
            var y = Computed("y");
            var grouped = Build(new[] { xv }, y, new Node("conv", new Conv(window, 3), new Value?[] { xv, Constant("w", wShape, w) }, new[] { y }));
            var all = new FloatExecutor(grouped).Run(new Dictionary<string, float[]> { ["x"] = x })["y"];

            int outSpatial = y.Shape[2] * y.Shape[3];
            for (int g = 0; g < 3; g++)
            {
                // The group's two input channels and three filters as an ordinary convolution.
                var xg = new float[2 * 2 * 100];
                for (int n = 0; n < 2; n++)
                    Array.Copy(x, (n * 6 + 2 * g) * 100, xg, n * 200, 200);
                var wg = w.Skip(g * 3 * 18).Take(3 * 18).ToArray();
                var xgv = Input("x", new[] { 2, 2, 10, 10 });
                var yg = Computed("y");
                var single = Build(new[] { xgv }, yg, new Node("conv", new Conv(window, 1), new Value?[] { xgv, Constant("w", new[] { 3, 2, 3, 3 }, wg) }, new[] { yg }));
                var part = new FloatExecutor(single).Run(new Dictionary<string, float[]> { ["x"] = xg })["y"];
                for (int n = 0; n < 2; n++)
                    for (int m = 0; m < 3; m++)
                        for (int p = 0; p < outSpatial; p++)
                            Assert.Equal(part[(n * 3 + m) * outSpatial + p], all[(n * 9 + 3 * g + m) * outSpatial + p], 5);
            }
        }

        [Fact]
        public void FusedClampLimitsConvolutionAndAddOutputs()
        {
            var xv = Input("x", new[] { 1, 1, 2, 2 });
            var y = Computed("y");
            var z = Computed("z");
            var window = new Window(Array.Empty<int>(), Array.Empty<int>(), Array.Empty<int>(), Array.Empty<int>(), AutoPad.NotSet, false);
            var graph = Build(new[] { xv }, z,
                new Node("conv", new Conv(window, 1, new FusedClamp(0f, 6f)), new Value?[] { xv, Constant("w", new[] { 1, 1, 1, 1 }, new[] { 2f }) }, new[] { y }),
                new Node("add", new Binary(BinaryKind.Add, null, new FusedClamp(1f, 8f)), new Value?[] { y, y }, new[] { z }));
            var observed = new Dictionary<string, float[]>();
            new FloatExecutor(graph).Run(new Dictionary<string, float[]> { ["x"] = new[] { -1f, 1f, 2.5f, 4f } },
                (v, data) => observed[v.Name] = (float[])data.Clone());
            Assert.Equal(new[] { 0f, 2f, 5f, 6f }, observed["y"]);
            Assert.Equal(new[] { 1f, 4f, 8f, 8f }, observed["z"]);
        }

        // ------------------------------------------------------------------ matrix products

        [Theory]
        [InlineData(new[] { 3, 1, 5, 7 }, new[] { 4, 7, 6 })]
        [InlineData(new[] { 7 }, new[] { 2, 7, 20 })]
        [InlineData(new[] { 2, 9, 300 }, new[] { 300 })]
        [InlineData(new[] { 1, 70 }, new[] { 70, 33 })]
        [InlineData(new[] { 20, 260 }, new[] { 260, 40 })]
        public void MatMulBroadcastsBatchesAndPromotesVectors(int[] aShape, int[] bShape)
        {
            var random = new Random(aShape.Sum() + 3 * bShape.Sum());
            var a = RandomData(random, aShape);
            var b = RandomData(random, bShape);
            var av = Input("a", aShape);
            var bv = Input("b", bShape);
            var y = Computed("y");
            var graph = Build(new[] { av, bv }, y, new Node("mm", new MatMul(), new Value?[] { av, bv }, new[] { y }));
            var actual = new FloatExecutor(graph).Run(new Dictionary<string, float[]> { ["a"] = a, ["b"] = b })["y"];

            // numpy.matmul by its definition.
            var a2 = aShape.Length == 1 ? new[] { 1, aShape[0] } : aShape;
            var b2 = bShape.Length == 1 ? new[] { bShape[0], 1 } : bShape;
            int m = a2[a2.Length - 2], k = a2[a2.Length - 1], n = b2[b2.Length - 1];
            var aBatch = a2.Take(a2.Length - 2).ToArray();
            var bBatch = b2.Take(b2.Length - 2).ToArray();
            var batch = Shapes.Broadcast(aBatch, bBatch)!;
            var expected = new float[Shapes.ElementCount(batch) * m * n];
            for (int t = 0; t < Shapes.ElementCount(batch); t++)
            {
                int ta = BroadcastIndex(t, batch, aBatch), tb = BroadcastIndex(t, batch, bBatch);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        double s = 0;
                        for (int p = 0; p < k; p++) s += (double)a[(ta * m + i) * k + p] * b[(tb * k + p) * n + j];
                        expected[(t * m + i) * n + j] = (float)s;
                    }
            }
            Assert.Equal(expected.Length, actual.Length);
            AssertClose(expected, actual, 1e-4);
        }

        [Theory]
        [InlineData(false, false, new[] { 9 })]
        [InlineData(true, false, new[] { 5, 1 })]
        [InlineData(false, true, new int[0])]
        [InlineData(true, true, new[] { 5, 9 })]
        public void GemmAppliesTransposesAlphaBetaAndBroadcastsC(bool transA, bool transB, int[] cShape)
        {
            const int m = 5, n = 9, k = 300;
            var random = new Random(cShape.Length + (transA ? 2 : 0) + (transB ? 4 : 0));
            int[] aShape = transA ? new[] { k, m } : new[] { m, k }, bShape = transB ? new[] { n, k } : new[] { k, n };
            var a = RandomData(random, aShape);
            var b = RandomData(random, bShape);
            var c = RandomData(random, cShape);
            var av = Input("a", aShape);
            var y = Computed("y");
            var graph = Build(new[] { av }, y, new Node("gemm", new IR.Gemm(0.5f, -2f, transA, transB),
                new Value?[] { av, Constant("b", bShape, b), Constant("c", cShape, c) }, new[] { y }));
            var actual = new FloatExecutor(graph).Run(new Dictionary<string, float[]> { ["a"] = a })["y"];

            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++)
                        s += (double)(transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
                    double cv = cShape.Length switch { 0 => c[0], 1 => c[j], _ => cShape[1] == 1 ? c[i] : c[i * n + j] };
                    Assert.Equal(0.5 * s - 2 * cv, actual[i * n + j], 3);
                }
        }

        // ------------------------------------------------------------------ layout and element-wise

        [Theory]
        [InlineData(PadMode.Constant, new long[] { 1, -1, 2, 0 }, new[] { 9f, 9f, 2f, 3f, 5f, 6f, 9f, 9f, 9f, 9f })]
        [InlineData(PadMode.Wrap, new long[] { 0, 2, 1, 1 }, new[] { 2f, 3f, 1f, 2f, 3f, 1f, 5f, 6f, 4f, 5f, 6f, 4f, 2f, 3f, 1f, 2f, 3f, 1f })]
        [InlineData(PadMode.Reflect, new long[] { 1, 2, 0, 0 }, new[] { 6f, 5f, 4f, 5f, 6f, 3f, 2f, 1f, 2f, 3f, 6f, 5f, 4f, 5f, 6f })]
        [InlineData(PadMode.Edge, new long[] { 0, -1, 1, 2 }, new[] { 2f, 3f, 3f, 3f, 5f, 6f, 6f, 6f, 5f, 6f, 6f, 6f })]
        public void PadHandlesEveryModeAndNegativePads(PadMode mode, long[] pads, float[] expected)
        {
            // x = [[1, 2, 3], [4, 5, 6]]; pads are begins (rows, columns) then ends.
            var xv = Input("x", new[] { 2, 3 });
            var y = Computed("y");
            var graph = Build(new[] { xv }, y, new Node("pad", new Pad(mode, pads, 9f), new Value?[] { xv }, new[] { y }));
            var actual = new FloatExecutor(graph).Run(new[] { 1f, 2f, 3f, 4f, 5f, 6f });
            Assert.Equal(expected, actual);
        }

        [Fact]
        public void LegacyBroadcastAlignsBAtTheAxis()
        {
            // opset 6: Add(A [2x3x4], B [3], broadcast=1, axis=1) adds B along axis 1.
            var av = Input("a", new[] { 2, 3, 4 });
            var y = Computed("y");
            var graph = Build(new[] { av }, y, new Node("add", new Binary(BinaryKind.Sub, 1), new Value?[] { av, Constant("b", new[] { 3 }, new[] { 10f, 20f, 30f }) }, new[] { y }));
            var a = Enumerable.Range(0, 24).Select(i => (float)i).ToArray();
            var actual = new FloatExecutor(graph).Run(a);
            for (int i = 0; i < 24; i++) Assert.Equal(a[i] - 10f * (i / 4 % 3 + 1), actual[i]);
        }

        // ------------------------------------------------------------------ the executor's contract

        [Fact]
        public void ObserverSeesEveryGraphInputAndNodeOutputOnceInOrder()
        {
            var xv = Input("x", new[] { 1, 2, 4, 4 });
            var r = Computed("r");
            var p = Computed("p");
            var f = Computed("f");
            var graph = Build(new[] { xv }, f,
                new Node("relu", new Activation(ActivationKind.Relu), new Value?[] { xv }, new[] { r }),
                new Node("pool", new MaxPool(new Window(new[] { 2, 2 }, new[] { 2, 2 }, Array.Empty<int>(), Array.Empty<int>(), AutoPad.NotSet, false)), new Value?[] { r }, new[] { p }),
                new Node("flat", new Flatten(1), new Value?[] { p }, new[] { f }));
            var executor = new FloatExecutor(graph);
            var input = Enumerable.Range(0, 32).Select(i => (float)(i - 16)).ToArray();

            for (int run = 0; run < 2; run++)
            {
                var seen = new List<(string Name, float[] Data)>();
                executor.Run(new Dictionary<string, float[]> { ["x"] = input }, (v, data) => seen.Add((v.Name, (float[])data.Clone())));
                Assert.Equal(new[] { "x", "r", "p", "f" }, seen.Select(s => s.Name));
                Assert.Equal(input, seen[0].Data);
                Assert.Equal(input.Select(v => Math.Max(v, 0f)), seen[1].Data);
                Assert.Equal(new[] { 0f, 0f, 0f, 0f, 5f, 7f, 13f, 15f }, seen[3].Data);
            }
        }

        [Fact]
        public void RunReturnsCopiesThatLaterRunsDoNotOverwrite()
        {
            var xv = Input("x", new[] { 4 });
            var y = Computed("y");
            var graph = Build(new[] { xv }, y, new Node("sig", new Activation(ActivationKind.Sigmoid), new Value?[] { xv }, new[] { y }));
            var executor = new FloatExecutor(graph);
            var first = executor.Run(new Dictionary<string, float[]> { ["x"] = new[] { 0f, 0f, 0f, 0f } })["y"];
            var second = executor.Run(new[] { 100f, -200f, 0f, 1f });
            Assert.Equal(new[] { 0.5f, 0.5f, 0.5f, 0.5f }, first);
            Assert.Equal(new[] { 1f, 0f, 0.5f, (float)(1 / (1 + Math.Exp(-1))) }, second);
            Assert.NotSame(first, second);
        }

        [Fact]
        public void MissingOrMisSizedInputIsAnArgumentError()
        {
            var xv = Input("x", new[] { 4 });
            var y = Computed("y");
            var executor = new FloatExecutor(Build(new[] { xv }, y, new Node("id", new Identity(), new Value?[] { xv }, new[] { y })));
            Assert.Throws<ArgumentException>(() => executor.Run(new Dictionary<string, float[]>()));
            Assert.Throws<ArgumentException>(() => executor.Run(new float[3]));
        }

        // ------------------------------------------------------------------ helpers

        private static Value Input(string name, int[] shape) => new(name, ElementType.Float32, shape);

        private static Value Computed(string name) => new(name, ElementType.Float32, Array.Empty<int>());

        private static Value Constant(string name, int[] shape, float[] data) =>
            new(name, ElementType.Float32, shape, TensorData.FromFloats(shape, data));

        private static Graph Build(IEnumerable<Value> inputs, Value output, params Node[] nodes)
        {
            var graph = new Graph("test.onnx", inputs, new[] { output }, nodes);
            ShapeInference.Run(graph);
            return graph;
        }

        private static float[] RandomData(Random random, int[] shape) =>
            Enumerable.Range(0, (int)Shapes.ElementCount(shape)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

        private static int BroadcastIndex(int t, int[] batch, int[] operand)
        {
            // Row-major index into an operand's batch dims for the broadcast batch index t.
            int result = 0, stride = 1;
            for (int i = batch.Length - 1, j = operand.Length - 1; i >= 0; i--, j--)
            {
                int coordinate = t % batch[i];
                t /= batch[i];
                if (j < 0) continue;
                if (operand[j] != 1) result += coordinate * stride;
                stride *= operand[j];
            }
            return result;
        }

        private static void AssertClose(float[] expected, float[] actual, double tolerance)
        {
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++)
                if (Math.Abs(expected[i] - actual[i]) > tolerance * (1 + Math.Abs(expected[i])))
                    Assert.Fail($"element {i}: expected {expected[i]}, got {actual[i]}");
        }

        /// <summary>ONNX Conv by its definition, accumulated in double.</summary>
        private static float[] NaiveConvolution(float[] x, int[] xShape, float[] w, int[] wShape, float[] b, int group,
            int[] strides, int[] dilations, int[] pads, int[] yShape)
        {
            int rank = xShape.Length - 2;
            int cg = xShape[1] / group, mg = wShape[0] / group;
            var y = new float[Shapes.ElementCount(yShape)];
            var outSpatial = yShape.Skip(2).ToArray();
            var kernel = wShape.Skip(2).ToArray();
            var inSpatial = xShape.Skip(2).ToArray();
            var inStrides = Shapes.Strides(inSpatial);
            var kStrides = Shapes.Strides(kernel);
            int outCount = (int)Shapes.ElementCount(outSpatial), kCount = (int)Shapes.ElementCount(kernel), inCount = (int)Shapes.ElementCount(inSpatial);
            var o = new int[rank];
            for (int n = 0; n < yShape[0]; n++)
                for (int m = 0; m < yShape[1]; m++)
                    for (int p = 0; p < outCount; p++)
                    {
                        for (int a = rank - 1, r = p; a >= 0; a--) { o[a] = r % outSpatial[a]; r /= outSpatial[a]; }
                        double s = b[m];
                        int g = m / mg;
                        for (int c = 0; c < cg; c++)
                            for (int q = 0; q < kCount; q++)
                            {
                                int offset = 0;
                                bool inside = true;
                                for (int a = 0; a < rank; a++)
                                {
                                    int kk = q / kStrides[a] % kernel[a];
                                    int i = o[a] * strides[a] - pads[a] + kk * dilations[a];
                                    if (i < 0 || i >= inSpatial[a]) { inside = false; break; }
                                    offset += i * inStrides[a];
                                }
                                if (inside)
                                    s += (double)x[(n * xShape[1] + g * cg + c) * inCount + offset] * w[(m * cg + c) * kCount + q];
                            }
                        y[(n * yShape[1] + m) * outCount + p] = (float)s;
                    }
            return y;
        }
    }
}
