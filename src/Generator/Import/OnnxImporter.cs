using System;
using System.Collections.Generic;
using System.Linq;
using Google.Protobuf;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;
using NetQuantGen.Onnx.Proto;

namespace NetQuantGen.Import
{
    /// <summary>
    /// ONNX bytes → typed <see cref="Graph"/> with static shapes. Never throws: every problem becomes a
    /// diagnostic naming the model and, where there is one, the node.
    /// </summary>
    public static class OnnxImporter
    {
        /// <summary>
        /// Opsets 1 to 5 are read too: the supported operators kept their meaning since opset 1, and the parser
        /// rejects the older attribute forms it does not understand (e.g. Reshape's shape attribute).
        /// </summary>
        public const int MinOpset = 1;
        public const int MaxOpset = 21;

        public static ImportResult Import(byte[] bytes, string modelName, ImportOptions? options = null)
        {
            try
            {
                var graph = new Session(modelName, options ?? new ImportOptions()).Run(bytes);
                return new ImportResult(graph, Array.Empty<ModelDiagnostic>());
            }
            catch (ModelException e)
            {
                return new ImportResult(null, new[] { e.ToDiagnostic() });
            }
            catch (Exception e) when (e is InvalidProtocolBufferException || e is InvalidOperationException && e.Source == "Google.Protobuf")
            {
                return new ImportResult(null, new[] { new ModelDiagnostic(DiagnosticCatalog.MalformedModel,
                    $"Model '{modelName}' is not a valid ONNX protobuf: {e.Message}") });
            }
            catch (Exception e)
            {
                return new ImportResult(null, new[] { new ModelDiagnostic(DiagnosticCatalog.InternalError,
                    $"Model '{modelName}': the importer failed unexpectedly ({e.GetType().Name}: {e.Message}). Please report this with the model.") });
            }
        }

        /// <summary>Reads a serialized TensorProto (e.g. a conformance test's input_0.pb).</summary>
        public static TensorData ReadTensor(byte[] bytes, string what)
        {
            var proto = TensorProto.Parser.ParseFrom(bytes);
            return new TensorReader(what, new ImportOptions()).Read(proto, what);
        }

        /// <summary>The state of one import.</summary>
        private sealed class Session
        {
            private readonly string _model;
            private readonly ImportOptions _options;
            private readonly TensorReader _tensors;
            private readonly Dictionary<string, Value> _values = new(StringComparer.Ordinal);

            public Session(string model, ImportOptions options)
            {
                _model = model;
                _options = options;
                _tensors = new TensorReader(model, options);
            }

            public Graph Run(byte[] bytes)
            {
                if (bytes.Length == 0)
                    throw Error(DiagnosticCatalog.MalformedModel, "the file is empty");
                var model = ModelProto.Parser.ParseFrom(bytes);
                if (model.Graph == null || model.Graph.Node.Count == 0 && model.Graph.Output.Count == 0)
                    throw Error(DiagnosticCatalog.MalformedModel, "the file parses as protobuf but holds no ONNX graph (truncated, or not an ONNX model)");
                int opset = ReadOpset(model);
                var g = model.Graph;
                CheckDeclaredSize(g);

                foreach (var init in g.Initializer)
                {
                    if (string.IsNullOrEmpty(init.Name)) throw Error(DiagnosticCatalog.MalformedModel, "an initializer has no name");
                    var data = _tensors.Read(init, $"initializer '{init.Name}'");
                    _values[init.Name] = new Value(init.Name, data.Type, data.Shape, data);
                }
                if (g.SparseInitializer.Count > 0)
                    throw Error(DiagnosticCatalog.UnsupportedDataType, "sparse initializers are not supported; store them dense");

                var inputs = new List<Value>();
                foreach (var info in g.Input)
                {
                    if (_values.ContainsKey(info.Name)) continue; // an initializer listed as input (IR < 4): a constant
                    var input = ReadInput(info, isFirst: inputs.Count == 0);
                    _values[input.Name] = input;
                    if (!input.IsConstant) inputs.Add(input);
                }
                foreach (var name in _options.InputShapes.Keys.Concat(_options.PinnedInputs.Keys))
                    if (!g.Input.Any(i => i.Name == name))
                        throw Error(DiagnosticCatalog.InvalidOption, $"an input shape or value was given for '{name}', but the model has no input of that name (inputs: {string.Join(", ", g.Input.Select(i => i.Name))})");

                var nodes = new List<Node>();
                var parser = new OperatorParser(_model, opset);
                int index = 0;
                foreach (var proto in TopologicalOrder(g))
                {
                    var node = ReadNode(proto, index++, parser);
                    if (node != null) nodes.Add(node);
                }

                var outputs = new List<Value>();
                foreach (var info in g.Output)
                {
                    if (!_values.TryGetValue(info.Name, out var v))
                        throw Error(DiagnosticCatalog.MalformedModel, $"graph output '{info.Name}' is not produced by any node");
                    outputs.Add(v);
                }
                if (outputs.Count == 0) throw Error(DiagnosticCatalog.MalformedModel, "the graph has no outputs");

                var graph = new Graph(_model, inputs, outputs, nodes);
                ShapeInference.Run(graph);
                CheckActivationSize(graph);
                return graph;
            }

