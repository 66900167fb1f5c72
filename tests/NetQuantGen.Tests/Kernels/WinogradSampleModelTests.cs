using System;
using System.IO;
using System.Linq;
using NetQuantGen.Cli;
using NetQuantGen.Compiler;
using NetQuantGen.Emit;
using NetQuantGen.IntegerIR;
using NetQuantGen.Runtime.Kernels;
using Xunit;

namespace NetQuantGen.Tests.Kernels
{
    /// <summary>
    /// The sample models compiled with their committed statistics, 8- and 4-bit weights: their 3×3 stride-1 layers get the
    /// Winograd kernel, and the generated code equals the integer reference executor bit for bit on every kernel path, on
    /// random int8 inputs over the whole range (every padding tap and edge tile sees extreme values).
    /// </summary>
    public class WinogradSampleModelTests
    {
        [Theory]
        [InlineData("small_cnn", 8, 3, 0)]
        [InlineData("small_cnn", 4, 3, 0)]
        [InlineData("resnet18", 8, 10, 3)] // 13 of them; layer4's three at 1×1 stay direct; layer2's three (128 channels, 4×4) get 4×2 tiles, layer3's at 2×2 would waste half
        [InlineData("resnet18", 4, 10, 3)]
        public void WinogradLayersAreBitIdenticalToTheIntegerReferenceOnEveryKernelPath(string model, int weightBits, int winogradLayers, int fourByTwoLayers)
        {
            var input = new ModelInput(model + ".onnx", File.ReadAllBytes(SampleData.OnnxPath(model)), model + ".calib",
                File.ReadAllBytes(SampleData.StatisticsPath(model)),
                new CompilationOptions { InputShape = SampleData.InputShapeOption(model), WeightBits = weightBits },
                new TargetClass("Samples", "Model", "public", true));
            var lowering = ModelCompiler.Lower(input);
            Assert.True(lowering.IntegerGraph != null, string.Join("\n", lowering.Diagnostics));
            var kernels = lowering.IntegerGraph!.Operations.OfType<QConvolution>().Select(ConvolutionEmitter.KernelOf).ToArray();
            Assert.Equal(winogradLayers, kernels.Count(k => k == ConvolutionKernel.Winograd || k == ConvolutionKernel.WinogradFourByTwo));
            Assert.Equal(fourByTwoLayers, kernels.Count(k => k == ConvolutionKernel.WinogradFourByTwo));
            var result = ModelCompiler.Compile(input);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            Assert.Contains("Winograd F(2×2,3×3)", result.Source);
            if (fourByTwoLayers > 0) Assert.Contains("Winograd F(4×2,3×3)", result.Source);
            using var generated = new GeneratedModel(result.Source!, "Samples.Model");
            var reference = new IntegerExecutor(lowering.IntegerGraph!);
            var inputs = SampleData.RandomQuantizedInputs(model, 8, seed: weightBits);
            var expected = inputs.Select(reference.RunQuantized).ToArray();
            foreach (var path in Enum.GetValues<KernelPath>().Where(KernelPaths.IsSupported))
            {
                using var pinned = KernelPathScope.Use(path);
                for (int i = 0; i < inputs.Length; i++)
                    Assert.True(expected[i].AsSpan().SequenceEqual(generated.Run(inputs[i])), $"{model} W{weightBits}: random input {i} differs on kernel path {path}");
            }
        }
    }
}
