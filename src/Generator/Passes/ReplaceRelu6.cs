using NetQuantGen.IR;

namespace NetQuantGen.Passes
{
    /// <summary>
    /// Replaces a ReLU6 fused into a Conv or Gemm (the clamp [0, 6]) by a ReLU. Nagel et al. 2019 (§5) do this
    /// before cross-layer equalization because ReLU6 is not positively homogeneous: relu6(x/s) ≠ relu6(x)/s, so
    /// equalization through it would change the function. Unlike the other passes this one changes the float
    /// outputs wherever a pre-activation exceeds 6; it runs only when asked for (QuantizationPasses.ReplaceRelu6).
    /// </summary>
    public sealed class ReplaceRelu6 : IGraphPass
    {
        public const string PassName = "relu6-to-relu";

        public string Name => PassName;

        public bool Run(Graph graph)
        {
            bool changed = false;
            foreach (var node in graph.Nodes)
            {
                var replaced = node.Op switch
                {
                    Conv { Fused: { Min: 0f, Max: 6f } } conv => conv with { Fused = FusedClamp.Relu },
                    Gemm { Fused: { Min: 0f, Max: 6f } } gemm => (Operator)(gemm with { Fused = FusedClamp.Relu }),
                    _ => null,
                };
                if (replaced == null) continue;
                node.Op = replaced;
                changed = true;
            }
            return changed;
        }
    }
}
