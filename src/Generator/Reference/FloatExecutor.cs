using System;
using System.Collections.Generic;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;
using NetQuantGen.Reference.Kernels;

namespace NetQuantGen.Reference
{
    /// <summary>
    /// Runs a float <see cref="Graph"/> (after import and shape inference) with full ONNX semantics: the ground
    /// truth for the float passes and the engine of calibration.
    /// </summary>
    /// <remarks>
    /// The constructor plans once: every value gets one buffer (constants use their own data), every node a
    /// kernel bound to those buffers, constant convolution weights are packed, and scratch space is reserved,
    /// so a run allocates nothing but the copies it returns. Tensors are row-major (NCHW for images). An instance keeps
    /// state between runs and is not thread-safe: use one per thread. The graph must not change after the
    /// executor is built.
    /// </remarks>
    public sealed class FloatExecutor
    {
        private readonly Graph _graph;
        private readonly Dictionary<Value, float[]> _buffers = new();
        private readonly Kernel[] _kernels;

        /// <summary>Plans the graph. Throws <see cref="ModelException"/> for an operator without a kernel.</summary>
        public FloatExecutor(Graph graph)
        {
            _graph = graph ?? throw new ArgumentNullException(nameof(graph));
            foreach (var value in graph.Values())
                _buffers[value] = value.Constant != null ? value.Constant.ToFloats() : new float[value.ElementCount];
            foreach (var value in graph.Outputs)
                if (!_buffers.ContainsKey(value))
                    _buffers[value] = value.Constant != null ? value.Constant.ToFloats() : new float[value.ElementCount];

            var workspace = new Workspace();
            _kernels = new Kernel[graph.Nodes.Count];
            for (int i = 0; i < graph.Nodes.Count; i++)
                _kernels[i] = Plan(graph, graph.Nodes[i], workspace);
        }

        /// <summary>The graph this executor runs.</summary>
        public Graph Graph => _graph;

        /// <summary>
        /// Runs the graph on inputs given by name and returns every graph output by name. The returned arrays are
        /// fresh copies owned by the caller (the executor's buffers are reused by the next run).
        /// </summary>
        public IReadOnlyDictionary<string, float[]> Run(IReadOnlyDictionary<string, float[]> inputs)
        {
            Execute(inputs, null);
            var result = new Dictionary<string, float[]>(StringComparer.Ordinal);
            foreach (var output in _graph.Outputs)
                result[output.Name] = (float[])_buffers[output].Clone();
            return result;
        }

        /// <summary>Single-input, single-output convenience; returns a copy of the output.</summary>
        public float[] Run(float[] input)
        {
            if (_graph.Inputs.Count != 1 || _graph.Outputs.Count != 1)
                throw new InvalidOperationException(
                    $"Model '{_graph.ModelName}' has {_graph.Inputs.Count} inputs and {_graph.Outputs.Count} outputs; Run(float[]) needs exactly one of each.");
            CopyInput(_graph.Inputs[0], input);
            Compute(null);
            return (float[])_buffers[_graph.Outputs[0]].Clone();
        }

        /// <summary>
        /// Runs the graph and calls <paramref name="observe"/> once for every graph input (first, in order) and
        /// for every node output as soon as it is computed, in node order. The array passed is the executor's
        /// own buffer: read it inside the callback (copy it to keep it) and do not write to it.
        /// </summary>
        public void Run(IReadOnlyDictionary<string, float[]> inputs, Action<Value, float[]> observe)
        {
            if (observe == null) throw new ArgumentNullException(nameof(observe));
            Execute(inputs, observe);
        }

        private void Execute(IReadOnlyDictionary<string, float[]> inputs, Action<Value, float[]>? observe)
        {
            if (inputs == null) throw new ArgumentNullException(nameof(inputs));
            foreach (var input in _graph.Inputs)
            {
                if (!inputs.TryGetValue(input.Name, out var data) || data == null)
                    throw new ArgumentException($"Model '{_graph.ModelName}': no data for input '{input.Name}' {Shapes.Format(input.Shape)}.", nameof(inputs));
                CopyInput(input, data);
            }
            Compute(observe);
        }

        private void CopyInput(Value input, float[] data)
        {
            if (data == null) throw new ArgumentNullException(nameof(data));
            var buffer = _buffers[input];
            if (data.Length != buffer.Length)
                throw new ArgumentException(
                    $"Model '{_graph.ModelName}': input '{input.Name}' {Shapes.Format(input.Shape)} takes {buffer.Length} floats, got {data.Length}.", nameof(data));
            Array.Copy(data, buffer, buffer.Length);
        }

        private void Compute(Action<Value, float[]>? observe)
        {
            if (observe != null)
                foreach (var input in _graph.Inputs)
                    observe(input, _buffers[input]);
            var nodes = _graph.Nodes;
            for (int i = 0; i < _kernels.Length; i++)
            {
                _kernels[i].Run();
                if (observe != null)
                    foreach (var output in nodes[i].Outputs)
                        observe(output, _buffers[output]);
            }
        }

        private Kernel Plan(Graph graph, Node node, Workspace workspace)
        {
            float[] Buffer(Value v) => _buffers[v];
            var x = node.Input(0);
            var y = node.Output;
            switch (node.Op)
            {
                case Conv conv:
                    return new ConvolutionKernel(conv, x, node.Input(1), node.OptionalInput(2), y, Buffer, workspace);
                case BatchNormalization bn:
                    return new BatchNormalizationKernel(bn, node, Buffer);
                case Activation activation:
                    return new ActivationKernel(activation, x, y, Buffer);
                case Clip:
                    return new ClipKernel(x, node.OptionalInput(1), node.OptionalInput(2), y, Buffer);
                case Binary binary:
                {
                    var context = new ShapeInference.Context(graph.ModelName, node);
                    var bShape = ShapeInference.EffectiveShapeOfB(binary, x.Shape, node.Input(1).Shape, context);
                    return new BinaryKernel(binary, x, node.Input(1), bShape, y, Buffer);
                }
                case Concat concat:
                    return new ConcatKernel(concat, node, Buffer);
                case MaxPool pool:
                    return new PoolingKernel(pool.Window, max: true, countIncludePad: false, x, y, Buffer);
                case AveragePool pool:
                    return new PoolingKernel(pool.Window, max: false, pool.CountIncludePad, x, y, Buffer);
                case GlobalAveragePool:
                    return new GlobalAveragePoolKernel(x, y, Buffer);
                case IR.Gemm gemm:
                    return new GemmKernel(gemm, x, node.Input(1), node.OptionalInput(2), y, Buffer, workspace);
                case MatMul:
                    return new MatMulKernel(x, node.Input(1), y, Buffer, workspace);
                case Flatten:
                case Reshape:
                case Squeeze:
                case Unsqueeze:
                case Identity:
                    return new CopyKernel(x, y, Buffer);
                case Transpose transpose:
                    return new TransposeKernel(transpose, x, y, Buffer);
                case Pad pad:
                    return new PadKernel(pad, x, y, Buffer);
                case Softmax softmax:
                    return new SoftmaxKernel(softmax, x, y, Buffer);
                default:
                    throw new ModelException(DiagnosticCatalog.UnsupportedOperator,
                        $"Model '{graph.ModelName}': node '{node.Name}' ({node.Op.OpType}) has no float reference kernel.");
            }
        }
    }
}
