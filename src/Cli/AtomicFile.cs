using System;
using System.IO;

namespace NetQuantGen.Cli
{
    /// <summary>Writes a file so that readers see the old contents or the new, never a half-written file.</summary>
    internal static class AtomicFile
    {
        /// <summary>
        /// Writes to a temporary file in the target's folder, flushes it to disk, then renames it over the
        /// target (atomic on the same file system). On any failure the temporary file is removed.
        /// </summary>
        public static void Write(string path, byte[] bytes)
        {
            string full = Path.GetFullPath(path);
            string folder = Path.GetDirectoryName(full) ?? ".";
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The output folder '{folder}' does not exist.");
            string temp = Path.Combine(folder, "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".tmp");
            try
            {
                using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    stream.Write(bytes, 0, bytes.Length);
                    stream.Flush(flushToDisk: true);
                }
                File.Move(temp, full, overwrite: true);
            }
            catch
            {
                try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
                throw;
            }
        }
    }
}
