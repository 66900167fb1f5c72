using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;
using static NetQuantGen.Emit.SourceWriter;

namespace NetQuantGen.Emit
{
    /// <summary>One planned layer of a FLOAT32 build: its method name, MACs and a writer for its method.</summary>
    public sealed class FloatLayer
    {
        internal FloatLayer(Node node, string name, long macCount, Action<SourceWriter> write)
        {
            Node = node;
            Name = name;
            MacCount = macCount;
            Write = write;
        }

        public Node Node { get; }

        public string Name { get; }

        public long MacCount { get; }

        /// <summary>Writes the layer's method (its comment, signature and body).</summary>
        public Action<SourceWriter> Write { get; }
    }

    /// <summary>
    /// The float constants of a FLOAT32 build. Weight matrices, and any constant too long to read as a literal,
    /// are baked as base64 of their little-endian float32 bytes in UTF-8 literals (fields of <c>BakedWeights</c>);
    /// short per-channel vectors become inline literal arrays.
    /// </summary>
    public sealed class FloatConstants
    {
        /// <summary>Constants up to this many elements are written as literals.</summary>
        public const int InlineLimit = 256;

        private readonly List<(string Field, float[] Data)> _baked = new();

        public IReadOnlyList<(string Field, float[] Data)> Baked => _baked;

        /// <summary>Bytes of every float constant the generated code holds (baked or inline).</summary>
        public long Bytes { get; private set; }

        /// <summary>A base64-baked field; returns the expression that reads it.</summary>
        public string Bake(string field, float[] data)
        {
            _baked.Add((field, data));
            Bytes += 4L * data.Length;
            return "BakedWeights." + field;
        }

        /// <summary>An inline literal array when short, a baked field otherwise; returns the initializer expression.</summary>
        public string Array(string field, float[] data)
        {
            if (data.Length > InlineLimit) return Bake(field, data);
            Bytes += 4L * data.Length;
            return "new float[] { " + string.Join(", ", data.Select(Float)) + " }";
        }

        public static string Base64(float[] values)
        {
            var bytes = new byte[4 * values.Length];
            Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
            if (!BitConverter.IsLittleEndian)
                for (int i = 0; i < bytes.Length; i += 4)
                    System.Array.Reverse(bytes, i, 4);
            return Convert.ToBase64String(bytes);
        }
    }

    /// <summary>
    /// Plans and writes one method per node of a float graph (after the float passes) for a FLOAT32 build:
    /// every shape, stride and loop bound a constant, a comment naming the ONNX node and its shapes, plain
    /// float loops that accumulate in kernel order. Planning validates the node (an operator or form this
    /// build does not handle is a <see cref="ModelException"/> with <see cref="DiagnosticCatalog.UnsupportedOperator"/>)
    /// and registers its constants, before anything is written.
    /// </summary>
    public static class FloatLayerEmitter
    {
        public static FloatLayer Plan(Graph graph, Node node, string name, ArenaPlan<Value> arena, FloatConstants constants)
        {
            var context = new LayerContext(graph, node, name, arena, constants);
            for (int i = 1; i < node.Outputs.Count; i++)
                if (graph.IsGraphOutput(node.Outputs[i]) || graph.ConsumersOf(node.Outputs[i]).Any())
                    throw context.Unsupported($"its output '{node.Outputs[i].Name}' is used; only the first output of a node can be");
            switch (node.Op)
            {
                case Conv conv: return Convolution(context, conv);
                case Gemm gemm: return Gemm(context, gemm);
                case IR.MatMul: return MatMul(context);
                case Binary binary: return Binary(context, binary);
                case BatchNormalization bn: return BatchNormalization(context, bn);
                case Activation activation: return Activation(context, activation);
                case IR.Clip: return Clip(context);
                case MaxPool pool: return Pool(context, pool.Window, average: false, countIncludePad: false);
                case AveragePool pool: return Pool(context, pool.Window, average: true, pool.CountIncludePad);
                case IR.GlobalAveragePool: return GlobalAveragePool(context);
                case Flatten:
                case Reshape:
                case Squeeze:
                case Unsqueeze:
                case Identity:
                    return Copy(context);
                case Transpose transpose: return Transpose(context, transpose);
                case Concat concat: return Concat(context, concat);
                case Pad pad: return Pad(context, pad);
                case Softmax softmax: return Softmax(context, softmax);
                default: throw context.Unsupported("the FLOAT32 build has no kernel for this operator");
            }
        }

        /// <summary>What every layer planner needs: the node, its method name, where its tensors live, the constant table.</summary>
        private sealed class LayerContext
        {
            public LayerContext(Graph graph, Node node, string name, ArenaPlan<Value> arena, FloatConstants constants)
            {
                Graph = graph;
                Node = node;
                Name = name;
                Arena = arena;
                Constants = constants;
            }

