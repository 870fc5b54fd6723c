using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/// <summary>A record waiting for buffer space (<see cref="ProducerOptions.MaxBufferedBytes"/>) before it joins its partition's batch.</summary>
internal sealed class Admission(PartitionProducer target, ProducerRecord record, TaskCompletionSource<RecordAck> ack, int bytes)
{
    public PartitionProducer Target => target;

    public ProducerRecord Record => record;

    /// <summary>The record's task; cancelled while waiting, it is skipped.</summary>
    public TaskCompletionSource<RecordAck> Ack => ack;

    public int Bytes => bytes;

    public CancellationTokenRegistration Registration { get; set; }
}
