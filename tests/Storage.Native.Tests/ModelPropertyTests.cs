using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Pyralog.Storage.Native.Tests.PowerLoss;

namespace Pyralog.Storage.Native.Tests;

/// <summary>Random operation sequences over three logs and the KV space against an in-memory model, compared after every step.</summary>
public class ModelPropertyTests
{
    // Three logs with ids far apart (the key order puts a log's records between those of its neighbours).
    private static readonly ulong[] Logs = [1, 2, 1UL << 40];

    public enum OpKind
    {
        Append,
        Put,
        Delete,
        TruncateSuffix,
        TruncatePrefix,
        AppendAcrossLogs,
        Flush,
        Compact,
        Reopen,
    }

    /// <param name="L">Index into <see cref="Logs"/> for log operations.</param>
    public sealed record Op(OpKind Kind, int A, int B, int L = 0)
    {
        public override string ToString() => $"{Kind}({A},{B},log{L})";
    }

    private sealed class LogModel
    {
        public readonly SortedDictionary<ulong, (ulong Epoch, byte[] Payload)> Records = [];
        public ulong First;
        public ulong Next;
        public ulong Epoch = 1;

        public void Append(int count, int length, Func<ulong, ulong, int, byte[]> payload, Action<ulong, ulong, byte[]> add)
        {
            for (var i = 0; i < count; i++)
            {
                var offset = Next + (ulong)i;
                var bytes = payload(offset, Epoch, (length + i) % 301);
                Records[offset] = (Epoch, bytes);
                add(offset, Epoch, bytes);
            }

            Next += (ulong)count;
        }
    }

    private static readonly PyramidOptions Options = new()
    {
        BackgroundWork = false,
        MemtableBytes = 64 << 10,
        BlockBytes = 512,
        TargetSegmentBytes = 64 << 10,
        L1TargetBytes = 64 << 10,
        BlockCacheBytes = 16 << 10,
    };

    private static Arbitrary<Op[]> Operations()
    {
        var gen = Gen.Frequency(
            (6, Gen.Choose(1, 40).SelectMany(n => Gen.Choose(0, 300), (n, len) => (n, len))
                .SelectMany(_ => Gen.Choose(0, 2), (p, l) => new Op(OpKind.Append, p.n, p.len, l))),
            (2, Gen.Choose(1, 20).SelectMany(n => Gen.Choose(0, 300), (n, len) => new Op(OpKind.AppendAcrossLogs, n, len))),
            (4, Gen.Choose(0, 15).SelectMany(k => Gen.Choose(0, 1000), (k, v) => new Op(OpKind.Put, k, v))),
            (2, Gen.Choose(0, 15).Select(k => new Op(OpKind.Delete, k, 0))),
            (1, Gen.Choose(0, 100).SelectMany(_ => Gen.Choose(0, 2), (f, l) => new Op(OpKind.TruncateSuffix, f, 0, l))),
            (1, Gen.Choose(0, 120).SelectMany(_ => Gen.Choose(0, 2), (f, l) => new Op(OpKind.TruncatePrefix, f, 0, l))),
            (1, Gen.Constant(new Op(OpKind.Flush, 0, 0))),
            (1, Gen.Constant(new Op(OpKind.Compact, 0, 0))),
            (1, Gen.Constant(new Op(OpKind.Reopen, 0, 0))));
        return gen.ArrayOf().Resize(60).ToArbitrary();
    }

