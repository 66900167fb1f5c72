using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using NetQuantGen.Cli;
using NetQuantGen.Compiler;
using NetQuantGen.Emit;
using NetQuantGen.IntegerIR;
using NetQuantGen.Runtime.Kernels;
using Xunit;

namespace NetQuantGen.Tests.Kernels
{
    /// <summary>
    /// The sample models with their residual adds fused into convolutions (ResNet-18: every block's add, into conv2 or, in
    /// the downsampling blocks, the downsample conv that runs after it; MobileNetV2: every inverted residual's add, into its
    /// projection, where its channels are whole vectors): the generated code, whose fused adds have no layer method, equals the integer reference executor (the
    /// unfused program) bit for bit on every kernel path and with two threads per layer, on random int8 inputs.
    /// </summary>
    public class ResidualAddSampleModelTests
    {
        [Theory]
        [InlineData("resnet18", 8, 8)]
        [InlineData("mobilenet_v2_small", 5, 4)] // features.5's projection has 24 channels: not whole vectors, left unfused
        public void FusedAddsAreBitIdenticalToTheUnfusedReferenceOnEveryKernelPath(string model, int adds, int fusedAdds)
        {
            var input = new ModelInput(model + ".onnx", File.ReadAllBytes(SampleData.OnnxPath(model)), model + ".calib",
                File.ReadAllBytes(SampleData.StatisticsPath(model)), new CompilationOptions { InputShape = SampleData.InputShapeOption(model) },
                new TargetClass("Samples", "Model", "public", true));
            var lowering = ModelCompiler.Lower(input);
            Assert.True(lowering.IntegerGraph != null, string.Join("\n", lowering.Diagnostics));
            var graph = lowering.IntegerGraph!;
            var fusion = ResidualAddFusion.Plan(graph);
            Assert.Equal(fusedAdds, fusion.Fusions.Count());
            Assert.Equal(adds, graph.Operations.OfType<QAdd>().Count());
            var result = ModelCompiler.Compile(input);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            Assert.Equal(fusedAdds, Regex.Matches(result.Source!, "fused into its output stage").Count);
            Assert.Equal(adds - fusedAdds, Regex.Matches(result.Source!, @"void Layer\d+_Add\(").Count);

            using var generated = new GeneratedModel(result.Source!, "Samples.Model");
            var reference = new IntegerExecutor(graph);
            var inputs = SampleData.RandomQuantizedInputs(model, 4, seed: 5);
            var expected = inputs.Select(reference.RunQuantized).ToArray();
            foreach (var path in Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported))
            {
                using var pinned = KernelPathScope.Use(path);
                foreach (int threads in path == KernelPath.Scalar ? new[] { 1 } : new[] { 1, 2 })
                {
                    KernelThreads.Count = threads;
                    try
                    {
                        for (int i = 0; i < inputs.Length; i++)
                            Assert.True(expected[i].AsSpan().SequenceEqual(generated.Run(inputs[i])), $"{model}: random input {i} differs on kernel path {path} with {threads} thread(s)");
                    }
                    finally { KernelThreads.Count = 1; }
                }
            }
        }
    }
}