            public Graph Graph { get; }
            public Node Node { get; }
            public string Name { get; }
            public ArenaPlan<Value> Arena { get; }
            public FloatConstants Constants { get; }
            public Value Output => Node.Output;

            /// <summary>Data inputs: those the method reads as spans (constants included, from their baked data).</summary>
            public List<(string Local, string Source)> Reads { get; } = new();

            public ModelException Unsupported(string detail) =>
                new(DiagnosticCatalog.UnsupportedOperator,
                    $"Model '{Graph.ModelName}': node '{Node.Name}' ({Node.Op.OpType}) cannot be built in FLOAT32: {detail}.");

            /// <summary>Declares a span local for a data input: its arena slice, or its constant data.</summary>
            public void Read(string local, Value value, string role)
            {
                string source = value.Constant != null
                    ? Constants.Array($"{Name}_{role}", value.Constant.ToFloats())
                    : $"arena.Slice({Int(Arena.OffsetOf(value))}, {Int(value.ElementCount)})";
                Reads.Add((local, source));
            }

            /// <summary>A constant input's data, or an error naming what must be constant.</summary>
            public float[] ConstantOf(Value? value, string what)
            {
                if (value?.Constant == null) throw Unsupported($"{what} must be a constant (an initializer)");
                return value.Constant.ToFloats();
            }

            /// <summary>The layer: comment, signature, data locals, then the body.</summary>
            public FloatLayer Layer(long macCount, Action<SourceWriter> body, params string[] notes) => new(Node, Name, macCount, w =>
            {
                w.Line($"// {Node.Op.OpType} from ONNX node '{Comment(Node.Name)}'");
                foreach (var input in Node.Inputs)
                    if (input != null)
                        w.Line($"//   in  '{Comment(input.Name)}' {Shapes.Format(input.Shape)}{(input.IsConstant ? " constant" : "")}");
                w.Line($"//   out '{Comment(Output.Name)}' {Shapes.Format(Output.Shape)}");
                foreach (var note in notes) w.Line("// " + note);
                using (w.Block($"private static void {Name}(Span<float> arena)"))
                {
                    foreach (var (local, source) in Reads)
                        w.Line($"ReadOnlySpan<float> {local} = {source};");
                    w.Line($"Span<float> y = arena.Slice({Int(Arena.OffsetOf(Output))}, {Int(Output.ElementCount)});");
                    body(w);
                }
            });
        }

        /// <summary>Names from the model may hold anything; a comment must stay on its line.</summary>
        private static string Comment(string text) =>
            new string(text.Select(c => char.IsControl(c) || c == '\u2028' || c == '\u2029' ? ' ' : c).ToArray());

        // ------------------------------------------------------------------ windows (Conv, pools)

        /// <summary>A 1-D or 2-D window seen as 2-D (a 1-D one has height 1).</summary>
        private sealed record Geometry(int InH, int InW, int OutH, int OutW, int KH, int KW, int StrideH, int StrideW,
            int DilationH, int DilationW, int PadTop, int PadLeft, int PadBottom, int PadRight)
        {
            public string Describe() =>
                $"kernel {Int(KH)}x{Int(KW)}, stride {Int(StrideH)}x{Int(StrideW)}, dilation {Int(DilationH)}x{Int(DilationW)}, " +
                $"pads (top {Int(PadTop)}, left {Int(PadLeft)}, bottom {Int(PadBottom)}, right {Int(PadRight)})";
        }

        private static Geometry Geometry2D(LayerContext c, Window win, int[] x, int[] y)
        {
            if (win.Rank == 2)
                return new Geometry(x[2], x[3], y[2], y[3], win.KernelShape[0], win.KernelShape[1], win.Strides[0], win.Strides[1],
                    win.Dilations[0], win.Dilations[1], win.PadBegin(0), win.PadBegin(1), win.PadEnd(0), win.PadEnd(1));
            if (win.Rank == 1)
                return new Geometry(1, x[2], 1, y[2], 1, win.KernelShape[0], 1, win.Strides[0], 1, win.Dilations[0], 0, win.PadBegin(0), 0, win.PadEnd(0));
            throw c.Unsupported($"{win.Rank}-D windows are not supported (1-D and 2-D are)");
        }

        /// <summary>Statements that clamp the local <c>v</c> (none without a clamp; an infinite side is left out).</summary>
        private static void Clamp(SourceWriter w, float min, float max)
        {
            if (!float.IsNaN(min) && !float.IsNegativeInfinity(min)) w.Line($"if (v < {Float(min)}) v = {Float(min)};");
            if (!float.IsNaN(max) && !float.IsPositiveInfinity(max)) w.Line($"if (v > {Float(max)}) v = {Float(max)};");
        }

