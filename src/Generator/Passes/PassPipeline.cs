using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;

namespace NetQuantGen.Passes
{
    /// <summary>What a pipeline run did: the passes that ran, in order, and those that changed the graph.</summary>
    public sealed class PassReport
    {
        public PassReport(IReadOnlyList<string> ran, IReadOnlyList<string> changed)
        {
            Ran = ran;
            Changed = changed;
        }

        /// <summary>The names of the passes that ran, in order: what calibration statistics record to detect staleness.</summary>
        public IReadOnlyList<string> Ran { get; }

        /// <summary>The names of the passes that changed the graph, in order.</summary>
        public IReadOnlyList<string> Changed { get; }
    }

    /// <summary>
    /// Runs float passes in an order kept as data: the list of pass instances is built from
    /// <see cref="PassOptions"/> (in <see cref="Order"/>) or from a list of pass names, and the
    /// pipeline runs them one after the other, verifying the graph between passes when asked.
    /// </summary>
    public sealed class PassPipeline
    {
        /// <summary>Every known pass by its stable name; a new pass adds one line here and one in <see cref="Order"/>.</summary>
        private static readonly IReadOnlyDictionary<string, Func<IGraphPass>> Registry = new Dictionary<string, Func<IGraphPass>>(StringComparer.Ordinal)
        {
            [RemoveIdentities.PassName] = () => new RemoveIdentities(),
            [FoldBatchNormalization.PassName] = () => new FoldBatchNormalization(),
            [FuseActivations.PassName] = () => new FuseActivations(),
            [ReplaceRelu6.PassName] = () => new ReplaceRelu6(),
            [CrossLayerEqualization.PassName] = () => new CrossLayerEqualization(),
            [HighBiasAbsorption.PassName] = () => new HighBiasAbsorption(),
        };

        /// <summary>
        /// The order passes run in when built from options. Identities go first so BN parameters aliased
        /// through them are constants; BN folds before activations fuse, so Conv→BN→ReLU becomes one node.
        /// Equalization needs fused activations (and ReLU6 already replaced when asked for); bias absorption
        /// uses the priors equalization has rescaled.
        /// </summary>
        public static IReadOnlyList<string> Order { get; } = new[]
        {
            RemoveIdentities.PassName,
            FoldBatchNormalization.PassName,
            FuseActivations.PassName,
            ReplaceRelu6.PassName,
            CrossLayerEqualization.PassName,
            HighBiasAbsorption.PassName,
        };

        /// <summary>The passes a default <see cref="PassOptions"/> (and a build without a Passes argument) runs, in <see cref="Order"/>.</summary>
        public static IReadOnlyList<string> DefaultOrder { get; } = FromOptions(new PassOptions()).PassNames;

        /// <summary>The names of every known pass.</summary>
        public static IReadOnlyCollection<string> KnownPasses => Registry.Keys.ToList();

        public PassPipeline(IEnumerable<IGraphPass> passes, bool verifyBetweenPasses = false)
        {
            Passes = passes.ToList();
            VerifyBetweenPasses = verifyBetweenPasses;
        }

        public IReadOnlyList<IGraphPass> Passes { get; }

        public bool VerifyBetweenPasses { get; }

        /// <summary>The pass names in the order they run.</summary>
        public IReadOnlyList<string> PassNames => Passes.Select(p => p.Name).ToList();

        /// <summary>The enabled passes of <paramref name="options"/>, in <see cref="Order"/>.</summary>
        public static PassPipeline FromOptions(PassOptions options)
        {
            bool Enabled(string name) => name switch
            {
                RemoveIdentities.PassName => options.RemoveIdentities,
                FoldBatchNormalization.PassName => options.FoldBatchNormalization,
                FuseActivations.PassName => options.FuseActivations,
                ReplaceRelu6.PassName => options.ReplaceRelu6,
                CrossLayerEqualization.PassName => options.CrossLayerEqualization,
                HighBiasAbsorption.PassName => options.HighBiasAbsorption,
                _ => false,
            };
            return new PassPipeline(Order.Where(Enabled).Select(n => Registry[n]()), options.VerifyBetweenPasses);
        }

        /// <summary>The named passes in the given order; an unknown name is an invalid option.</summary>
        public static PassPipeline FromNames(IEnumerable<string> names, bool verifyBetweenPasses = false)
        {
            var passes = new List<IGraphPass>();
            foreach (var name in names)
            {
                if (!Registry.TryGetValue(name, out var create))
                    throw new ModelException(DiagnosticCatalog.InvalidOption,
                        $"'{name}' is not a graph pass (known passes: {string.Join(", ", Order)})");
                passes.Add(create());
            }
            return new PassPipeline(passes, verifyBetweenPasses);
        }

        /// <summary>Runs every pass in order on <paramref name="graph"/>, in place. Throws only <see cref="ModelException"/>.</summary>
        public PassReport Run(Graph graph)
        {
            var ran = new List<string>();
            var changed = new List<string>();
            if (VerifyBetweenPasses) GraphVerifier.Verify(graph);
            foreach (var pass in Passes)
            {
                bool didChange;
                try
                {
                    didChange = pass.Run(graph);
                }
                catch (Exception e) when (!(e is ModelException))
                {
                    throw new ModelException(DiagnosticCatalog.InternalError,
                        $"Model '{graph.ModelName}': pass '{pass.Name}' failed unexpectedly ({e.GetType().Name}: {e.Message}). Please report this with the model.");
                }
                ran.Add(pass.Name);
                if (didChange) changed.Add(pass.Name);
                if (VerifyBetweenPasses) GraphVerifier.Verify(graph, pass.Name);
            }
            return new PassReport(ran, changed);
        }
    }
}
