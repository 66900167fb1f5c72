using System.Linq;
using NetQuantGen.Generator;
using Xunit;

namespace NetQuantGen.Tests.Generator
{
    /// <summary>How an attribute's path finds its AdditionalFile, including Windows paths this machine never builds with.</summary>
    public class InputResolverTests
    {
        private static EquatableArray<FileContent> Files(params string[] paths) =>
            new(paths.Select(p => new FileContent(p, "hash-" + p, EquatableArray<byte>.Empty, null)).ToArray());

        private static string? Match(string written, EquatableArray<FileContent> files, string? projectDirectory) =>
            InputResolver.Match(written, files, projectDirectory, out _)?.Path;

        [Theory]
        [InlineData("models/x.onnx", "/p/models/x.onnx")]
        [InlineData("./models/x.onnx", "/p/models/x.onnx")]
        [InlineData("models\\x.onnx", "/p/models/x.onnx")]
        [InlineData("models/../models/x.onnx", "/p/models/x.onnx")]
        [InlineData("../shared/y.onnx", "/shared/y.onnx")]
        [InlineData("/shared/y.onnx", "/shared/y.onnx")]
        public void RelativeToTheProjectFolder(string written, string expected) =>
            Assert.Equal(expected, Match(written, Files("/p/models/x.onnx", "/shared/y.onnx", "/q/models/x.onnx"), "/p/"));

        [Fact]
        public void WindowsPaths()
        {
            var files = Files(@"C:\src\app\models\x.onnx", @"C:\src\other\models\x.onnx");
            Assert.Equal(@"C:\src\app\models\x.onnx", Match(@"models\x.onnx", files, @"C:\src\app\"));
            Assert.Equal(@"C:\src\app\models\x.onnx", Match("models/x.onnx", files, @"C:\src\app"));
            Assert.Equal(@"C:\src\app\models\x.onnx", Match(@"MODELS\X.onnx", files, @"c:\src\app\")); // case-insensitive file systems
            Assert.Equal(@"C:\src\other\models\x.onnx", Match(@"..\other\models\x.onnx", files, @"C:\src\app\"));
        }

        [Fact]
        public void SuffixOnAFolderBoundaryWhenNotUnderTheProject()
        {
            var files = Files("/elsewhere/models/x.onnx", "/elsewhere/mymodels/z.onnx");
            Assert.Equal("/elsewhere/models/x.onnx", Match("models/x.onnx", files, "/p/"));
            Assert.Equal("/elsewhere/models/x.onnx", Match("x.onnx", files, null));
            Assert.Null(Match("models/z.onnx", files, "/p/"));
            Assert.Null(Match("../models/x.onnx", files, null)); // ".." only means something relative to the project
        }

        [Fact]
        public void SeveralSuffixMatchesAreAmbiguous()
        {
            var files = Files("/a/models/x.onnx", "/b/models/x.onnx");
            Assert.Null(InputResolver.Match("models/x.onnx", files, "/p/", out var ambiguous));
            Assert.Equal(new[] { "/a/models/x.onnx", "/b/models/x.onnx" }, ambiguous.Select(f => f.Path).OrderBy(p => p).ToArray());
            // ... unless one of them is the file relative to the project.
            Assert.Equal("/a/models/x.onnx", Match("models/x.onnx", files, "/a"));
        }

        [Theory]
        [InlineData("a/./b//c.onnx", "a/b/c.onnx")]
        [InlineData("a/../../c.onnx", "../c.onnx")]
        [InlineData("/a/../../c.onnx", "/c.onnx")]
        [InlineData(@"C:\a\..\c.onnx", "C:/c.onnx")]
        [InlineData("//server/share/m.onnx", "//server/share/m.onnx")]
        public void Collapse(string path, string expected) => Assert.Equal(expected, InputResolver.Collapse(path));
    }
}