        private static void Clamp(SourceWriter w, FusedClamp? clamp)
        {
            if (clamp != null) Clamp(w, clamp.Min, clamp.Max);
        }

        private static string DescribeClamp(FusedClamp? clamp) =>
            clamp == null ? "no fused activation" : $"fused clamp [{Show(clamp.Min)}, {Show(clamp.Max)}]";

        /// <summary>A number for a comment: round-trip digits, no suffix.</summary>
        private static string Show(float value) =>
            float.IsPositiveInfinity(value) ? "+inf" : float.IsNegativeInfinity(value) ? "-inf" : value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

        // ------------------------------------------------------------------ layers

        private static FloatLayer Convolution(LayerContext c, Conv conv)
        {
            var node = c.Node;
            var x = node.Input(0);
            var weights = c.ConstantOf(node.Input(1), "the weight W");
            var biasValue = node.OptionalInput(2);
            var bias = biasValue == null ? null : c.ConstantOf(biasValue, "the bias B");
            var g = Geometry2D(c, conv.Window, x.Shape, c.Output.Shape);
            var wShape = node.Input(1).Shape;
            int batch = x.Shape[0], inChannels = x.Shape[1], outChannels = c.Output.Shape[1];
            int groupIn = wShape[1], groupOut = outChannels / conv.Group;
            c.Read("x", x, "X");
            string weightsField = c.Constants.Bake($"{c.Name}_Weights", weights);
            string? biasSource = bias == null ? null : c.Constants.Array($"{c.Name}_Bias", bias);
            long macs = c.Output.ElementCount * groupIn * g.KH * g.KW;
            return c.Layer(macs, w =>
            {
                w.Line($"const int Batch = {Int(batch)}, InChannels = {Int(inChannels)}, InH = {Int(g.InH)}, InW = {Int(g.InW)};");
                w.Line($"const int OutChannels = {Int(outChannels)}, OutH = {Int(g.OutH)}, OutW = {Int(g.OutW)};");
                w.Line($"const int GroupIn = {Int(groupIn)}, GroupOut = {Int(groupOut)}, KH = {Int(g.KH)}, KW = {Int(g.KW)};");
                w.Line($"const int StrideH = {Int(g.StrideH)}, StrideW = {Int(g.StrideW)}, DilationH = {Int(g.DilationH)}, DilationW = {Int(g.DilationW)}, PadTop = {Int(g.PadTop)}, PadLeft = {Int(g.PadLeft)};");
                w.Line($"ReadOnlySpan<float> weights = {weightsField};");
                if (biasSource != null) w.Line($"ReadOnlySpan<float> bias = {biasSource};");
                using (w.Block("for (int n = 0; n < Batch; n++)"))
                using (w.Block("for (int m = 0; m < OutChannels; m++)"))
                {
                    w.Line("int firstChannel = m / GroupOut * GroupIn;");
                    using (w.Block("for (int oy = 0; oy < OutH; oy++)"))
                    {
                        w.Line("int iy0 = oy * StrideH - PadTop;");
                        w.Line("// Kernel rows that land inside the input; padding adds nothing.");
                        w.Line("int kyBegin = iy0 < 0 ? (-iy0 + DilationH - 1) / DilationH : 0;");
                        w.Line("int kyEnd = Math.Min(KH, (InH - iy0 + DilationH - 1) / DilationH);");
                        using (w.Block("for (int ox = 0; ox < OutW; ox++)"))
                        {
                            w.Line("int ix0 = ox * StrideW - PadLeft;");
                            w.Line("int kxBegin = ix0 < 0 ? (-ix0 + DilationW - 1) / DilationW : 0;");
                            w.Line("int kxEnd = Math.Min(KW, (InW - ix0 + DilationW - 1) / DilationW);");
                            w.Line("float acc = 0f;");
                            using (w.Block("for (int ci = 0; ci < GroupIn; ci++)"))
                            {
                                w.Line("int plane = (n * InChannels + firstChannel + ci) * InH;");
                                w.Line("int kernel = (m * GroupIn + ci) * KH;");
                                using (w.Block("for (int ky = kyBegin; ky < kyEnd; ky++)"))
                                {
                                    w.Line("int row = (plane + iy0 + ky * DilationH) * InW + ix0;");
                                    w.Line("int weightRow = (kernel + ky) * KW;");
                                    using (w.Block("for (int kx = kxBegin; kx < kxEnd; kx++)"))
                                        w.Line("acc += weights[weightRow + kx] * x[row + kx * DilationW];");
                                }
                            }
                            w.Line(biasSource != null ? "float v = acc + bias[m];" : "float v = acc;");
                            Clamp(w, conv.Fused);
                            w.Line("y[((n * OutChannels + m) * OutH + oy) * OutW + ox] = v;");
                        }
                    }
                }
            },
            $"weights {Shapes.Format(wShape)} float32{(bias == null ? ", no bias" : "")}; group {Int(conv.Group)}",
            $"{g.Describe()}; {DescribeClamp(conv.Fused)}");
        }

