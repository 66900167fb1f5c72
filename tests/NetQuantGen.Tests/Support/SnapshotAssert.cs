using System;
using System.IO;

namespace NetQuantGen.Tests
{
    /// <summary>
    /// Compares text with a committed baseline file (<c>name.verified.cs</c>). On a difference it writes
    /// <c>name.received.cs</c> beside it and fails. Baselines change only on purpose: set
    /// NETQUANTGEN_UPDATE_SNAPSHOTS=1 to rewrite them (never under CI, where a missing baseline fails too).
    /// </summary>
    public static class SnapshotAssert
    {
        public static void Matches(string actual, string name)
        {
            string folder = Repository.PathOf("tests", "NetQuantGen.Tests", "Snapshots");
            string verified = Path.Combine(folder, name + ".verified.cs");
            string received = Path.Combine(folder, name + ".received.cs");
            bool update = Environment.GetEnvironmentVariable("NETQUANTGEN_UPDATE_SNAPSHOTS") == "1" && !Repository.InCi;
            if (update)
            {
                File.WriteAllText(verified, actual);
                return;
            }
            if (!File.Exists(verified))
            {
                File.WriteAllText(received, actual);
                throw new Xunit.Sdk.XunitException($"No baseline {verified}; review {received} and rerun with NETQUANTGEN_UPDATE_SNAPSHOTS=1 to accept it.");
            }
            string expected = File.ReadAllText(verified).Replace("\r\n", "\n");
            if (expected != actual)
            {
                File.WriteAllText(received, actual);
                throw new Xunit.Sdk.XunitException($"Generated source differs from {verified}; see {received} (diff them, and rerun with NETQUANTGEN_UPDATE_SNAPSHOTS=1 if the change is intended).");
            }
            if (File.Exists(received)) File.Delete(received);
        }
    }
}
