using System;
using System.Collections.Generic;
using System.Linq;
using NetQuantGen.Diagnostics;

namespace NetQuantGen.Generator
{
    /// <summary>
    /// Finds the files an attribute names among the AdditionalFiles. A relative path is first taken relative
    /// to the project folder (<c>build_property.projectdir</c>); otherwise it matches any AdditionalFile whose
    /// path ends with it on a folder boundary, and several such matches are an error rather than a guess.
    /// Separators are normalized, so "models\x.onnx" and "models/x.onnx" are the same path.
    /// </summary>
    internal static class InputResolver
    {
        public static ResolvedModel Resolve(ModelSpec spec, EquatableArray<FileContent> files, string? projectDirectory)
        {
            var diagnostics = new List<DiagnosticInfo>();
            var model = Find("Model file", spec.OnnxPath, AdditionalFileReader.ModelExtension, spec, files, projectDirectory, diagnostics);
            FileContent? calibration = null;
            if (spec.CalibrationPath != null)
                calibration = Find("Calibration file", spec.CalibrationPath, AdditionalFileReader.CalibrationExtension, spec, files, projectDirectory, diagnostics);
            return new ResolvedModel(spec, model, calibration, new EquatableArray<DiagnosticInfo>(diagnostics));
        }

        private static FileContent? Find(string what, string written, string extension, ModelSpec spec, EquatableArray<FileContent> files, string? projectDirectory, List<DiagnosticInfo> diagnostics)
        {
            // An empty path or another extension was already reported as an invalid argument.
            if (written.Length == 0 || !written.EndsWith(extension, StringComparison.OrdinalIgnoreCase)) return null;
            var match = Match(written, files, projectDirectory, out var ambiguous);
            string subject = $"[QuantizedModel] on class '{spec.FullName}'";
            if (match != null)
            {
                if (match.Error == null) return match;
                diagnostics.Add(new DiagnosticInfo(DiagnosticCatalog.MissingFile,
                    $"{subject}: {what} '{written}' is listed in AdditionalFiles as '{match.Path}' but could not be read: {match.Error}", spec.AttributeLocation));
                return null;
            }
            if (ambiguous.Count > 0)
            {
                diagnostics.Add(new DiagnosticInfo(DiagnosticCatalog.AmbiguousFile,
                    $"{subject}: {what} '{written}' matches several AdditionalFiles ({string.Join(", ", ambiguous.Select(f => "'" + f.Path + "'"))}); write the path relative to the project folder so it names one file.", spec.AttributeLocation));
                return null;
            }
            diagnostics.Add(new DiagnosticInfo(DiagnosticCatalog.MissingFile, NotFoundMessage(subject, what, written, projectDirectory), spec.AttributeLocation));
            return null;
        }

        private static string NotFoundMessage(string subject, string what, string written, string? projectDirectory)
        {
            string include = $"<AdditionalFiles Include=\"{written}\" />";
            string? onDisk = projectDirectory == null && !IsRooted(written) ? null : ToNativePath(Collapse(Combine(projectDirectory, written)));
            if (onDisk != null && AdditionalFileReader.ExistsOnDisk(onDisk))
                return $"{subject}: {what} '{written}' exists ('{onDisk}') but is not listed as an AdditionalFile, so the build cannot read it; add {include} to an <ItemGroup> of the project file.";
            string where = onDisk == null ? "" : $" and there is no file '{onDisk}'";
            return $"{subject}: {what} '{written}' was not found: no AdditionalFile has that path{where}. Check the path (it is relative to the project folder) and list the file in the project file with {include}.";
        }

        /// <summary>The one AdditionalFile a written path names, or null (with the candidates when there are several).</summary>
        public static FileContent? Match(string written, EquatableArray<FileContent> files, string? projectDirectory, out IReadOnlyList<FileContent> ambiguous)
        {
            ambiguous = Array.Empty<FileContent>();
            string requested = Normalize(written);
            if (requested.Length == 0) return null;

            // 1. The path relative to the project folder (or an absolute path): an exact match wins.
            if (IsRooted(requested) || projectDirectory != null)
            {
                string full = Collapse(Combine(projectDirectory, requested));
                var exact = Pick(files.Where(f => string.Equals(Collapse(Normalize(f.Path)), full, StringComparison.Ordinal)).ToList())
                    ?? Pick(files.Where(f => string.Equals(Collapse(Normalize(f.Path)), full, StringComparison.OrdinalIgnoreCase)).ToList());
                if (exact != null) return exact;
                if (IsRooted(requested)) return null;
            }

            // 2. Any AdditionalFile whose path ends with the written one on a folder boundary.
            string relative = Collapse(requested);
            if (relative.StartsWith("../", StringComparison.Ordinal) || relative == "..") return null; // only meaningful relative to the project
            foreach (var comparison in new[] { StringComparison.Ordinal, StringComparison.OrdinalIgnoreCase })
            {
                var candidates = files.Where(f => EndsWithSegments(Collapse(Normalize(f.Path)), relative, comparison)).ToList();
                if (candidates.Count == 1) return candidates[0];
                if (candidates.Count > 1)
                {
                    ambiguous = candidates;
                    return null;
                }
            }
            return null;
        }

        /// <summary>The same file listed twice is still one file.</summary>
        private static FileContent? Pick(List<FileContent> matches) => matches.Count == 0 ? null : matches[0];

        private static bool EndsWithSegments(string path, string suffix, StringComparison comparison) =>
            path.Length == suffix.Length ? string.Equals(path, suffix, comparison)
            : path.Length > suffix.Length && path.EndsWith(suffix, comparison) && path[path.Length - suffix.Length - 1] == '/';

        public static string Normalize(string path) => path.Trim().Replace('\\', '/');

        private static bool IsRooted(string path)
        {
            path = Normalize(path);
            return path.StartsWith("/", StringComparison.Ordinal)
                || path.Length >= 2 && path[1] == ':' && char.IsLetter(path[0]);
        }

        private static string Combine(string? directory, string path) =>
            directory == null || IsRooted(path) ? Normalize(path) : Normalize(directory).TrimEnd('/') + "/" + Normalize(path);

        /// <summary>Removes empty and "." segments and folds ".." lexically, keeping the root ("/", "C:/" or "//server").</summary>
        public static string Collapse(string path)
        {
            path = Normalize(path);
            string root = "";
            if (path.StartsWith("//", StringComparison.Ordinal)) root = "//";
            else if (path.StartsWith("/", StringComparison.Ordinal)) root = "/";
            else if (path.Length >= 2 && path[1] == ':' && char.IsLetter(path[0]))
            {
                root = path.Substring(0, 2) + "/";
                path = path.Substring(2);
            }
            var segments = new List<string>();
            foreach (var segment in path.Split('/'))
            {
                if (segment.Length == 0 || segment == ".") continue;
                if (segment == ".." && segments.Count > 0 && segments[segments.Count - 1] != "..") segments.RemoveAt(segments.Count - 1);
                else if (segment == ".." && root.Length > 0) continue; // above the root is the root
                else segments.Add(segment);
            }
            return root + string.Join("/", segments);
        }

        private static string ToNativePath(string path) =>
            System.IO.Path.DirectorySeparatorChar == '/' ? path : path.Replace('/', System.IO.Path.DirectorySeparatorChar);
    }
}