        /// <summary>Writes rows × N outputs y[r, j] = Σ_k a[r, k]·weights[j, k] (weights baked as [N × K]), then the epilogue.</summary>
        private static void MatrixLoop(SourceWriter w, int rows, int n, int k, string weightsField, Action<SourceWriter> epilogue)
        {
            w.Line($"const int Rows = {Int(rows)}, N = {Int(n)}, K = {Int(k)};");
            w.Line($"ReadOnlySpan<float> weights = {weightsField};");
            using (w.Block("for (int i = 0; i < Rows; i++)"))
            {
                w.Line("ReadOnlySpan<float> a = x.Slice(i * K, K);");
                using (w.Block("for (int j = 0; j < N; j++)"))
                {
                    w.Line("ReadOnlySpan<float> b = weights.Slice(j * K, K);");
                    w.Line("float acc = 0f;");
                    using (w.Block("for (int p = 0; p < K; p++)"))
                        w.Line("acc += a[p] * b[p];");
                    epilogue(w);
                    w.Line("y[i * N + j] = v;");
                }
            }
        }

        /// <summary>B [K × N] (or [N × K] when already transposed) as the [N × K] rows the matrix loop reads.</summary>
        private static float[] RowsOfColumns(float[] b, int k, int n, bool transposed)
        {
            if (transposed) return b;
            var result = new float[b.Length];
            for (int p = 0; p < k; p++)
                for (int j = 0; j < n; j++)
                    result[j * k + p] = b[p * n + j];
            return result;
        }

        private static FloatLayer Gemm(LayerContext c, Gemm gemm)
        {
            var node = c.Node;
            if (gemm.TransA) throw c.Unsupported("transA = 1 is not supported");
            var a = node.Input(0);
            var bShape = node.Input(1).Shape;
            var b = c.ConstantOf(node.Input(1), "B");
            int m = c.Output.Shape[0], n = c.Output.Shape[1], k = a.Shape[1];
            c.Read("x", a, "A");
            string weightsField = c.Constants.Bake($"{c.Name}_B", RowsOfColumns(b, k, n, gemm.TransB));
            var cValue = node.OptionalInput(2);
            bool addC = cValue != null && gemm.Beta != 0f;
            string cIndex = "0";
            if (addC)
            {
                var cShape = cValue!.Shape;
                int cm = cShape.Length >= 2 ? cShape[cShape.Length - 2] : 1, cn = cShape.Length >= 1 ? cShape[cShape.Length - 1] : 1;
                // C broadcasts to [M x N]: a row index only when it has rows, a column index only when it has columns.
                var terms = new List<string>();
                if (cm != 1) terms.Add(cn == 1 ? "i" : "i * N");
                if (cn != 1) terms.Add("j");
                cIndex = terms.Count == 0 ? "0" : string.Join(" + ", terms);
                c.Read("c", cValue, "C");
            }
            return c.Layer((long)m * n * k, w => MatrixLoop(w, m, n, k, weightsField, e =>
            {
                string value = gemm.Alpha == 1f ? "acc" : $"{Float(gemm.Alpha)} * acc";
                if (addC) value += gemm.Beta == 1f ? $" + c[{cIndex}]" : $" + {Float(gemm.Beta)} * c[{cIndex}]";
                e.Line($"float v = {value};");
                Clamp(e, gemm.Fused);
            }),
            $"Y = alpha·A·B{(gemm.TransB ? "ᵀ" : "")} + beta·C with alpha {Show(gemm.Alpha)}, beta {Show(gemm.Beta)}; B {Shapes.Format(bShape)} baked as [{Int(n)}x{Int(k)}] (one row per output column)",
            DescribeClamp(gemm.Fused));
        }

        private static FloatLayer MatMul(LayerContext c)
        {
            var node = c.Node;
            var a = node.Input(0);
            var bValue = node.Input(1);
            if (bValue.Shape.Length != 2) throw c.Unsupported($"B {Shapes.Format(bValue.Shape)} must be a 2-D matrix");
            var b = c.ConstantOf(bValue, "B");
            int k = bValue.Shape[0], n = bValue.Shape[1];
            int rows = (int)(a.ElementCount / k);
            c.Read("x", a, "A");
            string weightsField = c.Constants.Bake($"{c.Name}_B", RowsOfColumns(b, k, n, transposed: false));
            return c.Layer((long)rows * n * k, w => MatrixLoop(w, rows, n, k, weightsField, e => e.Line("float v = acc;")),
                $"A as [{Int(rows)}x{Int(k)}] rows; B {Shapes.Format(bValue.Shape)} baked as [{Int(n)}x{Int(k)}] (one row per output column)");
        }

