using System;
using System.Linq;
using NetQuantGen.Diagnostics;

namespace NetQuantGen.IR
{
    /// <summary>
    /// Static shape inference over a topologically ordered graph. Besides computing every output shape it
    /// checks that input shapes fit the operator, fills window defaults and resolves auto_pad into
    /// explicit pads, so later stages see one normalized form.
    /// </summary>
    public static class ShapeInference
    {
        /// <summary>Largest tensor any value may have, in elements.</summary>
        public const long MaxElements = 1L << 28;

        public static void Run(Graph graph)
        {
            foreach (var node in graph.Nodes)
            {
                var context = new Context(graph.ModelName, node);
                foreach (var input in node.Inputs)
                    if (input != null && input.Type != ElementType.Float32)
                        throw context.Error(DiagnosticCatalog.UnsupportedDataType,
                            $"input '{input.Name}' is {input.Type}; operators compute on float32 tensors (integer tensors are only allowed as constant shapes, axes and pads)");
                var shape = Infer(node, context);
                if (Shapes.ElementCount(shape) > MaxElements)
                    throw context.Error(DiagnosticCatalog.ResourceLimit, $"the output {Shapes.Format(shape)} exceeds {MaxElements} elements");
                node.Output.Shape = shape;
                node.Output.Type = ElementType.Float32;
            }
        }

        private static int[] Infer(Node node, Context c)
        {
            var x = node.Input(0).Shape;
            switch (node.Op)
            {
                case Conv conv:
                    return InferConv(node, conv, c);
                case BatchNormalization:
                    c.Require(x.Length >= 2, $"input {Shapes.Format(x)} needs a channel axis");
                    for (int i = 1; i < 5; i++)
                        c.Require(node.Input(i).Shape.Length == 1 && node.Input(i).Shape[0] == x[1],
                            $"parameter '{node.Input(i).Name}' has shape {Shapes.Format(node.Input(i).Shape)}, expected [{x[1]}] for input {Shapes.Format(x)}");
                    return x;
                case Activation:
                case Identity:
                    return x;
                case Clip:
                    for (int i = 1; i < node.Inputs.Count; i++)
                        if (node.Inputs[i] != null)
                            c.Require(node.Input(i).ElementCount == 1, $"bound '{node.Input(i).Name}' must be a scalar");
                    return x;
                case Binary binary:
                    var b = EffectiveShapeOfB(binary, x, node.Input(1).Shape, c);
                    return Shapes.Broadcast(x, b)
                        ?? throw c.Error(DiagnosticCatalog.ShapeMismatch, $"shapes {Shapes.Format(x)} and {Shapes.Format(node.Input(1).Shape)} do not broadcast");
                case Concat concat:
                    return InferConcat(node, concat, c);
                case MaxPool pool:
                    node.Op = pool with { Window = NormalizeWindow(pool.Window, x, x.Length - 2, c) };
                    return WindowOutput(x, x[1], ((MaxPool)node.Op).Window, c);
                case AveragePool pool:
                    node.Op = pool with { Window = NormalizeWindow(pool.Window, x, x.Length - 2, c) };
                    return WindowOutput(x, x[1], ((AveragePool)node.Op).Window, c);
                case GlobalAveragePool:
                    c.Require(x.Length >= 3, $"input {Shapes.Format(x)} needs spatial axes");
                    return x.Select((d, i) => i < 2 ? d : 1).ToArray();
                case Gemm gemm:
                    return InferGemm(node, gemm, c);
                case MatMul:
                    return InferMatMul(x, node.Input(1).Shape, c);
                case Flatten flatten:
                    int axis = flatten.Axis < 0 ? flatten.Axis + x.Length : flatten.Axis;
                    c.Require(axis >= 0 && axis <= x.Length, $"axis {flatten.Axis} is out of range for rank {x.Length}");
                    return new[] { (int)Shapes.ElementCount(x.Take(axis).ToArray()), (int)Shapes.ElementCount(x.Skip(axis).ToArray()) };
                case Reshape reshape:
                    return InferReshape(x, reshape, c);
                case Transpose transpose:
                    var perm = transpose.Perm ?? Enumerable.Range(0, x.Length).Reverse().ToArray();
                    c.Require(perm.Length == x.Length && perm.OrderBy(p => p).SequenceEqual(Enumerable.Range(0, x.Length)),
                        $"perm [{string.Join(",", perm)}] is not a permutation of the {x.Length} axes");
                    node.Op = new Transpose(perm);
                    return perm.Select(p => x[p]).ToArray();
                case Squeeze squeeze:
                    var dropped = squeeze.Axes?.Select(a => Axis(a, x.Length, c)).ToArray()
                        ?? Enumerable.Range(0, x.Length).Where(i => x[i] == 1).ToArray();
                    foreach (int d in dropped)
                        c.Require(x[d] == 1, $"cannot squeeze axis {d} of size {x[d]}");
                    node.Op = new Squeeze(dropped.Select(d => (long)d).ToArray());
                    return x.Where((_, i) => !dropped.Contains(i)).ToArray();
                case Unsqueeze unsqueeze:
                    int rank = x.Length + unsqueeze.Axes.Length;
                    var inserted = unsqueeze.Axes.Select(a => Axis(a, rank, c)).ToArray();
                    c.Require(inserted.Distinct().Count() == inserted.Length, "axes repeat");
                    var result = new int[rank];
                    for (int i = 0, k = 0; i < rank; i++) result[i] = inserted.Contains(i) ? 1 : x[k++];
                    return result;
                case Pad pad:
                    c.Require(pad.Pads.Length == 2 * x.Length, $"{pad.Pads.Length} pads for a rank-{x.Length} input (need {2 * x.Length})");
                    var padded = new int[x.Length];
                    for (int i = 0; i < x.Length; i++)
                    {
                        long size = x[i] + pad.Pads[i] + pad.Pads[x.Length + i];
                        c.Require(size > 0 && size <= int.MaxValue, $"padding axis {i} of size {x[i]} by ({pad.Pads[i]}, {pad.Pads[x.Length + i]}) leaves {size}");
                        if (pad.Mode == PadMode.Reflect)
                            c.Require(pad.Pads[i] < x[i] && pad.Pads[x.Length + i] < x[i], $"reflect padding of axis {i} must be smaller than its size {x[i]}");
                        padded[i] = (int)size;
                    }
                    return padded;
                case Softmax softmax:
                    Axis(softmax.Axis, x.Length, c);
                    return x;
                default:
                    throw c.Error(DiagnosticCatalog.InternalError, $"no shape rule for {node.Op.OpType}");
            }
        }