            /// <summary>
            /// Resource limits that need only the parsed protobuf, checked before any tensor is allocated: node count
            /// and the bytes every initializer and Constant tensor declares (from its dimensions, not its data).
            /// </summary>
            private void CheckDeclaredSize(GraphProto g)
            {
                if (g.Node.Count > _options.MaxNodes)
                    throw Error(DiagnosticCatalog.ResourceLimit, $"the graph has {g.Node.Count} nodes, more than the limit of {_options.MaxNodes}");
                long total = 0;
                var tensors = g.Initializer.Select(t => (t, $"initializer '{t.Name}'"))
                    .Concat(g.Node.SelectMany(n => n.Attribute.Where(a => a.T != null).Select(a => (a.T, $"attribute '{a.Name}' of node '{n.Name}' ({n.OpType})"))));
                foreach (var (tensor, what) in tensors)
                {
                    long bytes = TensorReader.DeclaredBytes(tensor)
                        ?? throw Error(DiagnosticCatalog.ResourceLimit, $"{what} declares dimensions {string.Join("x", tensor.Dims)}, more than {TensorReader.MaxElements} elements");
                    total += bytes;
                    if (total > _options.MaxTensorBytes)
                        throw Error(DiagnosticCatalog.ResourceLimit,
                            $"the declared initializers and constants need more than {_options.MaxTensorBytes} bytes (reached at {what}, {string.Join("x", tensor.Dims)}); raise ImportOptions.MaxTensorBytes if the model really is that large");
                }
            }

            /// <summary>The float activations the inferred shapes imply (what calibration and the float executor allocate) against the same byte limit.</summary>
            private void CheckActivationSize(Graph graph)
            {
                long total = graph.Inputs.Sum(v => v.ElementCount * 4);
                foreach (var node in graph.Nodes)
                    foreach (var output in node.Outputs)
                    {
                        total += output.ElementCount * 4;
                        if (total > _options.MaxTensorBytes)
                            throw Error(DiagnosticCatalog.ResourceLimit,
                                $"the activations need more than {_options.MaxTensorBytes} bytes as float32 (reached at node '{node.Name}', output {Shapes.Format(output.Shape)}); pin a smaller InputShape");
                    }
            }

            private int ReadOpset(ModelProto model)
            {
                var entry = model.OpsetImport.FirstOrDefault(o => o.Domain == "" || o.Domain == "ai.onnx");
                if (entry == null)
                    throw Error(DiagnosticCatalog.UnsupportedOpset, "the model imports no version of the default ONNX operator set");
                if (entry.Version < MinOpset || entry.Version > MaxOpset)
                    throw Error(DiagnosticCatalog.UnsupportedOpset, $"opset {entry.Version} is not supported; NetQuantGen reads opsets {MinOpset} to {MaxOpset} (re-export with opset 13 to 21)");
                return (int)entry.Version;
            }