        private static FloatLayer Binary(LayerContext c, Binary binary)
        {
            var node = c.Node;
            var a = node.Input(0);
            var bValue = node.Input(1);
            var context = new ShapeInference.Context(c.Graph.ModelName, node);
            var bShape = ShapeInference.EffectiveShapeOfB(binary, a.Shape, bValue.Shape, context);
            var y = c.Output.Shape;

            // Merge adjacent axes that broadcast alike, so loops are few and long.
            var dims = new List<(int Size, bool AFull, bool BFull)>();
            int rank = y.Length;
            for (int i = 0; i < rank; i++)
            {
                int d = y[i];
                if (d == 1) continue;
                int da = i < rank - a.Shape.Length ? 1 : a.Shape[i - (rank - a.Shape.Length)];
                int db = i < rank - bShape.Length ? 1 : bShape[i - (rank - bShape.Length)];
                bool fa = da == d, fb = db == d;
                if (dims.Count > 0 && dims[dims.Count - 1].AFull == fa && dims[dims.Count - 1].BFull == fb)
                    dims[dims.Count - 1] = (dims[dims.Count - 1].Size * d, fa, fb);
                else
                    dims.Add((d, fa, fb));
            }
            if (dims.Count == 0) dims.Add((1, true, true));
            string Index(Func<(int Size, bool AFull, bool BFull), bool> full)
            {
                var terms = new List<string>();
                int stride = 1;
                for (int i = dims.Count - 1; i >= 0; i--)
                {
                    if (!full(dims[i])) continue;
                    terms.Insert(0, stride == 1 ? $"i{i}" : $"i{i} * {Int(stride)}");
                    stride *= dims[i].Size;
                }
                return terms.Count == 0 ? "0" : string.Join(" + ", terms);
            }
            string aIndex = Index(d => d.AFull), bIndex = Index(d => d.BFull);
            string op = binary.Kind switch { BinaryKind.Add => "+", BinaryKind.Sub => "-", BinaryKind.Mul => "*", _ => "/" };
            c.Read("x0", a, "A");
            c.Read("x1", bValue, "B");
            string layout = Shapes.Equal(a.Shape, y) && Shapes.Equal(bShape, y)
                ? "same shapes, element by element"
                : $"broadcast {Shapes.Format(a.Shape)} {op} {Shapes.Format(bShape)} as loops [{string.Join(", ", dims.Select(d => Int(d.Size)))}]";
            return c.Layer(0, w =>
            {
                if (dims.Count == 1 && dims[0].AFull && dims[0].BFull)
                {
                    using (w.Block($"for (int i = 0; i < {Int(dims[0].Size)}; i++)"))
                    {
                        w.Line($"float v = x0[i] {op} x1[i];");
                        Clamp(w, binary.Fused);
                        w.Line("y[i] = v;");
                    }
                    return;
                }
                // y is walked in order (i); each operand's index skips the axes it is broadcast along.
                w.Line("int i = 0;");
                for (int d = 0; d < dims.Count; d++) w.Open($"for (int i{d} = 0; i{d} < {Int(dims[d].Size)}; i{d}++)");
                w.Line($"float v = x0[{aIndex}] {op} x1[{bIndex}];");
                Clamp(w, binary.Fused);
                w.Line("y[i++] = v;");
                for (int d = 0; d < dims.Count; d++) w.Close();
            }, $"y = a {op} b: {layout}; {DescribeClamp(binary.Fused)}");
        }

