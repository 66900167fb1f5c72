using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using NetQuantGen.Import;
using NetQuantGen.Runtime.Data;

namespace NetQuantGen.Tests
{
    /// <summary>The committed sample models, their recorded PyTorch results and the committed Fashion-MNIST slice.</summary>
    public static class SampleData
    {
        public static readonly string[] Models = { "small_cnn", "mobilenet_v2_small", "resnet18" };

        private static readonly Lazy<IdxFile> TestImages = new(() => IdxFile.Read(Repository.PathOf("samples", "data", "t10k-images-idx3-ubyte.gz")));
        private static readonly Lazy<byte[]> TestLabelBytes = new(() => IdxFile.ReadLabels(Repository.PathOf("samples", "data", "t10k-labels-idx1-ubyte.gz")));
        private static readonly Lazy<JsonElement> Recorded = new(() =>
            JsonDocument.Parse(File.ReadAllText(Repository.SampleModel("accuracy.json"))).RootElement);

        public static byte[] TestLabels => TestLabelBytes.Value;

        public static string OnnxPath(string model) => Repository.SampleModel(model + ".onnx");

        public static string StatisticsPath(string model) => Repository.SampleModel(model + ".calib");

        /// <summary>The shape each sample model is compiled and calibrated at (ResNet-18 is exported with dynamic H and W).</summary>
        public static int[] InputShape(string model) => model == "resnet18" ? new[] { 1, 3, 32, 32 } : new[] { 1, 1, 28, 28 };

        /// <summary>Seeded int8 inputs over the whole range for a sample model's input shape.</summary>
        public static sbyte[][] RandomQuantizedInputs(string model, int count, int seed)
        {
            var random = new Random(seed);
            int length = InputShape(model).Aggregate(1, (a, b) => a * b);
            return Enumerable.Range(0, count).Select(_ =>
            {
                var q = new sbyte[length];
                random.NextBytes((byte[])(object)q);
                return q;
            }).ToArray();
        }

        public static string InputShapeOption(string model) => string.Join(",", InputShape(model));

        public static ImportOptions ImportOptions(string model) => new()
        {
            InputShapes = new Dictionary<string, int[]> { ["input"] = InputShape(model) },
        };

        /// <summary>The first <paramref name="count"/> test images, preprocessed for the model as the training script did.</summary>
        public static float[][] TestInputs(string model, int count) =>
            Enumerable.Range(0, count).Select(i => InputPreprocessing.FitImage(TestImages.Value.ItemBytes(i), InputShape(model))).ToArray();

        /// <summary>FP32 top-1 that PyTorch measured on the 10,000 test images (training script).</summary>
        public static double PyTorchTop1(string model) => Recorded.Value.GetProperty(model).GetProperty("fp32_top1").GetDouble();

        /// <summary>PyTorch's logits for the first 16 test images.</summary>
        public static float[][] PyTorchLogits(string model) =>
            Recorded.Value.GetProperty(model).GetProperty("first16_logits").EnumerateArray()
                .Select(row => row.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();

        /// <summary>Fraction of the first <paramref name="count"/> test images that <paramref name="run"/> (thread-safe) classifies right, run in parallel.</summary>
        public static double Top1(string model, int count, Func<float[], float[]> run)
        {
            var inputs = TestInputs(model, count);
            var labels = TestLabels;
            int correct = 0;
            System.Threading.Tasks.Parallel.For(0, count, () => 0, (i, _, mine) => ArgMax(run(inputs[i])) == labels[i] ? mine + 1 : mine,
                mine => System.Threading.Interlocked.Add(ref correct, mine));
            return correct / (double)count;
        }

        public static int ArgMax(ReadOnlySpan<float> values)
        {
            int best = 0;
            for (int i = 1; i < values.Length; i++)
                if (values[i] > values[best]) best = i;
            return best;
        }
    }
}
