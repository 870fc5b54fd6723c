namespace Pyralog.Storage.Native.Tests;

/// <summary>
/// Recycled WAL files hold the previous file's frames after the new ones. Those are a clean end, not a torn
/// write: a clean reopen reports nothing dropped, so a report of a drop can be trusted to mean one.
/// </summary>
public class RecycledWalTests
{
    private const ulong Log = 1;

    private static readonly PyramidOptions Small = new() { BackgroundWork = false, MemtableBytes = 64 << 10 };

    private static byte[] Payload(ulong offset) => [.. BitConverter.GetBytes(offset), .. new byte[(int)(offset * 37 % 900)]];

    [Fact]
    public async Task Every_clean_reopen_of_a_store_with_recycled_wal_files_reports_nothing_dropped()
    {
        using var dir = new TempDirectory();
        ulong next = 0;
        var random = new Random(7);
        for (var round = 0; round < 60; round++)
        {
            await using (var store = PyramidStore.Open(dir.Path, Small))
            {
                Assert.True(store.Recovery.DroppedBytes == 0,
                    $"round {round}: clean reopen reported {store.Recovery.DroppedBytes} bytes dropped at {store.Recovery.TornFile}:{store.Recovery.TornAtByte}");
                Assert.Null(store.Recovery.TornFile);
                Assert.Equal(next, store.GetLogBounds(Log).Next);
                var batches = random.Next(1, 120);
                for (var b = 0; b < batches; b++)
                {
                    var count = random.Next(1, 8);
                    await store.AppendAsync(Log, Enumerable.Range(0, count).Select(i => new AppendRecord(1, next + (ulong)i, Payload(next + (ulong)i))).ToArray());
                    next += (ulong)count;
                }

                if (round % 3 == 0)
                {
                    await store.FlushAsync();
                }
            }
        }

        await using var last = PyramidStore.Open(dir.Path, Small);
        for (var offset = last.GetLogBounds(Log).First; offset < next; offset++)
        {
            Assert.Equal(Payload(offset), (await last.ReadAsync(Log, offset))!.Payload);
        }
    }
}
