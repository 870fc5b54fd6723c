using Pyralog.Storage.Native;
using Pyralog.Storage.Native.CrashChild;

// usage: CrashChild DIRECTORY SEED [fill]
// Appends batches (the same records to each of CrashWorkload.Logs, and a KV put of the new log end) as fast as it can and prints "ack N"
// after each acknowledged batch, until the parent kills it. With "fill" it runs with a large memtable
// until a write fails (the parent limits the file size), prints "error MESSAGE" and exits with 3.
if (args.Length is < 2 or > 3)
{
    Console.Error.WriteLine("usage: CrashChild DIRECTORY SEED [fill]");
    return 2;
}

var fill = args.Length == 3 && args[2] == "fill";
var random = new Random(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
await using var store = PyramidStore.Open(args[0], fill ? CrashWorkload.FillOptions : CrashWorkload.Options);
var output = Console.Out;
using var batch = new WriteBatch(1 << 20);
while (true)
{
    var next = store.GetLogBounds(CrashWorkload.Logs[0]).Next;
    var count = random.Next(1, 64);
    batch.Clear();
    foreach (var log in CrashWorkload.Logs)
    {
        for (var i = 0; i < count; i++)
        {
            batch.Append(log, 1, next + (ulong)i, CrashWorkload.Payload(next + (ulong)i));
        }
    }

    batch.Put(CrashWorkload.AckedKey, BitConverter.GetBytes(next + (ulong)count));
    try
    {
        await store.WriteAsync(batch);
    }
    catch (IOException e) when (fill)
    {
        await output.WriteLineAsync($"error {e.Message.ReplaceLineEndings(" ")}");
        await output.FlushAsync();
        return 3;
    }

    await output.WriteLineAsync($"ack {next + (ulong)count}");
    await output.FlushAsync();
}
