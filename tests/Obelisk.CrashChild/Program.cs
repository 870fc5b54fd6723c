using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Grains.Obelisk;
using Pyralog.Storage.Native.Obelisk;

// A process for crash tests: issues Scarab IDs as fast as it can from one obelisk counter file, running far
// ahead of the clock, and reports on stdout the first ID and then the last ID of every block it has issued.
// The test kills it with SIGKILL at a random moment and starts it again on the same file.
// args: COUNTER_FILE OBELISK_ID RESERVE_MS
var path = args[0];
var obeliskId = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
var reserveMs = ulong.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);

using var sequencer = ObeliskSequencer.Open(path, ObeliskNode.SequencerUnitShift, reserveMs << ObeliskNode.SequencerUnitShift);
var node = new ObeliskNode(obeliskId, sequencer, TimeProvider.System, maxClockLead: TimeSpan.FromHours(1));
var output = Console.Out;
output.WriteLine($"first {node.Next().Value}");
output.Flush();
while (true)
{
    var block = node.NextBlock(ScarabIdBlock.MaxCount); // 8 ms of ticks at a time: far ahead of the clock within a second
    output.WriteLine($"issued {block.Last.Value}");
    output.Flush();
}
