using System.Collections.Generic;
using System.Linq;

namespace NetQuantGen.IR
{
    /// <summary>
    /// A static dataflow graph. <see cref="Nodes"/> is kept in topological order; constants are values
    /// with data and no producer. The graph holds data only: import, shape inference, passes and
    /// executors are separate classes that read or rewrite it.
    /// </summary>
    public sealed class Graph
    {
        public Graph(string modelName, IEnumerable<Value> inputs, IEnumerable<Value> outputs, IEnumerable<Node> nodes)
        {
            ModelName = modelName;
            Inputs = inputs.ToList();
            Outputs = outputs.ToList();
            Nodes = nodes.ToList();
        }

        /// <summary>The model's file name, used in every message about it.</summary>
        public string ModelName { get; }

        public List<Value> Inputs { get; }

        public List<Value> Outputs { get; }

        public List<Node> Nodes { get; }

        /// <summary>The node that computes a value, or null for graph inputs and constants.</summary>
        public Node? ProducerOf(Value value) => Nodes.FirstOrDefault(n => n.Outputs.Contains(value));

        /// <summary>The nodes that read a value.</summary>
        public IEnumerable<Node> ConsumersOf(Value value) => Nodes.Where(n => n.Inputs.Contains(value));

        public bool IsGraphOutput(Value value) => Outputs.Contains(value);

        /// <summary>Every distinct value the graph refers to, in a stable order (inputs, then node order).</summary>
        public IEnumerable<Value> Values()
        {
            var seen = new HashSet<Value>();
            foreach (var v in Inputs)
                if (seen.Add(v)) yield return v;
            foreach (var node in Nodes)
                foreach (var v in node.Inputs.Concat(node.Outputs))
                    if (v != null && seen.Add(v)) yield return v;
        }

        /// <summary>Replaces every use of <paramref name="old"/> (node inputs and graph outputs) with <paramref name="replacement"/>.</summary>
        public void ReplaceUses(Value old, Value replacement)
        {
            foreach (var node in Nodes)
                for (int i = 0; i < node.Inputs.Count; i++)
                    if (node.Inputs[i] == old) node.Inputs[i] = replacement;
            for (int i = 0; i < Outputs.Count; i++)
                if (Outputs[i] == old) Outputs[i] = replacement;
        }

        /// <summary>
        /// A deep copy: new nodes and values, constant data shared (it is never mutated in place; passes
        /// that change weights assign new <see cref="TensorData"/>).
        /// </summary>
        public Graph Clone()
        {
            var map = new Dictionary<Value, Value>();
            Value Copy(Value v)
            {
                if (!map.TryGetValue(v, out var c))
                    map[v] = c = new Value(v.Name, v.Type, (int[])v.Shape.Clone(), v.Constant);
                return c;
            }
            var inputs = Inputs.Select(Copy).ToList();
            var nodes = Nodes.Select(n => new Node(n.Name, n.Op, n.Inputs.Select(v => v == null ? null : Copy(v)), n.Outputs.Select(Copy)) { OutputPrior = n.OutputPrior }).ToList();
            return new Graph(ModelName, inputs, Outputs.Select(Copy), nodes);
        }
    }
}