        /// <summary>B's shape as numpy broadcasting sees it (opset 6 legacy broadcasting aligns B at an axis).</summary>
        public static int[] EffectiveShapeOfB(Binary op, int[] a, int[] b, Context c)
        {
            if (op.LegacyAxis is not int axis) return b;
            int start = axis < 0 ? axis + a.Length : axis;
            c.Require(start >= 0 && start + b.Length <= a.Length, $"legacy broadcast axis {axis} does not fit shapes {Shapes.Format(a)} and {Shapes.Format(b)}");
            return b.Concat(Enumerable.Repeat(1, a.Length - start - b.Length)).ToArray();
        }

        private static int[] InferConv(Node node, Conv conv, Context c)
        {
            var x = node.Input(0).Shape;
            var w = node.Input(1).Shape;
            c.Require(x.Length >= 3, $"input {Shapes.Format(x)} must be N×C×spatial");
            c.Require(w.Length == x.Length, $"weight {Shapes.Format(w)} must have the input's rank {x.Length}");
            c.Require(conv.Group >= 1 && x[1] == w[1] * conv.Group && w[0] % conv.Group == 0,
                $"input channels {x[1]}, weight {Shapes.Format(w)} and group {conv.Group} do not fit (need C = W[1]·group and M divisible by group)");
            var bias = node.OptionalInput(2);
            if (bias != null)
                c.Require(bias.Shape.Length == 1 && bias.Shape[0] == w[0], $"bias {Shapes.Format(bias.Shape)} must be [{w[0]}]");
            var kernel = w.Skip(2).ToArray();
            if (conv.Window.KernelShape.Length > 0)
                c.Require(conv.Window.KernelShape.SequenceEqual(kernel), $"kernel_shape [{string.Join(",", conv.Window.KernelShape)}] differs from the weight's {Shapes.Format(kernel)}");
            var window = NormalizeWindow(conv.Window with { KernelShape = kernel }, x, x.Length - 2, c);
            node.Op = conv with { Window = window };
            return WindowOutput(x, w[0], window, c);
        }

