using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/// <summary>
/// A record waiting in line for its log's metadata (see LogProducer.Unresolved): the partition asked for (-1: chosen
/// once the log is known), its task, its token, and the timestamp after which it fails if the metadata is still unread.
/// </summary>
internal readonly record struct UnresolvedRecord(int Partition, ProducerRecord Record, TaskCompletionSource<RecordAck> Ack, CancellationToken Ct, long Deadline);