    private static byte[] Payload(ulong offset, ulong epoch, int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)((offset * 31) + (ulong)i + epoch);
        }

        return bytes;
    }

    // The same sequences with background flush and compaction running underneath (tiny memtable, eager L0).
    private static readonly PyramidOptions Background = new()
    {
        MemtableBytes = 64 << 10,
        BlockBytes = 512,
        TargetSegmentBytes = 64 << 10,
        L1TargetBytes = 64 << 10,
        L0CompactionTrigger = 2,
        CompactionBytesPerSecond = 0,
        BlockCacheBytes = 16 << 10,
    };

    [Property(MaxTest = 40)]
    public Property Store_matches_the_model_after_every_step() => Prop.ForAll(Operations(), ops =>
    {
        RunAsync(ops, Options).GetAwaiter().GetResult();
        return true;
    });

    [Property(MaxTest = 15)]
    public Property Store_matches_the_model_with_background_flush_and_compaction() => Prop.ForAll(Operations(), ops =>
    {
        RunAsync(ops, Background).GetAwaiter().GetResult();
        return true;
    });

    /// <summary>The same sequences on a device that loses power at every Reopen (the store is abandoned without a
    /// close, then everything not synced is dropped): acknowledged writes must all be there.</summary>
    [Property(MaxTest = 30)]
    public Property Store_matches_the_model_when_every_reopen_follows_a_power_loss() => Prop.ForAll(Operations(), ops =>
    {
        var device = new PowerLossDevice();
        RunAsync(ops, new PyramidOptions
        {
            BackgroundWork = false,
            MemtableBytes = 64 << 10,
            BlockBytes = 512,
            TargetSegmentBytes = 64 << 10,
            L1TargetBytes = 64 << 10,
            BlockCacheBytes = 16 << 10,
            Device = device,
        }, device).GetAwaiter().GetResult();
        return true;
    });

    private static async Task RunAsync(Op[] ops, PyramidOptions options, PowerLossDevice? powerLoss = null)
    {
        using var dir = new TempDirectory();
        var logs = Logs.Select(_ => new LogModel()).ToArray();
        var kv = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var store = PyramidStore.Open(dir.Path, options);
        try
        {
            for (var step = 0; step < ops.Length; step++)
            {
                var op = ops[step];
                var model = logs[op.L];
                var id = Logs[op.L];
                switch (op.Kind)
                {
                    case OpKind.Append:
                        var records = new List<AppendRecord>();
                        model.Append(op.A, op.B, Payload, (offset, epoch, bytes) => records.Add(new AppendRecord(epoch, offset, bytes)));
                        await store.AppendAsync(id, records.ToArray());
                        break;
                    case OpKind.AppendAcrossLogs:
                        // One batch: records to every log and a put, atomic together.
                        using (var batch = new WriteBatch())
                        {
                            for (var l = 0; l < Logs.Length; l++)
                            {
                                var target = Logs[l];
                                logs[l].Append(op.A + l, op.B, Payload, (offset, epoch, bytes) => batch.Append(target, epoch, offset, bytes));
                            }

                            batch.Put(Encoding.UTF8.GetBytes("k15"), Encoding.UTF8.GetBytes($"across{op.B}"));
                            kv["k15"] = $"across{op.B}";
                            await store.WriteAsync(batch);
                        }

                        break;
                    case OpKind.Put:
                        await store.PutAsync(Encoding.UTF8.GetBytes($"k{op.A:D2}"), Encoding.UTF8.GetBytes($"v{op.B}"));
                        kv[$"k{op.A:D2}"] = $"v{op.B}";
                        break;
                    case OpKind.Delete:
                        await store.DeleteAsync(Encoding.UTF8.GetBytes($"k{op.A:D2}"));
                        kv.Remove($"k{op.A:D2}");
                        break;
                    case OpKind.TruncateSuffix:
                        var suffix = model.First + ((model.Next - model.First) * (ulong)op.A / 100);
                        await store.TruncateSuffixAsync(id, suffix);
                        foreach (var key in model.Records.Keys.Where(k => k >= suffix).ToList())
                        {
                            model.Records.Remove(key);
                        }

                        model.Next = suffix;
                        model.Epoch++; // a new leader's term
                        break;
                    case OpKind.TruncatePrefix:
                        var prefix = model.First + ((model.Next - model.First + 10) * (ulong)op.A / 100);
                        await store.TruncatePrefixAsync(id, prefix);
                        if (prefix > model.First)
                        {
                            foreach (var key in model.Records.Keys.Where(k => k < prefix).ToList())
                            {
                                model.Records.Remove(key);
                            }

                            model.First = prefix;
                            model.Next = Math.Max(model.Next, prefix);
                        }

                        break;
                    case OpKind.Flush:
                        await store.FlushAsync();
                        break;
                    case OpKind.Compact:
                        await store.CompactAsync();
                        break;
                    case OpKind.Reopen when powerLoss is not null:
                        await PowerLossDevice.LosePowerAsync(store, powerLoss);
                        store = PyramidStore.Open(dir.Path, options);
                        break;
                    case OpKind.Reopen:
                        await store.DisposeAsync();
                        store = PyramidStore.Open(dir.Path, options);
                        break;
                }

                var context = $"after step {step} {op} of [{string.Join(", ", ops.Take(step + 1))}]";
                for (var l = 0; l < Logs.Length; l++)
                {
                    await CheckLogAsync(store, Logs[l], logs[l], context);
                }

                await CheckKvAsync(store, kv, context);
            }
        }
        finally
        {
            await store.DisposeAsync();
        }
    }

    private static async Task CheckLogAsync(PyramidStore store, ulong id, LogModel model, string context)
    {
        var (log, first, next) = (model.Records, model.First, model.Next);
        context = $"log {id} {context}";
        Assert.True(store.GetLogBounds(id).First == first, $"first {store.GetLogBounds(id).First} != {first} {context}");
        Assert.True(store.GetLogBounds(id).Next == next, $"next {store.GetLogBounds(id).Next} != {next} {context}");
        using (var cursor = store.ReadLog(id, 0))
        {
            var expected = first;
            while (cursor.MoveNext())
            {
                Assert.True(cursor.Offset == expected, $"scan offset {cursor.Offset} != {expected} {context}");
                var (epoch, payload) = log[expected];
                Assert.True(cursor.Epoch == epoch && cursor.Payload.SequenceEqual(payload), $"scan record {expected} differs {context}");
                expected++;
            }

            Assert.True(expected == next, $"scan ended at {expected}, log ends at {next} {context}");
        }

        foreach (var offset in new[] { first, first + ((next - first) / 2), next - 1, next, first - 1 })
        {
            var record = await store.ReadAsync(id, offset);
            if (log.TryGetValue(offset, out var entry))
            {
                Assert.True(record is not null && record.Epoch == entry.Epoch && record.Payload.AsSpan().SequenceEqual(entry.Payload), $"read {offset} differs {context}");
            }
            else
            {
                Assert.True(record is null, $"read {offset} returned a record outside the log {context}");
            }
        }
    }

    private static async Task CheckKvAsync(PyramidStore store, SortedDictionary<string, string> kv, string context)
    {
        var actual = new List<string>();
        using (var scan = store.ScanKvPrefix("k"u8))
        {
            while (scan.MoveNext())
            {
                actual.Add(Encoding.UTF8.GetString(scan.Key) + "=" + Encoding.UTF8.GetString(scan.Value));
            }
        }

        var model = kv.Select(p => p.Key + "=" + p.Value).ToList();
        Assert.True(model.SequenceEqual(actual), $"kv [{string.Join(",", actual)}] != [{string.Join(",", model)}] {context}");
        foreach (var key in new[] { "k00", "k07", "k15" })
        {
            var value = await store.GetAsync(Encoding.UTF8.GetBytes(key));
            var expected = kv.TryGetValue(key, out var v) ? v : null;
            Assert.True((value is null ? null : Encoding.UTF8.GetString(value)) == expected, $"get {key} differs {context}");
        }
    }
}
