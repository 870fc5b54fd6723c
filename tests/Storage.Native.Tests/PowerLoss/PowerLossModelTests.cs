using System.Text;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>
/// Random writes, flushes and compactions with power lost at random moments (mid-write, mid-flush, mid-compaction,
/// with the last unsynced write torn at a random byte), writes and syncs failed on command, and reopens. After every
/// reopen: the store opens; every acknowledged write is there; a write that failed is there entirely or not at all,
/// and once the store was seen without it (and later writes were acknowledged) it never appears.
/// </summary>
public class PowerLossModelTests
{
    private const ulong Log = 1;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public async Task Acknowledged_writes_survive_power_loss_and_failed_writes_stay_all_or_nothing(int seed)
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions
        {
            BackgroundWork = false,
            MemtableBytes = 64 << 10,
            BlockBytes = 512,
            TargetSegmentBytes = 64 << 10,
            L1TargetBytes = 64 << 10,
            L0CompactionTrigger = 2,
            Device = device,
        };
        var random = new Random(seed);
        var model = new StoreModel();
        var store = PyramidStore.Open(dir.Path, options);
        var history = new List<string>();
        try
        {
            for (var step = 0; step < 400; step++)
            {
                if (random.Next(12) == 0)
                {
                    device.CutPowerAfter(random.Next(0, 40));
                }

                var (description, write, expect) = NextOperation(random, model);
                var pending = model.Clone();
                expect(pending);
                try
                {
                    switch (random.Next(30))
                    {
                        case 0:
                            device.FailNextWrite("wal-");
                            description = "failed write: " + description;
                            break;
                        case 1:
                            device.FailNextSync("wal-");
                            description = "failed sync: " + description;
                            break;
                    }

                    history.Add(description);
                    await write(store);
                    model = pending;
                    continue;
                }
                catch (IOException)
                {
                    // Power went or a write or sync failed: the write may or may not have reached the disk.
                }

                var tear = random.Next(0, 400);
                if (device.PowerIsOff || random.Next(2) == 0)
                {
                    var lost = tear % 3 == 0 ? tear / 2 : 0; // a third of the time the disk kept the later pages only
                    history.Add($"power loss, torn at {tear}, first {lost} bytes lost");
                    await PowerLossDevice.LosePowerAsync(store, device, tear, lost);
                }
                else
                {
                    history.Add("close"); // what was written but not synced is still in the page cache: a later power loss may drop it
                    await CloseAsync(store);
                }

                store = Reopen(dir.Path, options, device, random, history);
                var context = $"seed {seed} step {step}: {string.Join(" | ", history.TakeLast(6))}";
                var difference = model.Difference(store);
                if (difference is not null && pending.Difference(store) is null)
                {
                    model = pending; // the failed write made it entirely; from now on it is acknowledged state
                    difference = null;
                }

                Assert.True(difference is null, $"{difference} after reopen; {context}");
            }

            history.Add("final power loss");
            await PowerLossDevice.LosePowerAsync(store, device, random.Next(0, 400));
            store = PyramidStore.Open(dir.Path, options);
            Assert.Null(model.Difference(store));
        }
        finally
        {
            await CloseAsync(store);
        }
    }

    /// <summary>Opens the store; sometimes power goes during recovery too, and then it must open after that loss.</summary>
    private static PyramidStore Reopen(string directory, PyramidOptions options, PowerLossDevice device, Random random, List<string> history)
    {
        device.CutPowerAfter(random.Next(4) == 0 ? random.Next(0, 12) : -1);
        while (true)
        {
            try
            {
                var store = PyramidStore.Open(directory, options);
                device.CutPowerAfter(-1);
                return store;
            }
            catch (IOException) when (device.PowerIsOff)
            {
                var tear = random.Next(0, 400);
                history.Add($"power loss in recovery, torn at {tear}");
                device.RestoreDurableState(tear);
            }
        }
    }

    private static async Task CloseAsync(PyramidStore store)
    {
        try
        {
            await store.DisposeAsync();
        }
        catch (IOException)
        {
            // A store whose device failed under it closes with the failure; the files are what matters.
        }
    }

    private static byte[] Payload(ulong offset, int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)((offset * 31) + (ulong)i);
        }

        return bytes;
    }

    /// <summary>A random write or maintenance step: what it does to the store, and to a model of the store.</summary>
    private static (string Description, Func<PyramidStore, Task> Run, Action<StoreModel> Expect) NextOperation(Random random, StoreModel current)
    {
        var choice = random.Next(100);
        if (choice < 50)
        {
            var count = random.Next(1, 30);
            var length = random.Next(0, 400);
            var key = random.Next(3) == 0 ? $"k{random.Next(16):D2}" : null;
            var value = $"v{random.Next(1000)}";
            var first = current.Next;
            return ($"append {count}x{length}{(key is null ? "" : $" + put {key}")}", async store =>
            {
                using var batch = new WriteBatch();
                for (var i = 0; i < count; i++)
                {
                    batch.Append(Log, 1, first + (ulong)i, Payload(first + (ulong)i, length));
                }

                if (key is not null)
                {
                    batch.Put(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value));
                }

                await store.WriteAsync(batch);
            }, model =>
            {
                for (var i = 0; i < count; i++)
                {
                    model.Log[model.Next] = Payload(model.Next, length);
                    model.Next++;
                }

                if (key is not null)
                {
                    model.Kv[key] = value;
                }
            });
        }

        if (choice < 70)
        {
            var key = $"k{random.Next(16):D2}";
            var value = $"v{random.Next(1000)}";
            return ($"put {key}", async store => await store.PutAsync(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value)),
                model => model.Kv[key] = value);
        }

        if (choice < 78)
        {
            var key = $"k{random.Next(16):D2}";
            return ($"delete {key}", async store => await store.DeleteAsync(Encoding.UTF8.GetBytes(key)), model => model.Kv.Remove(key));
        }

        if (choice < 82)
        {
            var back = (ulong)random.Next(0, 20);
            var offset = current.Next - Math.Min(back, current.Next - current.First);
            return ($"truncate suffix at {offset}", async store => await store.TruncateSuffixAsync(Log, offset), model =>
            {
                foreach (var key in model.Log.Keys.Where(k => k >= offset).ToList())
                {
                    model.Log.Remove(key);
                }

                model.Next = offset;
            });
        }

        if (choice < 84)
        {
            var offset = current.First + (ulong)random.Next(0, 30);
            return ($"truncate prefix at {offset}", async store => await store.TruncatePrefixAsync(Log, offset), model =>
            {
                foreach (var key in model.Log.Keys.Where(k => k < offset).ToList())
                {
                    model.Log.Remove(key);
                }

                model.First = Math.Max(model.First, offset);
                model.Next = Math.Max(model.Next, model.First);
            });
        }

        if (choice < 94)
        {
            return ("flush", async store => await store.FlushAsync(), _ => { });
        }

        return ("compact", async store => await store.CompactAsync(), _ => { });
    }
}
