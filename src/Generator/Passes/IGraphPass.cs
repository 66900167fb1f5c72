using NetQuantGen.IR;

namespace NetQuantGen.Passes
{
    /// <summary>
    /// One float-graph rewrite. A pass must keep the float outputs (up to rounding), keep the names of the
    /// values that survive it (calibration statistics are keyed by them), keep the graph outputs, keep the
    /// invariants <see cref="GraphVerifier"/> checks, and throw nothing but <see cref="Diagnostics.ModelException"/>.
    /// </summary>
    public interface IGraphPass
    {
        /// <summary>The stable name recorded in calibration statistics (e.g. "fold-batchnorm").</summary>
        string Name { get; }

        /// <summary>Rewrites the graph in place; true when it changed something.</summary>
        bool Run(Graph graph);
    }
}
