using Pyralog.Storage.Native;
using Pyralog.Storage.Native.CrashChild;

// usage: CrashChild DIRECTORY SEED
// Appends batches (each with a KV put of the new log end) as fast as it can and prints "ack N"
// after each acknowledged batch, until the parent kills it.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: CrashChild DIRECTORY SEED");
    return 2;
}

var random = new Random(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
await using var store = PyramidStore.Open(args[0], CrashWorkload.Options);
var output = Console.Out;
using var batch = new WriteBatch(1 << 20);
while (true)
{
    var next = store.NextOffset;
    var count = random.Next(1, 64);
    batch.Clear();
    for (var i = 0; i < count; i++)
    {
        batch.Append(1, next + (ulong)i, CrashWorkload.Payload(next + (ulong)i));
    }

    batch.Put(CrashWorkload.AckedKey, BitConverter.GetBytes(next + (ulong)count));
    await store.WriteAsync(batch);
    await output.WriteLineAsync($"ack {next + (ulong)count}");
    await output.FlushAsync();
}
