using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.IntegerIR;

namespace NetQuantGen.Emit
{
    /// <summary>
    /// Places tensors in one activation arena: tensors whose lifetimes overlap never share elements.
    /// Greedy first-fit, largest tensors first, deterministic. It knows tensors only through the steps that
    /// touch them and their lengths, so the INT8 emitter (sbyte arena) and the FLOAT32 emitter (float arena)
    /// share it.
    /// </summary>
    /// <typeparam name="TTensor">The emitter's tensor (a <see cref="QTensor"/>, an IR value), compared by reference.</typeparam>
    public sealed class ArenaPlan<TTensor> where TTensor : class
    {
        private readonly Dictionary<TTensor, int> _offsets;

        private ArenaPlan(Dictionary<TTensor, int> offsets, int size)
        {
            _offsets = offsets;
            Size = size;
        }

        /// <summary>Arena length in elements, a multiple of the alignment.</summary>
        public int Size { get; }

        /// <summary>Where a tensor starts, in elements.</summary>
        public int OffsetOf(TTensor tensor) => _offsets[tensor];

        /// <param name="steps">The program in execution order: for every step, the tensors it reads or writes. A tensor lives from its first step to its last.</param>
        /// <param name="length">A tensor's length in elements.</param>
        /// <param name="alignment">Every offset (and the size) is a multiple of this many elements (a power of two), for the SIMD kernels.</param>
        public static ArenaPlan<TTensor> Create(IEnumerable<IEnumerable<TTensor>> steps, Func<TTensor, int> length, int alignment)
        {
            if (alignment <= 0 || (alignment & (alignment - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(alignment));
            var first = new Dictionary<TTensor, int>();
            var last = new Dictionary<TTensor, int>();
            int step = 0;
            foreach (var tensors in steps)
            {
                foreach (var t in tensors)
                {
                    if (!first.ContainsKey(t)) first[t] = step;
                    last[t] = step;
                }
                step++;
            }

            int mask = alignment - 1;
            var placed = new List<(TTensor Tensor, int Offset)>();
            var offsets = new Dictionary<TTensor, int>();
            int size = 0;
            foreach (var tensor in first.Keys.OrderByDescending(length).ThenBy(t => first[t]))
            {
                var conflicts = placed
                    .Where(p => first[p.Tensor] <= last[tensor] && first[tensor] <= last[p.Tensor])
                    .OrderBy(p => p.Offset)
                    .ToList();
                // Lowest aligned offset that overlaps no live tensor.
                int offset = 0, tensorLength = length(tensor);
                foreach (var (other, otherOffset) in conflicts)
                    if (otherOffset < offset + tensorLength && offset < otherOffset + length(other))
                        offset = (otherOffset + length(other) + mask) & ~mask;
                placed.Add((tensor, offset));
                offsets[tensor] = offset;
                size = Math.Max(size, offset + tensorLength);
            }
            return new ArenaPlan<TTensor>(offsets, (size + mask) & ~mask);
        }
    }

    /// <summary>The INT8 emitter's arena in bytes: one per int8 tensor element, two per int16 element, 32-byte aligned.</summary>
    public sealed class ArenaPlan
    {
        private readonly ArenaPlan<QTensor> _plan;

        private ArenaPlan(ArenaPlan<QTensor> plan) => _plan = plan;

        /// <summary>Arena size in bytes.</summary>
        public int Size => _plan.Size;

        public int OffsetOf(QTensor tensor) => _plan.OffsetOf(tensor);

        public static ArenaPlan Create(IntegerGraph graph, LayerFusion fusion) => new(ArenaPlan<QTensor>.Create(Steps(graph, fusion), t => t.ByteLength, alignment: 32));

        /// <summary>
        /// Step 0 quantizes the inputs, step i+1 runs operation i, the last step dequantizes. A convolution with a fused
        /// layer reads its input (and a residual's skip tensor) and writes the fused layer's output (its own output is never
        /// stored); the fused layer's own step touches nothing.
        /// </summary>
        private static IEnumerable<IEnumerable<QTensor>> Steps(IntegerGraph graph, LayerFusion fusion)
        {
            yield return graph.Inputs.Select(i => i.Output);
            foreach (var op in graph.Operations)
                yield return fusion.Touched(op);
            yield return graph.Outputs.Select(o => o.Input);
        }
    }
}
