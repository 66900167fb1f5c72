using System;
using System.IO;

namespace NetQuantGen.Tests
{
    /// <summary>The repository root, baked in at build time so tests never depend on the working directory.</summary>
    [AttributeUsage(AttributeTargets.Assembly)]
    public sealed class RepositoryRootAttribute : Attribute
    {
        public RepositoryRootAttribute(string path) => Path = path;

        public string Path { get; }
    }

    public static class Repository
    {
        public static string Root { get; } = ((RepositoryRootAttribute)Attribute.GetCustomAttribute(
            typeof(Repository).Assembly, typeof(RepositoryRootAttribute))!).Path;

        public static string PathOf(params string[] parts) => System.IO.Path.Combine(Root, System.IO.Path.Combine(parts));

        public static string SampleModel(string fileName) => PathOf("samples", "models", fileName);

        /// <summary>True when running under CI, where tests that need Debian data must fail rather than skip.</summary>
        public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

        /// <summary>
        /// A folder from a Debian package that some tests need. Under CI its absence is a failure; on a
        /// developer machine the test still fails, with the command that installs it.
        /// </summary>
        public static string RequireDebianFolder(string path, string package)
        {
            if (Directory.Exists(path)) return path;
            throw new InvalidOperationException(
                $"'{path}' is missing: install it with `apt-get install {package}` (.ci/run does this).");
        }
    }
}
