using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Diagnostics;
using NetQuantGen.IR;
using NetQuantGen.Passes;
using Xunit;
using static NetQuantGen.Tests.Passes.PassTestSupport;

namespace NetQuantGen.Tests.Passes
{
    public class PassPipelineTests
    {
        private static Graph ConvBnRelu() 
        {
            var random = new Random(1);
            return ImportModel(ConvModel(random)
                .Node("Identity", new[] { "c" }, new[] { "c2" })
                .BatchNorm(random, "c2", "n", 4)
                .Node("Relu", new[] { "n" }, new[] { "y" })
                .Output("y"));
        }

        private sealed class LambdaPass : IGraphPass
        {
            private readonly Func<Graph, bool> _run;
            public LambdaPass(string name, Func<Graph, bool> run) { Name = name; _run = run; }
            public string Name { get; }
            public bool Run(Graph graph) => _run(graph);
        }

        [Fact]
        public void DefaultOptionsRunThePassesInTheirStableOrder()
        {
            var pipeline = PassPipeline.FromOptions(new PassOptions());
            Assert.Equal(new[] { "remove-identity", "fold-batchnorm", "fuse-activation" }, pipeline.PassNames);
        }

        [Fact]
        public void DefaultPipelineTurnsConvBatchNormReluIntoOneConvThatOutputsTheReluValue()
        {
            var graph = ConvBnRelu();

            var report = PassPipeline.FromOptions(new PassOptions { VerifyBetweenPasses = true }).Run(graph);

            Assert.Equal(new[] { "remove-identity", "fold-batchnorm", "fuse-activation" }, report.Ran);
            Assert.Equal(report.Ran, report.Changed);
            var conv = Assert.Single(graph.Nodes);
            Assert.Equal(new Conv(((Conv)conv.Op).Window, 1, FusedClamp.Relu), conv.Op);
            Assert.Equal("y", conv.Output.Name);
        }

        [Fact]
        public void DisabledPassIsNeitherRunNorReported()
        {
            var graph = ConvBnRelu();
            var report = PassPipeline.FromOptions(new PassOptions { FoldBatchNormalization = false, VerifyBetweenPasses = true }).Run(graph);

            Assert.Equal(new[] { "remove-identity", "fuse-activation" }, report.Ran);
            Assert.Contains(graph.Nodes, n => n.Op is BatchNormalization);
        }

        [Fact]
        public void PassThatChangesNothingIsReportedAsRunButNotChanged()
        {
            var graph = ImportModel(new OnnxBuilder().Input("x", 1, 4).Node("Sigmoid", new[] { "x" }, new[] { "y" }).Output("y"));
            var report = PassPipeline.FromOptions(new PassOptions()).Run(graph);
            Assert.Equal(3, report.Ran.Count);
            Assert.Empty(report.Changed);
        }

        [Fact]
        public void PipelineFromNamesRunsThemInTheGivenOrder()
        {
            var graph = ConvBnRelu();
            // Fusing first finds BN, not ReLU, after the Conv: nothing fuses; BN folds afterwards.
            var report = PassPipeline.FromNames(new[] { "remove-identity", "fuse-activation", "fold-batchnorm" }, verifyBetweenPasses: true).Run(graph);

            Assert.Equal(new[] { "remove-identity", "fuse-activation", "fold-batchnorm" }, report.Ran);
            Assert.Equal(new[] { "Conv", "Relu" }, graph.Nodes.Select(n => n.Op.OpType));
        }

        [Fact]
        public void UnknownPassNameIsAnInvalidOption()
        {
            var e = Assert.Throws<ModelException>(() => PassPipeline.FromNames(new[] { "fold-batchnorm", "fold-everything" }));
            Assert.Equal(DiagnosticCatalog.InvalidOption, e.Kind);
            Assert.Contains("fold-everything", e.Message);
            Assert.Contains("fold-batchnorm", e.Message);
        }

        [Fact]
        public void EveryPassIsKnownByNameAndHasItsPlaceInTheOrder()
        {
            Assert.Equal(PassPipeline.Order.OrderBy(n => n), PassPipeline.KnownPasses.OrderBy(n => n));
            Assert.Equal(PassPipeline.Order, PassPipeline.FromNames(PassPipeline.Order).PassNames);
            Assert.Equal(PassPipeline.DefaultOrder, PassPipeline.FromNames(PassPipeline.DefaultOrder).PassNames);
        }

        [Fact]
        public void DefaultPassesAreTheThreeFunctionPreservingCleanups()
        {
            Assert.Equal(new[] { "remove-identity", "fold-batchnorm", "fuse-activation" }, PassPipeline.DefaultOrder);
        }

        [Fact]
        public void VerifierBetweenPassesNamesThePassThatBrokeTheGraph()
        {
            var graph = ConvBnRelu();
            var breaker = new LambdaPass("breaker", g => { g.Nodes.Reverse(); return true; });
            var pipeline = new PassPipeline(new IGraphPass[] { new RemoveIdentities(), breaker, new FuseActivations() }, verifyBetweenPasses: true);

            var e = Assert.Throws<ModelException>(() => pipeline.Run(graph));

            Assert.Equal(DiagnosticCatalog.InternalError, e.Kind);
            Assert.Contains("pass 'breaker' broke", e.Message);
        }

        [Fact]
        public void PassThatThrowsSomethingElseBecomesAnInternalErrorNamingIt()
        {
            var graph = ConvBnRelu();
            var pipeline = new PassPipeline(new IGraphPass[] { new LambdaPass("crasher", _ => throw new IndexOutOfRangeException("boom")) });

            var e = Assert.Throws<ModelException>(() => pipeline.Run(graph));

            Assert.Equal(DiagnosticCatalog.InternalError, e.Kind);
            Assert.Contains("crasher", e.Message);
            Assert.Contains("boom", e.Message);
        }
    }
}