        private static FloatLayer BatchNormalization(LayerContext c, BatchNormalization bn)
        {
            var node = c.Node;
            var x = node.Input(0);
            var scale = c.ConstantOf(node.Input(1), "scale");
            var bias = c.ConstantOf(node.Input(2), "B");
            var mean = c.ConstantOf(node.Input(3), "mean");
            var variance = c.ConstantOf(node.Input(4), "var");
            int batch = x.Shape[0], channels = x.Shape[1];
            int spatial = (int)(x.ElementCount / ((long)batch * channels));
            // The per-channel factor scale/√(var + ε) is computed here, once, as the float reference does it.
            var factor = scale.Select((s, i) => (float)(s / Math.Sqrt((double)variance[i] + bn.Epsilon))).ToArray();
            c.Read("x", x, "X");
            string meanSource = c.Constants.Array($"{c.Name}_Mean", mean);
            string factorSource = c.Constants.Array($"{c.Name}_Factor", factor);
            string biasSource = c.Constants.Array($"{c.Name}_Bias", bias);
            return c.Layer(0, w =>
            {
                w.Line($"const int Batch = {Int(batch)}, Channels = {Int(channels)}, Spatial = {Int(spatial)};");
                w.Line($"ReadOnlySpan<float> mean = {meanSource};");
                w.Line($"ReadOnlySpan<float> factor = {factorSource};");
                w.Line($"ReadOnlySpan<float> bias = {biasSource};");
                using (w.Block("for (int n = 0; n < Batch; n++)"))
                using (w.Block("for (int ch = 0; ch < Channels; ch++)"))
                {
                    w.Line("float m = mean[ch], f = factor[ch], b = bias[ch];");
                    w.Line("int start = (n * Channels + ch) * Spatial;");
                    using (w.Block("for (int i = start; i < start + Spatial; i++)"))
                        w.Line("y[i] = (x[i] - m) * f + b;");
                }
            }, $"inference batch normalization, epsilon {Show(bn.Epsilon)}: y = (x − mean[c]) · factor[c] + B[c], factor = scale / √(var + ε) computed at build time");
        }

        private static FloatLayer Activation(LayerContext c, Activation activation)
        {
            c.Read("x", c.Node.Input(0), "X");
            long count = c.Output.ElementCount;
            string formula;
            Action<SourceWriter> body;
            switch (activation.Kind)
            {
                case ActivationKind.Relu:
                    formula = "y = max(x, 0)";
                    body = w => w.Line("y[i] = x[i] > 0f ? x[i] : 0f;");
                    break;
                case ActivationKind.LeakyRelu:
                    formula = $"y = x ≥ 0 ? x : {Show(activation.Alpha)}·x";
                    body = w => w.Line($"y[i] = x[i] >= 0f ? x[i] : {Float(activation.Alpha)} * x[i];");
                    break;
                case ActivationKind.Sigmoid:
                    formula = "y = 1 / (1 + e^−x), in double";
                    body = w => w.Line("y[i] = (float)(1.0 / (1.0 + Math.Exp(-(double)x[i])));");
                    break;
                case ActivationKind.HardSigmoid:
                    formula = $"y = clamp({Show(activation.Alpha)}·x + {Show(activation.Beta)}, 0, 1)";
                    body = w => w.Line($"y[i] = Math.Max(0f, Math.Min(1f, {Float(activation.Alpha)} * x[i] + {Float(activation.Beta)}));");
                    break;
                case ActivationKind.HardSwish:
                    formula = "y = x · clamp(x/6 + 1/2, 0, 1)";
                    body = w => w.Line($"y[i] = x[i] * Math.Max(0f, Math.Min(1f, {Float(1f / 6f)} * x[i] + 0.5f));");
                    break;
                default:
                    throw c.Unsupported($"activation {activation.Kind} has no FLOAT32 kernel");
            }
            return c.Layer(0, w =>
            {
                using (w.Block($"for (int i = 0; i < {Int(count)}; i++)"))
                    body(w);
            }, formula);
        }

        private static FloatLayer Clip(LayerContext c)
        {
            var node = c.Node;
            float min = float.NegativeInfinity, max = float.PositiveInfinity;
            if (node.OptionalInput(1) is Value minValue) min = c.ConstantOf(minValue, "the lower bound")[0];
            if (node.OptionalInput(2) is Value maxValue) max = c.ConstantOf(maxValue, "the upper bound")[0];
            c.Read("x", node.Input(0), "X");
            return c.Layer(0, w =>
            {
                using (w.Block($"for (int i = 0; i < {Int(c.Output.ElementCount)}; i++)"))
                {
                    w.Line("float v = x[i];");
                    Clamp(w, min, max);
                    w.Line("y[i] = v;");
                }
            }, $"clip to [{Show(min)}, {Show(max)}]");
        }

