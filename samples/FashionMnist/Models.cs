using NetQuantGen;

namespace FashionMnist
{
    // Each attribute compiles one ONNX model into the class at build time (W8A8, per-channel weights, calibrated
    // activation ranges from the .calib file written by `netquant calibrate`).

    [QuantizedModel("../models/small_cnn.onnx", Calibration = "../models/small_cnn.calib")]
    public static partial class SmallCnn { }

    [QuantizedModel("../models/mobilenet_v2_small.onnx", Calibration = "../models/mobilenet_v2_small.calib")]
    public static partial class MobileNetV2Small { }

    // ResNet-18 is exported with dynamic height and width: InputShape pins them to the training size.
    [QuantizedModel("../models/resnet18.onnx", Calibration = "../models/resnet18.calib", InputShape = "1,3,32,32")]
    public static partial class ResNet18 { }
}
