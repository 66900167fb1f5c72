using System.Collections.Generic;
using System.Linq;
using NetQuantGen.IntegerIR;

namespace NetQuantGen.Emit
{
    /// <summary>
    /// The layers the emitter computes inside the convolution before them: residual adds (<see cref="ResidualAddFusion"/>)
    /// and 2×2 max poolings (<see cref="MaxPoolFusion"/>). A fused layer gets no method of its own; the convolution stores
    /// the fused layer's output, and its own output is never stored. A convolution takes at most one: each fusion needs
    /// the convolution's output to have no other reader.
    /// </summary>
    public sealed class LayerFusion
    {
        private readonly ResidualAddFusion _residuals;
        private readonly MaxPoolFusion _pools;

        private LayerFusion(ResidualAddFusion residuals, MaxPoolFusion pools)
        {
            _residuals = residuals;
            _pools = pools;
        }

        public static LayerFusion Plan(IntegerGraph graph) => new(ResidualAddFusion.Plan(graph), MaxPoolFusion.Plan(graph));

        public ResidualFusion? Residual(QConvolution convolution) => _residuals.Of(convolution);

        public PoolFusion? Pool(QConvolution convolution) => _pools.Of(convolution);

        /// <summary>A layer computed by the convolution before it.</summary>
        public bool IsFusedAway(QOperation op) => op switch
        {
            QAdd add => _residuals.Of(add) != null,
            QPool pool => _pools.Of(pool) != null,
            _ => false,
        };

        /// <summary>The tensor the layer's method writes: the fused layer's output for a convolution that computes one.</summary>
        public QTensor Stored(QOperation op) =>
            op is QConvolution c ? Residual(c)?.Add.Output ?? Pool(c)?.Pool.Output ?? op.Output : op.Output;

        /// <summary>The tensors the layer's method reads and writes (none for a fused layer): what the arena keeps alive at its step.</summary>
        public IEnumerable<QTensor> Touched(QOperation op)
        {
            if (IsFusedAway(op)) return Enumerable.Empty<QTensor>();
            var read = op is QConvolution c && Residual(c) is ResidualFusion r ? op.Inputs.Append(r.Skip) : op.Inputs;
            return read.Append(Stored(op));
        }

        /// <summary>"+Add" or "+MaxPool" after the kernel's name in the profiler, for a convolution that computes a fused layer.</summary>
        public string Suffix(QConvolution convolution) => Residual(convolution) != null ? "+Add" : Pool(convolution) != null ? "+MaxPool" : "";
    }
}
