using System;
using NetQuantGen;

namespace NetQuantGen.Benchmarks
{
    // Compiled only when samples/models/resnet18.onnx and resnet18.calib exist (see the project file).
    // ResNet-18 is exported with dynamic height and width; InputShape pins them to the training size.

    [QuantizedModel("../../samples/models/resnet18.onnx", Calibration = "../../samples/models/resnet18.calib", InputShape = "1,3,32,32")]
    public static partial class ResNet18 { }

    [QuantizedModel("../../samples/models/resnet18.onnx", Calibration = "../../samples/models/resnet18.calib", InputShape = "1,3,32,32", WeightBits = 4)]
    public static partial class ResNet18W4 { }

    public class ResNet18Benchmarks : ModelBenchmarks
    {
        protected override string Model => "resnet18";
        protected override string? InputShapeOption => "1,3,32,32";
        protected override int[] InputShape => ResNet18.InputShape.ToArray();
        protected override int OutputLength => ResNet18.OutputLength;
        protected override void RunGenerated(ReadOnlySpan<float> input, Span<float> output) => ResNet18.Run(input, output);
        protected override void RunGeneratedW4(ReadOnlySpan<float> input, Span<float> output) => ResNet18W4.Run(input, output);
    }
}
