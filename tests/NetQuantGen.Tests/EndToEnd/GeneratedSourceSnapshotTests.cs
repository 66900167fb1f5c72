using System.Linq;
using NetQuantGen.Compiler;
using Xunit;

namespace NetQuantGen.Tests.EndToEnd
{
    /// <summary>The generated source of a tiny model, in each requantization arithmetic, compared with a committed baseline.</summary>
    public class GeneratedSourceSnapshotTests
    {
        [Theory]
        [InlineData(RequantizationOption.Default, "TinyModel")]
        [InlineData(RequantizationOption.Float, "TinyModelFloat")]
        public void TinyModelSourceMatchesTheCommittedBaseline(RequantizationOption requantization, string baseline)
        {
            var model = TinyModels.Snapshot();
            var statistics = TinyModels.Calibrate(model, "tiny.onnx", TinyModels.DyadicInputs(16, 16).ToList());
            var input = new ModelInput("tiny.onnx", model, "tiny.calib", statistics, new CompilationOptions { Requantization = requantization },
                new TargetClass("Samples", "TinyModel", "public", true));
            var result = ModelCompiler.Compile(input);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            SnapshotAssert.Matches(result.Source!, baseline);
        }
    }
}
