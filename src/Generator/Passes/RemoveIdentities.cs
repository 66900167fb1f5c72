using System.Linq;
using NetQuantGen.IR;

namespace NetQuantGen.Passes
{
    /// <summary>
    /// Drops Identity nodes (Dropout imports as Identity; PyTorch aliases duplicate initializers through
    /// Identity) by letting readers of the Identity's output read its input. An Identity of a constant thus
    /// becomes that constant. When the output is a graph output its name is kept: the producer of the input
    /// computes it directly, or, when the input is a graph input, a constant or itself a graph output, the
    /// Identity stays.
    /// </summary>
    public sealed class RemoveIdentities : IGraphPass
    {
        public const string PassName = "remove-identity";

        public string Name => PassName;

        public bool Run(Graph graph)
        {
            bool changed = false;
            foreach (var node in graph.Nodes.Where(n => n.Op is Identity).ToList())
            {
                var input = node.Input(0);
                var output = node.Output;
                if (!graph.IsGraphOutput(output))
                {
                    graph.Nodes.Remove(node);
                    graph.ReplaceUses(output, input);
                    changed = true;
                    continue;
                }
                var producer = graph.ProducerOf(input);
                if (producer == null || graph.IsGraphOutput(input)) continue;
                // The producer computes the graph output under its name; the input's name goes away.
                graph.Nodes.Remove(node);
                producer.Outputs[producer.Outputs.IndexOf(input)] = output;
                graph.ReplaceUses(input, output);
                changed = true;
            }
            return changed;
        }
    }
}
