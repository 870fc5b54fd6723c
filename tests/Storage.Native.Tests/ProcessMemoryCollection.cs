namespace Pyralog.Storage.Native.Tests;

/// <summary>
/// Tests that measure the whole process's live heap run alone: beside the assembly's other tests (their stores' memtables
/// alive at the moment of the sample) the bounded-memory test read 165–183 MiB where it reads 85 MiB alone.
/// </summary>
[CollectionDefinition(nameof(ProcessMemoryCollection), DisableParallelization = true)]
public sealed class ProcessMemoryCollection;
