namespace Pyralog.Client;

/// <summary>The cluster could not be reached; the message says where the client looked.</summary>
public sealed class PyralogConnectionException(string message, Exception? inner = null) : Exception(message, inner);
