using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;

namespace NetQuantGen.Generator
{
    /// <summary>
    /// The bytes of one binary additional file (.onnx or .calib), or the reason they could not be read.
    /// Equality is path + SHA-256 (+ error) only: comparing the hashes is what lets the pipeline skip
    /// recompiling a model whose file did not change, without comparing megabytes.
    /// </summary>
    internal sealed class FileContent : IEquatable<FileContent>
    {
        public FileContent(string path, string sha256, EquatableArray<byte> bytes, string? error)
        {
            Path = path;
            Sha256 = sha256;
            Bytes = bytes;
            Error = error;
        }

        /// <summary>The path as the compiler gives it (<see cref="AdditionalText.Path"/>, normally absolute).</summary>
        public string Path { get; }

        /// <summary>SHA-256 of <see cref="Bytes"/> as 64 lowercase hex digits; empty when <see cref="Error"/> is set.</summary>
        public string Sha256 { get; }

        public EquatableArray<byte> Bytes { get; }

        /// <summary>Why the file could not be read, or null.</summary>
        public string? Error { get; }

        /// <summary>A fresh copy of the bytes, so nothing downstream can change the cached value.</summary>
        public byte[] ToArray() => Bytes.AsSpan().ToArray();

        public bool Equals(FileContent? other) =>
            other is not null
            && string.Equals(Path, other.Path, StringComparison.Ordinal)
            && string.Equals(Sha256, other.Sha256, StringComparison.Ordinal)
            && string.Equals(Error, other.Error, StringComparison.Ordinal);

        public override bool Equals(object? obj) => Equals(obj as FileContent);

        public override int GetHashCode() => unchecked(StringComparer.Ordinal.GetHashCode(Path) * 31 + StringComparer.Ordinal.GetHashCode(Sha256));

        public override string ToString() => Error == null ? $"{Path} ({Bytes.Count} bytes, SHA-256 {Sha256})" : $"{Path} (unreadable: {Error})";
    }

    /// <summary>
    /// THE one place that touches the file system. Why it has to:
    /// <see cref="AdditionalText.GetText"/> decodes a file as text, and on a binary file (an .onnx) the
    /// compiler reports CS2015 ("is a binary file instead of a text file") and fails the build. Roslyn has no
    /// API for binary additional files (dotnet/roslyn#47292), so generators that need bytes read them from
    /// <see cref="AdditionalText.Path"/>. The files are still listed as AdditionalFiles, which is what puts
    /// them in the pipeline: when the IDE or the build hands over a new AdditionalText, this step runs again.
    /// </summary>
    internal static class AdditionalFileReader
    {
        public const string ModelExtension = ".onnx";
        public const string CalibrationExtension = ".calib";

        /// <summary>True for the files the generator reads: .onnx models and .calib statistics.</summary>
        public static bool IsGeneratorInput(string path) =>
            path.EndsWith(ModelExtension, StringComparison.OrdinalIgnoreCase)
            || path.EndsWith(CalibrationExtension, StringComparison.OrdinalIgnoreCase);

        /// <summary>Reads the file's bytes. Never throws: an I/O problem comes back in <see cref="FileContent.Error"/>.</summary>
        public static FileContent Read(AdditionalText file, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            byte[] bytes;
            try
            {
                // RS1035 bans file I/O in analyzers because the compiler cannot see or cache what is read.
                // Here the file is itself an AdditionalFile (so the compiler tracks it) and binary, which
                // GetText() cannot return (CS2015; dotnet/roslyn#47292): reading from its Path is the only way.
#pragma warning disable RS1035
                bytes = File.ReadAllBytes(file.Path);
#pragma warning restore RS1035
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is ArgumentException
                                      || e is NotSupportedException || e is System.Security.SecurityException)
            {
                return new FileContent(file.Path, "", EquatableArray<byte>.Empty, e.Message);
            }
            return new FileContent(file.Path, Sha256Hex(bytes), new EquatableArray<byte>(bytes), null);
        }

        /// <summary>
        /// Whether a path names a file on disk. Used only to word the "not found" diagnostic (a file that
        /// exists but is not listed as an AdditionalFile needs an &lt;AdditionalFiles Include=... /&gt;),
        /// never to read anything, so a stale answer can only make a message less precise.
        /// </summary>
        public static bool ExistsOnDisk(string path)
        {
            try
            {
                // RS1035: see Read. This only chooses the wording of an error message.
#pragma warning disable RS1035
                return File.Exists(path);
#pragma warning restore RS1035
            }
            catch (Exception)
            {
                return false;
            }
        }

        /// <summary>SHA-256 as 64 lowercase hex digits (the form the statistics files and the generated header use).</summary>
        public static string Sha256Hex(byte[] bytes)
        {
            byte[] hash;
            using (var sha = SHA256.Create())
                hash = sha.ComputeHash(bytes);
            var text = new StringBuilder(hash.Length * 2);
            foreach (byte b in hash) text.Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            return text.ToString();
        }
    }
}