            private Value ReadInput(ValueInfoProto info, bool isFirst)
            {
                if (_options.PinnedInputs.TryGetValue(info.Name, out var pinned))
                    return new Value(info.Name, pinned.Type, pinned.Shape, pinned);
                var tensorType = info.Type?.TensorType
                    ?? throw Error(DiagnosticCatalog.UnsupportedDataType, $"input '{info.Name}' is not a tensor");
                var type = TensorReader.ToElementType(tensorType.ElemType);
                if (type != ElementType.Float32)
                    throw Error(DiagnosticCatalog.UnsupportedDataType,
                        $"input '{info.Name}' has ONNX element type {(TensorProto.Types.DataType)tensorType.ElemType}; model inputs must be float32 (or pinned to constant values)");

                var declared = tensorType.Shape?.Dim.Select(d => d.HasDimValue && d.DimValue > 0 ? d.DimValue : (long?)null).ToArray();
                if (!_options.InputShapes.TryGetValue(info.Name, out var pin) && isFirst) pin = _options.FirstInputShape;
                if (pin != null)
                {
                    if (declared != null && (declared.Length != pin.Length || declared.Where((d, i) => d != null && d != pin[i]).Any()))
                        throw Error(DiagnosticCatalog.ShapeMismatch,
                            $"input '{info.Name}' is declared {FormatDeclared(tensorType.Shape!)} but was pinned to {Shapes.Format(pin)}; the pinned shape must keep the rank and every fixed dimension");
                    if (pin.Any(d => d <= 0))
                        throw Error(DiagnosticCatalog.InvalidOption, $"the pinned shape {Shapes.Format(pin)} of input '{info.Name}' has a dimension that is not positive");
                    return new Value(info.Name, ElementType.Float32, pin);
                }
                if (declared == null)
                    throw Error(DiagnosticCatalog.UnpinnedDynamicDimension,
                        $"input '{info.Name}' has no declared shape; pin it with InputShape (e.g. InputShape = \"1,3,224,224\")");
                int dynamicAxis = Array.FindIndex(declared, d => d == null);
                if (dynamicAxis >= 0)
                {
                    var dim = tensorType.Shape!.Dim[dynamicAxis];
                    string label = dim.HasDimParam ? $"'{dim.DimParam}'" : "of unknown size";
                    throw Error(DiagnosticCatalog.UnpinnedDynamicDimension,
                        $"input '{info.Name}' {FormatDeclared(tensorType.Shape)} has dynamic dimension {label} at axis {dynamicAxis}; pin it with InputShape (e.g. InputShape = \"{string.Join(",", declared.Select(d => d ?? 1))}\" with the size you need)");
                }
                foreach (long d in declared!)
                    if (d > int.MaxValue)
                        throw Error(DiagnosticCatalog.ResourceLimit, $"input '{info.Name}' declares dimension {d}, larger than the supported {int.MaxValue}");
                return new Value(info.Name, ElementType.Float32, declared.Select(d => (int)d!.Value).ToArray());
            }

            private static string FormatDeclared(TensorShapeProto shape) =>
                "[" + string.Join("x", shape.Dim.Select(d => d.HasDimValue && d.DimValue > 0 ? d.DimValue.ToString(System.Globalization.CultureInfo.InvariantCulture) : d.HasDimParam ? d.DimParam : "?")) + "]";

