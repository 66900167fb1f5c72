using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;

namespace NetQuantGen.Passes
{
    /// <summary>
    /// Checks the invariants every pass must keep: nodes in topological order (every input is a graph input,
    /// a constant or an earlier node's output), no value produced twice, distinct values with distinct names,
    /// graph outputs produced, constants whose shape matches their data, and shapes that shape inference,
    /// re-run on a clone, agrees with. A violation is an internal error naming the pass that caused it.
    /// </summary>
    public static class GraphVerifier
    {
        /// <param name="graph">The graph to check.</param>
        /// <param name="afterPass">The pass that last changed the graph, named in the message (null: the importer).</param>
        public static void Verify(Graph graph, string? afterPass = null)
        {
            string? problem;
            try
            {
                problem = FindProblem(graph);
            }
            catch (Exception e) when (!(e is ModelException))
            {
                problem = $"checking it failed ({e.GetType().Name}: {e.Message})";
            }
            if (problem != null)
            {
                string who = afterPass == null ? "the imported graph is inconsistent" : $"pass '{afterPass}' broke the graph";
                throw new ModelException(DiagnosticCatalog.InternalError,
                    $"Model '{graph.ModelName}': {who}: {problem}. Please report this with the model.");
            }
        }

        private static string? FindProblem(Graph graph)
        {
            var available = new HashSet<Value>();
            var names = new Dictionary<string, Value>(StringComparer.Ordinal);
            string? NameClash(Value v)
            {
                if (names.TryGetValue(v.Name, out var other) && other != v) return $"two different values are named '{v.Name}'";
                names[v.Name] = v;
                return null;
            }
            foreach (var input in graph.Inputs)
            {
                if (input.IsConstant) return $"graph input '{input.Name}' is a constant";
                if (!available.Add(input)) return $"graph input '{input.Name}' is listed twice";
                if (NameClash(input) is string clash) return clash;
            }
            var produced = new HashSet<Value>();
            foreach (var node in graph.Nodes)
            {
                if (node.Inputs.Count == 0 || node.Inputs[0] == null) return $"node '{node.Name}' ({node.Op.OpType}) has no first input";
                foreach (var input in node.Inputs)
                {
                    if (input == null) continue;
                    if (input.IsConstant)
                    {
                        if (produced.Contains(input) || graph.Inputs.Contains(input)) return $"constant '{input.Name}' is also computed";
                        if (!input.Shape.SequenceEqual(input.Constant!.Shape))
                            return $"constant '{input.Name}' has shape {Shapes.Format(input.Shape)} but its data is {Shapes.Format(input.Constant.Shape)}";
                        available.Add(input);
                    }
                    else if (!available.Contains(input))
                    {
                        return graph.Nodes.Any(n => n.Outputs.Contains(input))
                            ? $"node '{node.Name}' ({node.Op.OpType}) reads '{input.Name}' before the node that computes it (nodes are out of topological order)"
                            : $"node '{node.Name}' ({node.Op.OpType}) reads '{input.Name}', which no graph input, constant or node provides";
                    }
                    if (NameClash(input) is string clash) return clash;
                }
                if (node.Outputs.Count == 0) return $"node '{node.Name}' ({node.Op.OpType}) has no output";
                foreach (var output in node.Outputs)
                {
                    if (output == null) return $"node '{node.Name}' ({node.Op.OpType}) has a null output";
                    if (output.IsConstant) return $"node '{node.Name}' ({node.Op.OpType}) computes '{output.Name}', which is also a constant";
                    if (!produced.Add(output) || graph.Inputs.Contains(output)) return $"value '{output.Name}' is produced twice (again by node '{node.Name}')";
                    available.Add(output);
                    if (NameClash(output) is string clash) return clash;
                }
            }
            foreach (var output in graph.Outputs)
            {
                if (!available.Contains(output) && !output.IsConstant) return $"graph output '{output.Name}' is not produced";
                if (NameClash(output) is string clash) return clash;
            }
            return CheckShapes(graph);
        }

        /// <summary>Re-runs shape inference on a clone and compares every value's shape.</summary>
        private static string? CheckShapes(Graph graph)
        {
            var clone = graph.Clone();
            try
            {
                ShapeInference.Run(clone);
            }
            catch (ModelException e)
            {
                return $"shape inference fails on it: {e.Message}";
            }
            var before = graph.Values().ToList();
            var after = clone.Values().ToList();
            if (before.Count != after.Count) return "its clone has a different number of values";
            for (int i = 0; i < before.Count; i++)
            {
                if (!before[i].Shape.SequenceEqual(after[i].Shape))
                    return $"value '{before[i].Name}' has shape {Shapes.Format(before[i].Shape)}, but shape inference gives {Shapes.Format(after[i].Shape)}";
                if (before[i].Type != after[i].Type)
                    return $"value '{before[i].Name}' has type {before[i].Type}, but shape inference gives {after[i].Type}";
            }
            return null;
        }
    }
}