        /// <summary>Fills default strides, dilations and pads, and resolves auto_pad against the input.</summary>
        private static Window NormalizeWindow(Window w, int[] x, int rank, Context c)
        {
            c.Require(rank >= 1 && w.KernelShape.Length == rank, $"kernel_shape [{string.Join(",", w.KernelShape)}] does not match input {Shapes.Format(x)}");
            int[] Fill(int[] given, int fallback, int count, string name)
            {
                if (given.Length == 0) return Enumerable.Repeat(fallback, count).ToArray();
                c.Require(given.Length == count, $"{name} has {given.Length} values, expected {count}");
                return given;
            }
            var strides = Fill(w.Strides, 1, rank, "strides");
            var dilations = Fill(w.Dilations, 1, rank, "dilations");
            var pads = Fill(w.Pads, 0, 2 * rank, "pads");
            c.Require(strides.All(s => s > 0) && dilations.All(d => d > 0) && w.KernelShape.All(k => k > 0), "strides, dilations and kernel sizes must be positive");
            if (w.AutoPad != AutoPad.NotSet)
            {
                pads = new int[2 * rank];
                for (int i = 0; i < rank; i++)
                {
                    if (w.AutoPad == AutoPad.Valid) continue;
                    int input = x[i + 2];
                    int output = (input + strides[i] - 1) / strides[i];
                    int total = Math.Max(0, (output - 1) * strides[i] + dilations[i] * (w.KernelShape[i] - 1) + 1 - input);
                    int small = total / 2;
                    pads[i] = w.AutoPad == AutoPad.SameUpper ? small : total - small;
                    pads[rank + i] = total - pads[i];
                }
            }
            return new Window(w.KernelShape, strides, dilations, pads, AutoPad.NotSet, w.CeilMode);
        }

        private static int[] WindowOutput(int[] x, int channels, Window w, Context c)
        {
            var result = new int[x.Length];
            result[0] = x[0];
            result[1] = channels;
            for (int i = 0; i < w.Rank; i++)
            {
                int input = x[i + 2];
                int span = w.Dilations[i] * (w.KernelShape[i] - 1) + 1;
                int room = input + w.PadBegin(i) + w.PadEnd(i) - span;
                int output = room < 0 ? 0 : (w.CeilMode ? (room + w.Strides[i] - 1) / w.Strides[i] : room / w.Strides[i]) + 1;
                // With ceil_mode the last window must still start inside the input or its left padding.
                if (w.CeilMode && output > 0 && (output - 1) * w.Strides[i] >= input + w.PadBegin(i)) output--;
                result[i + 2] = output;
            }
            c.Require(result.All(d => d > 0), $"the window {Shapes.Format(w.KernelShape)} does not fit input {Shapes.Format(x)}");
            return result;
        }

        private static int[] InferConcat(Node node, Concat concat, Context c)
        {
            var first = node.Input(0).Shape;
            int axis = Axis(concat.Axis, first.Length, c);
            var result = (int[])first.Clone();
            for (int i = 1; i < node.Inputs.Count; i++)
            {
                var s = node.Input(i).Shape;
                c.Require(s.Length == first.Length && s.Where((d, k) => k != axis && d != first[k]).Count() == 0,
                    $"input '{node.Input(i).Name}' {Shapes.Format(s)} does not fit {Shapes.Format(first)} outside axis {axis}");
                result[axis] += s[axis];
            }
            node.Op = new Concat(axis);
            return result;
        }

