using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/// <summary>Which failures of an append request are worth sending the batch again for.</summary>
internal static class ProduceErrors
{
    public static ProduceErrorKind Classify(Exception error) => error switch
    {
        NotLeaderException => ProduceErrorKind.NotLeader,
        ProducerSequenceException { TooOld: true } => ProduceErrorKind.TooOld,
        ProducerSequenceException { UnknownProducer: true } => ProduceErrorKind.UnknownProducer,
        ProducerSequenceException => ProduceErrorKind.OutOfSequence,
        ArgumentException => ProduceErrorKind.Rejected,

        // Orleans' own failures are transport failures (silo unavailable, connection lost, gateway busy, rejected message).
        TimeoutException or OrleansException => ProduceErrorKind.Transient,
        InvalidOperationException => ProduceErrorKind.CheckLog,
        _ => ProduceErrorKind.Fatal,
    };
}