            /// <summary>Kahn's algorithm over the node list; a cycle or an undefined input is an error.</summary>
            private IEnumerable<NodeProto> TopologicalOrder(GraphProto g)
            {
                var producer = new Dictionary<string, int>(StringComparer.Ordinal);
                for (int i = 0; i < g.Node.Count; i++)
                    foreach (var output in g.Node[i].Output)
                    {
                        if (output.Length == 0) continue;
                        if (producer.ContainsKey(output) || _values.ContainsKey(output))
                            throw Error(DiagnosticCatalog.MalformedModel, $"value '{output}' is defined twice (second time by node '{NodeLabel(g.Node[i], i)}')");
                        producer[output] = i;
                    }

                var pending = new int[g.Node.Count];
                var dependents = new List<int>[g.Node.Count];
                for (int i = 0; i < g.Node.Count; i++)
                {
                    dependents[i] = new List<int>();
                }
                for (int i = 0; i < g.Node.Count; i++)
                {
                    foreach (var input in g.Node[i].Input.Distinct())
                    {
                        if (input.Length == 0 || _values.ContainsKey(input)) continue;
                        if (!producer.TryGetValue(input, out int p))
                            throw Error(DiagnosticCatalog.MalformedModel,
                                $"node '{NodeLabel(g.Node[i], i)}' ({g.Node[i].OpType}) reads '{input}', which no node, input or initializer defines");
                        pending[i]++;
                        dependents[p].Add(i);
                    }
                }
                // A min-heap on the original index keeps the file's order wherever it is already valid.
                var ready = new SortedSet<int>(Enumerable.Range(0, g.Node.Count).Where(i => pending[i] == 0));
                var depth = new int[g.Node.Count]; // nodes on the longest path ending at each node
                int emitted = 0;
                while (ready.Count > 0)
                {
                    int i = ready.Min;
                    ready.Remove(i);
                    emitted++;
                    if (++depth[i] > _options.MaxGraphDepth)
                        throw Error(DiagnosticCatalog.ResourceLimit,
                            $"node '{NodeLabel(g.Node[i], i)}' ({g.Node[i].OpType}) lies {depth[i]} nodes deep, more than the limit of {_options.MaxGraphDepth}");
                    yield return g.Node[i];
                    foreach (int d in dependents[i])
                    {
                        depth[d] = Math.Max(depth[d], depth[i]);
                        if (--pending[d] == 0) ready.Add(d);
                    }
                }
                if (emitted < g.Node.Count)
                {
                    int stuck = Enumerable.Range(0, g.Node.Count).First(i => pending[i] > 0);
                    throw Error(DiagnosticCatalog.GraphCycle,
                        $"node '{NodeLabel(g.Node[stuck], stuck)}' ({g.Node[stuck].OpType}) is part of a cycle (or depends on one); an ONNX graph must be acyclic");
                }
            }

            private static string NodeLabel(NodeProto node, int index) =>
                string.IsNullOrEmpty(node.Name) ? $"{node.OpType}_{index}" : node.Name;

            private Node? ReadNode(NodeProto proto, int index, OperatorParser parser)
            {
                string name = NodeLabel(proto, index);
                var inputs = proto.Input.Select(n => n.Length == 0 ? null : _values[n]).ToList();
                var parsed = parser.Parse(proto, name, inputs);
                if (parsed.Constant != null)
                {
                    // A Constant node becomes a constant value; no node remains.
                    var output = new Value(proto.Output[0], parsed.Constant.Type, parsed.Constant.Shape, parsed.Constant);
                    _values[output.Name] = output;
                    return null;
                }
                var outputs = new List<Value>();
                for (int i = 0; i < proto.Output.Count; i++)
                {
                    if (i >= parsed.OutputCount)
                    {
                        if (proto.Output[i].Length == 0) continue;
                        throw Error(DiagnosticCatalog.UnsupportedAttribute,
                            $"node '{name}' ({proto.OpType}) has output #{i} '{proto.Output[i]}', which NetQuantGen does not compute (only inference-mode outputs are supported)");
                    }
                    var v = new Value(proto.Output[i], ElementType.Float32, Array.Empty<int>());
                    _values[v.Name] = v;
                    outputs.Add(v);
                }
                return new Node(name, parsed.Operator!, parsed.Inputs, outputs);
            }

            private ModelException Error(DiagnosticKind kind, string detail) => new(kind, $"Model '{_model}': {detail}.");
        }
    }
}
