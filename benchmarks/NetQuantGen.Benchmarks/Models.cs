using System;
using NetQuantGen;

namespace NetQuantGen.Benchmarks
{
    // The sample models compiled by the generator at build time, exactly as samples/FashionMnist compiles them.

    [QuantizedModel("../../samples/models/small_cnn.onnx", Calibration = "../../samples/models/small_cnn.calib")]
    public static partial class SmallCnn { }

    [QuantizedModel("../../samples/models/mobilenet_v2_small.onnx", Calibration = "../../samples/models/mobilenet_v2_small.calib")]
    public static partial class MobileNetV2Small { }

    [QuantizedModel("../../samples/models/small_cnn.onnx", Calibration = "../../samples/models/small_cnn.calib", WeightBits = 4)]
    public static partial class SmallCnnW4 { }

    [QuantizedModel("../../samples/models/mobilenet_v2_small.onnx", Calibration = "../../samples/models/mobilenet_v2_small.calib", WeightBits = 4)]
    public static partial class MobileNetV2SmallW4 { }

    public class SmallCnnBenchmarks : ModelBenchmarks
    {
        protected override string Model => "small_cnn";
        protected override int[] InputShape => SmallCnn.InputShape.ToArray();
        protected override int OutputLength => SmallCnn.OutputLength;
        protected override void RunGenerated(ReadOnlySpan<float> input, Span<float> output) => SmallCnn.Run(input, output);
        protected override void RunGeneratedW4(ReadOnlySpan<float> input, Span<float> output) => SmallCnnW4.Run(input, output);
    }

    public class MobileNetV2SmallBenchmarks : ModelBenchmarks
    {
        protected override string Model => "mobilenet_v2_small";
        protected override int[] InputShape => MobileNetV2Small.InputShape.ToArray();
        protected override int OutputLength => MobileNetV2Small.OutputLength;
        protected override void RunGenerated(ReadOnlySpan<float> input, Span<float> output) => MobileNetV2Small.Run(input, output);
        protected override void RunGeneratedW4(ReadOnlySpan<float> input, Span<float> output) => MobileNetV2SmallW4.Run(input, output);
    }
}
