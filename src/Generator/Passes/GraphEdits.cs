using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.IR;

namespace NetQuantGen.Passes
{
    /// <summary>Small queries and edits the passes share.</summary>
    internal static class GraphEdits
    {
        /// <summary>How many times a value is read: node input slots plus graph output entries.</summary>
        public static int UseCount(Graph graph, Value value)
        {
            int count = 0;
            foreach (var node in graph.Nodes)
                foreach (var input in node.Inputs)
                    if (input == value) count++;
            foreach (var output in graph.Outputs)
                if (output == value) count++;
            return count;
        }

        /// <summary>
        /// True when <paramref name="value"/> is read exactly once, by input slot 0 of <paramref name="consumer"/>,
        /// and is not a graph output: the producer and the consumer can then merge without losing a value anyone sees.
        /// </summary>
        public static bool OnlyFeeds(Graph graph, Value value, Node consumer) =>
            consumer.Inputs.Count > 0 && consumer.Inputs[0] == value && UseCount(graph, value) == 1;

        /// <summary>
        /// The merged node takes over the consumer's output (the last value keeps its name), and the consumer goes.
        /// <paramref name="producer"/> comes before <paramref name="consumer"/>, and everything that reads the
        /// consumer's output comes after it, so topological order holds.
        /// </summary>
        public static void Absorb(Graph graph, Node producer, Node consumer)
        {
            producer.Outputs[0] = consumer.Output;
            graph.Nodes.Remove(consumer);
        }

        /// <summary>A constant's float data, or null when the value is absent or computed at run time.</summary>
        public static float[]? ConstantFloats(Value? value) => value?.Constant?.ToFloats();

        /// <summary>A name no value of the graph has yet.</summary>
        public static string UniqueName(Graph graph, string stem)
        {
            var taken = new HashSet<string>(graph.Values().Select(v => v.Name), StringComparer.Ordinal);
            if (!taken.Contains(stem)) return stem;
            for (int i = 1; ; i++)
                if (!taken.Contains(stem + "_" + i)) return stem + "_" + i;
        }

        /// <summary>
        /// Gives <paramref name="node"/>'s input <paramref name="slot"/> new constant data. The value is updated
        /// in place when this node is its only reader; otherwise (a constant shared by several nodes) the node
        /// gets a new constant value and the other readers keep the old data. Data arrays are never mutated.
        /// </summary>
        public static void SetConstantInput(Graph graph, Node node, int slot, TensorData data, string newNameStem)
        {
            var old = node.OptionalInput(slot);
            if (old != null && old.IsConstant && UseCount(graph, old) == 1 && graph.ProducerOf(old) == null && !graph.Inputs.Contains(old))
            {
                old.Constant = data;
                old.Shape = (int[])data.Shape.Clone();
                old.Type = data.Type;
                return;
            }
            var value = new Value(UniqueName(graph, newNameStem), data.Type, (int[])data.Shape.Clone(), data);
            while (node.Inputs.Count <= slot) node.Inputs.Add(null);
            node.Inputs[slot] = value;
        }
    }
}
