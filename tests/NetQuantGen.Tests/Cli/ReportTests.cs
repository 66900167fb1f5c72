using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using SkiaSharp;
using Xunit;

namespace NetQuantGen.Tests.Cli
{
    /// <summary>`netquant report` on the small sample model: text, HTML page with plots, rendered by headless Chromium.</summary>
    public class ReportTests
    {
        private const string Chromium = "/usr/bin/chromium";

        private static (CliTests.Result Result, string Folder) Report(TempFolder temp)
        {
            string folder = Path.Combine(temp.Path, "report");
            var result = CliTests.Netquant("report", SampleData.OnnxPath("small_cnn"), "--stats", SampleData.StatisticsPath("small_cnn"),
                "--data", Repository.PathOf("samples", "data", "calib-images-idx3-ubyte.gz"), "--count", "2", "--out", folder);
            Assert.True(result.ExitCode == 0, result.Error);
            return (result, folder);
        }

        [Fact]
        public void ReportGivesPerLayerSqnrClippingRangesAndChannelRangesAsTextAndHtml()
        {
            using var temp = new TempFolder();
            var (result, folder) = Report(temp);
            Assert.Contains("Layer SQNR (dB)", result.Out);
            Assert.Contains("/fc2/Gemm", result.Out);
            Assert.Contains("Activation SQNR over 2 images", result.Out);
            Assert.Equal(result.Out.Replace("\r", ""), File.ReadAllText(Path.Combine(folder, "report.txt")).Replace("\r", "") + $"Wrote {Path.Combine(folder, "report.html")} and {Path.Combine(folder, "report.txt")}.\n");
            // W8 per-channel weights of a trained layer: SQNR in the 40s of dB (about 6 dB per bit, less the range lost to outliers).
            var fc1 = result.Out.Split('\n').Single(l => l.StartsWith("/fc1/Gemm", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.InRange(double.Parse(fc1[3], System.Globalization.CultureInfo.InvariantCulture), 35, 55);
            string html = File.ReadAllText(Path.Combine(folder, "report.html"));
            Assert.Contains("channel_ranges_before.png", html);
            Assert.Contains("histogram_000.png", html);
            Assert.All(Directory.GetFiles(folder, "*.png"), png => Assert.True(new FileInfo(png).Length > 1000, png));
        }

        [Fact]
        public void ReportPageRendersInHeadlessChromium()
        {
            if (!File.Exists(Chromium)) throw new InvalidOperationException($"'{Chromium}' is missing: install it with `apt-get install chromium` (.ci/run does this).");
            using var temp = new TempFolder();
            var (_, folder) = Report(temp);
            string screenshot = Path.Combine(temp.Path, "page.png");
            var start = new ProcessStartInfo(Chromium)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                ArgumentList = { "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", $"--user-data-dir={Path.Combine(temp.Path, "profile")}", $"--screenshot={screenshot}",
                    "--window-size=1200,2000", new Uri(Path.Combine(folder, "report.html")).AbsoluteUri },
            };
            using (var chromium = Process.Start(start)!)
            {
                chromium.StandardOutput.ReadToEndAsync();
                string errors = chromium.StandardError.ReadToEnd();
                Assert.True(chromium.WaitForExit(120_000), "chromium did not finish in 2 minutes");
                Assert.True(File.Exists(screenshot), errors);
            }
            using var bitmap = SKBitmap.Decode(screenshot);
            Assert.Equal((1200, 2000), (bitmap.Width, bitmap.Height));
            int inked = 0;
            var colours = new System.Collections.Generic.HashSet<SKColor>();
            for (int y = 0; y < bitmap.Height; y += 2)
                for (int x = 0; x < bitmap.Width; x += 2)
                {
                    var c = bitmap.GetPixel(x, y);
                    colours.Add(c);
                    if (c.Red < 200 || c.Green < 200 || c.Blue < 200) inked++;
                }
            // Text, tables and plots: a real page has thousands of dark pixels and many shades; a blank or error page does not.
            Assert.True(inked > 0.02 * bitmap.Width * bitmap.Height / 4, $"only {inked} inked pixels");
            Assert.True(colours.Count > 50, $"only {colours.Count} colours");
        }
    }
}
