using System.Collections.Generic;
using System.Linq;
using NetQuantGen.IntegerIR;

namespace NetQuantGen.Emit
{
    /// <summary>
    /// Places every int8 tensor in one activation arena: tensors whose lifetimes overlap never share bytes.
    /// Greedy first-fit, largest tensors first, deterministic.
    /// </summary>
    public sealed class ArenaPlan
    {
        private readonly Dictionary<QTensor, int> _offsets;

        private ArenaPlan(Dictionary<QTensor, int> offsets, int size)
        {
            _offsets = offsets;
            Size = size;
        }

        public int Size { get; }

        public int OffsetOf(QTensor tensor) => _offsets[tensor];

        public static ArenaPlan Create(IntegerGraph graph)
        {
            // Lifetime in steps: step 0 quantizes the inputs, step i+1 runs operation i, the last step dequantizes.
            var first = new Dictionary<QTensor, int>();
            var last = new Dictionary<QTensor, int>();
            void Touch(QTensor t, int step)
            {
                if (!first.ContainsKey(t)) first[t] = step;
                last[t] = step;
            }
            foreach (var input in graph.Inputs) Touch(input.Output, 0);
            for (int i = 0; i < graph.Operations.Count; i++)
            {
                foreach (var t in graph.Operations[i].Inputs) Touch(t, i + 1);
                Touch(graph.Operations[i].Output, i + 1);
            }
            foreach (var output in graph.Outputs) Touch(output.Input, graph.Operations.Count + 1);

            var placed = new List<(QTensor Tensor, int Offset)>();
            var offsets = new Dictionary<QTensor, int>();
            int size = 0;
            foreach (var tensor in first.Keys.OrderByDescending(t => t.Length).ThenBy(t => first[t]))
            {
                var conflicts = placed
                    .Where(p => first[p.Tensor] <= last[tensor] && first[tensor] <= last[p.Tensor])
                    .OrderBy(p => p.Offset)
                    .ToList();
                // Lowest 32-byte-aligned offset (for the SIMD kernels) that overlaps no live tensor.
                int offset = 0;
                foreach (var (other, otherOffset) in conflicts)
                    if (otherOffset < offset + tensor.Length && offset < otherOffset + other.Length)
                        offset = (otherOffset + other.Length + 31) & ~31;
                placed.Add((tensor, offset));
                offsets[tensor] = offset;
                size = System.Math.Max(size, offset + tensor.Length);
            }
            return new ArenaPlan(offsets, (size + 31) & ~31);
        }
    }
}
