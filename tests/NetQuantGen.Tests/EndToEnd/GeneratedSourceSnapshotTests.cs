using System.Linq;
using NetQuantGen.Compiler;
using Xunit;

namespace NetQuantGen.Tests.EndToEnd
{
    /// <summary>The generated source of a tiny model, compared with a committed baseline.</summary>
    public class GeneratedSourceSnapshotTests
    {
        [Fact]
        public void TinyModelSourceMatchesTheCommittedBaseline()
        {
            var model = TinyModels.Snapshot();
            var statistics = TinyModels.Calibrate(model, "tiny.onnx", TinyModels.DyadicInputs(16, 16).ToList());
            var input = new ModelInput("tiny.onnx", model, "tiny.calib", statistics, new CompilationOptions(),
                new TargetClass("Samples", "TinyModel", "public", true));
            var result = ModelCompiler.Compile(input);
            Assert.True(result.Source != null, string.Join("\n", result.Diagnostics));
            SnapshotAssert.Matches(result.Source!, "TinyModel");
        }
    }
}