        private static FloatLayer Pool(LayerContext c, Window window, bool average, bool countIncludePad)
        {
            var x = c.Node.Input(0);
            var g = Geometry2D(c, window, x.Shape, c.Output.Shape);
            c.Read("x", x, "X");
            int planes = x.Shape[0] * x.Shape[1];
            string what = !average
                ? "max over the part of the window inside the input"
                : countIncludePad
                    ? "average over the window positions inside the padded input (padding counts as 0)"
                    : "average over the part of the window inside the input";
            return c.Layer(0, w =>
            {
                w.Line($"const int Planes = {Int(planes)}, InH = {Int(g.InH)}, InW = {Int(g.InW)}, OutH = {Int(g.OutH)}, OutW = {Int(g.OutW)};");
                w.Line($"const int KH = {Int(g.KH)}, KW = {Int(g.KW)}, StrideH = {Int(g.StrideH)}, StrideW = {Int(g.StrideW)}, DilationH = {Int(g.DilationH)}, DilationW = {Int(g.DilationW)};");
                w.Line(average && countIncludePad
                    ? $"const int PadTop = {Int(g.PadTop)}, PadLeft = {Int(g.PadLeft)}, PadBottom = {Int(g.PadBottom)}, PadRight = {Int(g.PadRight)};"
                    : $"const int PadTop = {Int(g.PadTop)}, PadLeft = {Int(g.PadLeft)};");
                using (w.Block("for (int plane = 0; plane < Planes; plane++)"))
                using (w.Block("for (int oy = 0; oy < OutH; oy++)"))
                using (w.Block("for (int ox = 0; ox < OutW; ox++)"))
                {
                    w.Line(average ? "float sum = 0f;" : "float max = float.NegativeInfinity;");
                    if (average) w.Line("int count = 0;");
                    using (w.Block("for (int ky = 0; ky < KH; ky++)"))
                    {
                        w.Line("int iy = oy * StrideH - PadTop + ky * DilationH;");
                        using (w.Block("for (int kx = 0; kx < KW; kx++)"))
                        {
                            w.Line("int ix = ox * StrideW - PadLeft + kx * DilationW;");
                            using (w.Block("if (iy < 0 || iy >= InH || ix < 0 || ix >= InW)"))
                            {
                                if (average && countIncludePad)
                                    w.Line("if (iy < InH + PadBottom && ix < InW + PadRight) count++; // a padded position (ceil_mode's extra positions never count)");
                                w.Line("continue;");
                            }
                            w.Line("float v = x[(plane * InH + iy) * InW + ix];");
                            if (average)
                            {
                                w.Line("sum += v;");
                                w.Line("count++;");
                            }
                            else
                                w.Line("if (v > max || float.IsNaN(v)) max = v;");
                        }
                    }
                    w.Line($"y[(plane * OutH + oy) * OutW + ox] = {(average ? "sum / count" : "max")};");
                }
            }, $"{what}; {g.Describe()}; ceil_mode {(window.CeilMode ? 1 : 0)}");
        }

        private static FloatLayer GlobalAveragePool(LayerContext c)
        {
            var x = c.Node.Input(0);
            int planes = x.Shape[0] * x.Shape[1];
            int spatial = (int)(x.ElementCount / planes);
            c.Read("x", x, "X");
            return c.Layer(0, w =>
            {
                w.Line($"const int Planes = {Int(planes)}, Spatial = {Int(spatial)};");
                using (w.Block("for (int plane = 0; plane < Planes; plane++)"))
                {
                    w.Line("float sum = 0f;");
                    using (w.Block("for (int i = plane * Spatial; i < (plane + 1) * Spatial; i++)"))
                        w.Line("sum += x[i];");
                    w.Line("y[plane] = sum / Spatial;");
                }
            }, "mean over every spatial position of each channel");
        }

        private static FloatLayer Copy(LayerContext c)
        {
            c.Read("x", c.Node.Input(0), "X");
            return c.Layer(0, w => w.Line("x.CopyTo(y);"), "same elements, new shape: a copy");
        }

        private static FloatLayer Transpose(LayerContext c, Transpose transpose)
        {
            var x = c.Node.Input(0);
            var perm = transpose.Perm ?? Enumerable.Range(0, x.Shape.Length).Reverse().ToArray();
            var outShape = c.Output.Shape;
            var inStrides = Shapes.Strides(x.Shape);
            c.Read("x", x, "X");
            return c.Layer(0, w =>
            {
                if (outShape.Length == 0)
                {
                    w.Line("x.CopyTo(y);");
                    return;
                }
                string source = string.Join(" + ", Enumerable.Range(0, outShape.Length).Select(d => $"i{d} * {Int(inStrides[perm[d]])}"));
                for (int d = 0; d < outShape.Length; d++) w.Open($"for (int i{d} = 0; i{d} < {Int(outShape[d])}; i{d}++)");
                w.Line($"y[{Flat(outShape)}] = x[{source}];");
                for (int d = 0; d < outShape.Length; d++) w.Close();
            }, $"transpose with perm [{Ints(perm)}]");
        }

