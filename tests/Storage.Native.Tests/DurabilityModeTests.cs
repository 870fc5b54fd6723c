using System.Text;

namespace Pyralog.Storage.Native.Tests;

public class DurabilityModeTests
{
    private const ulong Log = 1;

    [Theory]
    [InlineData(DurabilityMode.PerBatch)]
    [InlineData(DurabilityMode.Interval)]
    [InlineData(DurabilityMode.None)]
    public async Task Every_mode_recovers_acknowledged_writes_after_reopen(DurabilityMode mode)
    {
        using var dir = new TempDirectory();
        var options = new PyramidOptions { Durability = mode, SyncInterval = TimeSpan.FromMilliseconds(2) };
        await using (var store = PyramidStore.Open(dir.Path, options))
        {
            var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
            {
                for (var i = 0; i < 50; i++)
                {
                    await store.PutAsync(Encoding.UTF8.GetBytes($"w{w}/{i:D3}"), BitConverter.GetBytes(i));
                }
            }));
            await Task.WhenAll(writers);
            await store.AppendAsync(Log, 1, 0, "last"u8.ToArray());
        }

        await using (var store = PyramidStore.Open(dir.Path, options))
        {
            Assert.Equal(1ul, store.GetLogBounds(Log).Next);
            using var scan = store.ScanKvPrefix("w"u8);
            var count = 0;
            while (scan.MoveNext())
            {
                count++;
            }

            Assert.Equal(200, count);
        }
    }

    [Fact]
    public void A_store_path_that_is_a_file_gives_a_clear_error()
    {
        using var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "not-a-directory");
        File.WriteAllText(file, "x");
        var error = Assert.Throws<IOException>(() => PyramidStore.Open(file));
        Assert.Contains(file, error.Message);
    }
}
