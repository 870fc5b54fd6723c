using Pyralog.Storage.Native.Native;

namespace Pyralog.Storage.Native.Memtables;

/// <summary>
/// The memtables' 1 MiB arena chunks, reused once a flushed memtable's last reader let go. Without it a busy
/// store allocates its whole write rate on the large-object heap, and the gen-2 collections that follow show
/// up as the append path's tail latency. Holds at most the chunks of the memtables the options allow.
/// <para>
/// Until flushed memtables hand chunks back (a new store's first memtables), every chunk is new memory, and each of
/// its pages faults in at its first write: in the apply of a commit group, which runs beside the group's fdatasync and
/// holds the group's publish when it ends later. On this machine's VM a 1,000 × 100 B group's apply took 125–165 µs
/// at p50 (mean 276) in new chunks against 22–33 µs (mean 54–89) in touched ones, and ended after the sync in one group
/// of ten. A warming pool therefore keeps chunks touched ahead of the writer: as many as it has handed out so far, up
/// to <c>warmAhead</c> (a store that writes little warms little), never past its bound. It warms on a thread of its own
/// at <see cref="BackgroundPriority.Idle"/>, on CPU time nothing else wants: a pool thread busy faulting a chunk in for
/// a millisecond or more held up the writers' continuations queued behind it (their wake-up went from 51–61 µs to 113
/// on average), and a chunk not warmed in time is only faulted in by the writer, as without warming. It has the kernel
/// back a new chunk's pages in one call before writing to them (<see cref="LibC.PopulateForWrite"/>): on that VM a
/// page faulted in by a write costs 10–14 µs, so warming took as much CPU as the commit thread in the 1 KiB append
/// benchmark, about a third less with the call.
/// </para>
/// </summary>
internal sealed class ArenaPool(int maxChunks, int warmAhead = 0)
{
    public const int ChunkBytes = 1 << 20;

    // Invariant: _free, _inUse, _rented, _warmer and _stopped are read and written under _free's lock (the warmer
    // waits on it too). _inUse counts the chunks handed out and not yet returned plus the one being warmed; warming
    // never takes _inUse + _free.Count past maxChunks (Rent does, when the writer needs more: Return drops the surplus).
    private readonly Stack<byte[]> _free = new();
    private int _inUse;
    private long _rented;
    private bool _stopped;
    private TaskCompletionSource? _warmer; // completes when the warming thread ends; null until a Rent starts it

    /// <summary>Chunks waiting to be reused.</summary>
    public int FreeChunks
    {
        get
        {
            lock (_free)
            {
                return _free.Count;
            }
        }
    }

    /// <summary>A chunk of <see cref="ChunkBytes"/>, reused or new (uninitialized: the memtable writes every byte a reader can reach).</summary>
    public byte[] Rent()
    {
        byte[]? chunk;
        lock (_free)
        {
            _inUse++;
            _rented++;
            _free.TryPop(out chunk);
            if (WantsWarmChunkLocked())
            {
                if (_warmer is null)
                {
                    StartWarmerLocked();
                }
                else
                {
                    Monitor.Pulse(_free);
                }
            }
        }

        return chunk ?? GC.AllocateUninitializedArray<byte>(ChunkBytes);
    }

    /// <summary>Takes back chunks no reader can reach any more.</summary>
    public void Return(List<byte[]> chunks)
    {
        lock (_free)
        {
            _inUse -= chunks.Count;
            foreach (var chunk in chunks)
            {
                if (_free.Count >= maxChunks)
                {
                    return;
                }

                _free.Push(chunk);
            }
        }
    }

    /// <summary>Stops warming and waits for the warming thread to end (the store's close).</summary>
    public Task StopWarmingAsync()
    {
        lock (_free)
        {
            _stopped = true;
            Monitor.Pulse(_free);
            return _warmer?.Task ?? Task.CompletedTask;
        }
    }

    private bool WantsWarmChunkLocked() =>
        !_stopped && _free.Count < Math.Min(warmAhead, _rented) && _inUse + _free.Count < maxChunks;

    private void StartWarmerLocked()
    {
        var warmer = _warmer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try
            {
                OsThreadPriority.Lower(BackgroundPriority.Idle);
                Warm();
            }
            catch (IOException)
            {
                // Not allowed to run at idle priority: no warming, the writer faults its chunks in as it fills them.
            }
            finally
            {
                warmer.TrySetResult();
            }
        })
        { IsBackground = true, Name = "pyralog-arena-warm" }.Start();
    }

    /// <summary>Makes chunks and writes a byte to each of their pages, so the writer's first writes to them do not
    /// fault; sleeps while enough are ready, and ends when the pool stops.</summary>
    private void Warm()
    {
        var page = Environment.SystemPageSize;
        while (true)
        {
            lock (_free)
            {
                while (!WantsWarmChunkLocked())
                {
                    if (_stopped)
                    {
                        return;
                    }

                    Monitor.Wait(_free);
                }

                _inUse++; // counted while it is made: the bound holds for a chunk on its way too
            }

            byte[] chunk;
            try
            {
                chunk = GC.AllocateUninitializedArray<byte>(ChunkBytes);
                _ = LibC.PopulateForWrite(chunk); // then the writes below are cheaper faults, where the kernel can
                for (var at = 0; at < chunk.Length; at += page)
                {
                    chunk[at] = 0;
                }
            }
            catch (OutOfMemoryException)
            {
                lock (_free)
                {
                    _inUse--;
                }

                return; // the writer allocates its own chunks, and meets the shortage there
            }

            lock (_free)
            {
                _inUse--;
                _free.Push(chunk);
            }
        }
    }
}