        private static FloatLayer Concat(LayerContext c, Concat concat)
        {
            var node = c.Node;
            var shape = c.Output.Shape;
            int axis = concat.Axis;
            int outer = (int)Shapes.ElementCount(shape.Take(axis).ToArray());
            int inner = (int)Shapes.ElementCount(shape.Skip(axis + 1).ToArray());
            int outBlock = shape[axis] * inner;
            for (int k = 0; k < node.Inputs.Count; k++) c.Read($"x{k}", node.Input(k), $"X{k}");
            return c.Layer(0, w =>
            {
                int offset = 0;
                for (int k = 0; k < node.Inputs.Count; k++)
                {
                    int block = node.Input(k).Shape[axis] * inner;
                    using (w.Block($"for (int o = 0; o < {Int(outer)}; o++)"))
                        w.Line($"x{k}.Slice(o * {Int(block)}, {Int(block)}).CopyTo(y.Slice(o * {Int(outBlock)} + {Int(offset)}, {Int(block)}));");
                    offset += block;
                }
            }, $"concatenation along axis {Int(axis)}: per outer index, each input's block in turn");
        }

        private static FloatLayer Pad(LayerContext c, Pad pad)
        {
            if (pad.Mode != PadMode.Constant) throw c.Unsupported($"{pad.Mode.ToString().ToLowerInvariant()} padding is not supported (constant padding is)");
            var x = c.Node.Input(0);
            var inShape = x.Shape;
            var outShape = c.Output.Shape;
            int rank = inShape.Length;
            var inStrides = Shapes.Strides(inShape);
            c.Read("x", x, "X");
            return c.Layer(0, w =>
            {
                w.Line($"y.Fill({Float(pad.ConstantValue)});");
                for (int d = 0; d < rank; d++)
                {
                    // Negative pads crop: output i reads input i − pad.
                    long begin = Math.Max(0, pad.Pads[d]);
                    long end = Math.Min(outShape[d], inShape[d] + pad.Pads[d]);
                    w.Open($"for (int i{d} = {Int(begin)}; i{d} < {Int(end)}; i{d}++)");
                }
                string source = string.Join(" + ", Enumerable.Range(0, rank).Select(d => $"(i{d} - {Int(pad.Pads[d])}) * {Int(inStrides[d])}"));
                w.Line($"y[{Flat(outShape)}] = x[{source}];");
                for (int d = 0; d < rank; d++) w.Close();
            }, $"constant padding with {Show(pad.ConstantValue)}; pads [{string.Join(", ", pad.Pads.Select(p => Int(p)))}]");
        }

        private static FloatLayer Softmax(LayerContext c, Softmax softmax)
        {
            var shape = c.Node.Input(0).Shape;
            int axis = softmax.Axis < 0 ? softmax.Axis + shape.Length : softmax.Axis;
            if (shape.Length == 0 || axis < 0 || axis >= shape.Length) throw c.Unsupported($"axis {softmax.Axis} does not fit the input {Shapes.Format(shape)}");
            int outer = (int)Shapes.ElementCount(shape.Take(axis).ToArray());
            int length = softmax.Coerce2D ? (int)Shapes.ElementCount(shape.Skip(axis).ToArray()) : shape[axis];
            int inner = softmax.Coerce2D ? 1 : (int)Shapes.ElementCount(shape.Skip(axis + 1).ToArray());
            c.Read("x", c.Node.Input(0), "X");
            return c.Layer(0, w =>
            {
                w.Line($"const int Outer = {Int(outer)}, Length = {Int(length)}, Inner = {Int(inner)};");
                using (w.Block("for (int o = 0; o < Outer; o++)"))
                using (w.Block("for (int s = 0; s < Inner; s++)"))
                {
                    w.Line("int start = o * Length * Inner + s;");
                    w.Line("float max = float.NegativeInfinity;");
                    using (w.Block("for (int j = 0; j < Length; j++)"))
                        w.Line("max = Math.Max(max, x[start + j * Inner]);");
                    w.Line("double sum = 0;");
                    using (w.Block("for (int j = 0; j < Length; j++)"))
                    {
                        w.Line("double e = Math.Exp((double)x[start + j * Inner] - max);");
                        w.Line("y[start + j * Inner] = (float)e;");
                        w.Line("sum += e;");
                    }
                    using (w.Block("for (int j = 0; j < Length; j++)"))
                        w.Line("y[start + j * Inner] = (float)(y[start + j * Inner] / sum);");
                }
            }, $"softmax over {(softmax.Coerce2D ? $"axes {Int(axis)} and after (opset < 13)" : $"axis {Int(axis)}")}, max-subtracted, exponentials and sum in double");
        }

        /// <summary>Row-major flat index over loop variables i0..i(r−1).</summary>
        private static string Flat(int[] shape)
        {
            var strides = Shapes.Strides(shape);
            return string.Join(" + ", Enumerable.Range(0, shape.Length).Select(d => $"i{d} * {Int(strides[d])}"));
        }
    }
}