        private static int[] InferGemm(Node node, Gemm gemm, Context c)
        {
            var a = node.Input(0).Shape;
            var b = node.Input(1).Shape;
            c.Require(a.Length == 2 && b.Length == 2, $"Gemm takes matrices, got {Shapes.Format(a)} and {Shapes.Format(b)}");
            int m = gemm.TransA ? a[1] : a[0], k = gemm.TransA ? a[0] : a[1];
            int kb = gemm.TransB ? b[1] : b[0], n = gemm.TransB ? b[0] : b[1];
            c.Require(k == kb, $"inner dimensions differ: {Shapes.Format(a)}{(gemm.TransA ? "ᵀ" : "")} × {Shapes.Format(b)}{(gemm.TransB ? "ᵀ" : "")}");
            var bias = node.OptionalInput(2);
            if (bias != null)
            {
                var broadcast = Shapes.Broadcast(new[] { m, n }, bias.Shape);
                c.Require(broadcast != null && broadcast.SequenceEqual(new[] { m, n }), $"C {Shapes.Format(bias.Shape)} does not broadcast to [{m}x{n}]");
            }
            return new[] { m, n };
        }

        private static int[] InferMatMul(int[] a, int[] b, Context c)
        {
            c.Require(a.Length >= 1 && b.Length >= 1, "MatMul needs inputs of rank 1 or more");
            var a2 = a.Length == 1 ? new[] { 1, a[0] } : a;
            var b2 = b.Length == 1 ? new[] { b[0], 1 } : b;
            c.Require(a2[a2.Length - 1] == b2[b2.Length - 2], $"inner dimensions of {Shapes.Format(a)} and {Shapes.Format(b)} differ");
            var batch = Shapes.Broadcast(a2.Take(a2.Length - 2).ToArray(), b2.Take(b2.Length - 2).ToArray())
                ?? throw c.Error(DiagnosticCatalog.ShapeMismatch, $"batch dimensions of {Shapes.Format(a)} and {Shapes.Format(b)} do not broadcast");
            var result = batch.ToList();
            if (a.Length > 1) result.Add(a2[a2.Length - 2]);
            if (b.Length > 1) result.Add(b2[b2.Length - 1]);
            return result.ToArray();
        }

        private static int[] InferReshape(int[] x, Reshape reshape, Context c)
        {
            var target = reshape.TargetShape;
            var result = new long[target.Length];
            int inferred = -1;
            for (int i = 0; i < target.Length; i++)
            {
                if (target[i] == -1)
                {
                    c.Require(inferred < 0, "more than one -1 in the target shape");
                    inferred = i;
                    result[i] = 1;
                }
                else if (target[i] == 0 && !reshape.AllowZero)
                {
                    c.Require(i < x.Length, $"0 at axis {i} copies a dimension the input {Shapes.Format(x)} does not have");
                    result[i] = x[i];
                }
                else
                {
                    c.Require(target[i] > 0 && target[i] <= int.MaxValue, $"target dimension {target[i]} is not supported");
                    result[i] = target[i];
                }
            }
            long count = Shapes.ElementCount(x);
            long known = result.Aggregate(1L, (p, d) => p * d);
            if (inferred >= 0)
            {
                c.Require(known > 0 && count % known == 0, $"cannot infer -1: {count} elements do not divide by {known}");
                result[inferred] = count / known;
                known = count;
            }
            c.Require(known == count, $"target shape [{string.Join(",", target)}] holds {known} elements, the input {Shapes.Format(x)} holds {count}");
            return result.Select(d => (int)d).ToArray();
        }

        private static int Axis(long axis, int rank, Context c)
        {
            int a = Shapes.NormalizeAxis(axis, rank);
            c.Require(a >= 0, $"axis {axis} is out of range for rank {rank}");
            return a;
        }

        /// <summary>Where inference is, for messages that name the model and node.</summary>
        public sealed class Context
        {
            private readonly string _model;
            private readonly Node _node;

            public Context(string model, Node node)
            {
                _model = model;
                _node = node;
            }

            public void Require(bool condition, string detail)
            {
                if (!condition) throw Error(DiagnosticCatalog.ShapeMismatch, detail);
            }

            public ModelException Error(DiagnosticKind kind, string detail) =>
                new(kind, $"Model '{_model}': node '{_node.Name}' ({_node.Op.OpType}): {detail}.");
        }
    }
}
