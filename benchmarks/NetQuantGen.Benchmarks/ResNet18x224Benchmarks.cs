using System;
using NetQuantGen;

namespace NetQuantGen.Benchmarks
{
    // Compiled only when samples/models/resnet18.onnx and resnet18_224.calib exist (see the project file); the
    // statistics at 224x224 come from
    //   netquant calibrate samples/models/resnet18.onnx --data samples/data/calib-images-idx3-ubyte.gz --count 200 \
    //     --input-shape 1,3,224,224 --out samples/models/resnet18_224.calib

    [QuantizedModel("../../samples/models/resnet18.onnx", Calibration = "../../samples/models/resnet18_224.calib", InputShape = "1,3,224,224")]
    public static partial class ResNet18x224 { }

    [QuantizedModel("../../samples/models/resnet18.onnx", Calibration = "../../samples/models/resnet18_224.calib", InputShape = "1,3,224,224", WeightBits = 4)]
    public static partial class ResNet18x224W4 { }

    public class ResNet18x224Benchmarks : ModelBenchmarks
    {
        protected override string Model => "resnet18";
        protected override string Calibration => "resnet18_224.calib";
        protected override string? InputShapeOption => "1,3,224,224";
        protected override int[] InputShape => ResNet18x224.InputShape.ToArray();
        protected override int OutputLength => ResNet18x224.OutputLength;
        protected override void RunGenerated(ReadOnlySpan<float> input, Span<float> output) => ResNet18x224.Run(input, output);
        protected override void RunGeneratedW4(ReadOnlySpan<float> input, Span<float> output) => ResNet18x224W4.Run(input, output);
    }
}
