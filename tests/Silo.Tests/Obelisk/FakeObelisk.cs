using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Silo.Tests.Obelisk;

/// <summary>
/// An obelisk grain stand-in: issues consecutive blocks of its own sequence, either at once or, while held, only when
/// released (a frozen silo), or fails every call. Records every call.
/// </summary>
internal sealed class FakeObelisk(int id) : IObeliskGrain
{
    private readonly List<(TaskCompletionSource<ScarabIdBlock> Answer, int Count)> _held = [];
    private const ulong FirstTick = 1_000_000UL << ScarabId.SequenceBits;
    private ulong _tick = FirstTick;

    public int Id { get; } = id;

    /// <summary>While true, calls get no answer until <see cref="Release"/>.</summary>
    public bool Held { get; set; }

    /// <summary>While true, calls fail at once.</summary>
    public bool Failing { get; set; }

    public int Calls { get; private set; }

    /// <summary>The first ID this obelisk issues.</summary>
    public ScarabId FirstIssued => new(ScarabId.Compose(FirstTick >> ScarabId.SequenceBits, Id, 0));

    public Task<ScarabId> NextAsync() => throw new NotSupportedException();

    public Task<ScarabIdBlock> NextBlockAsync(int count)
    {
        lock (_held)
        {
            Calls++;
            if (Failing)
            {
                return Task.FromException<ScarabIdBlock>(new InvalidOperationException($"obelisk {Id} is broken"));
            }

            if (!Held)
            {
                return Task.FromResult(Issue(count));
            }

            var answer = new TaskCompletionSource<ScarabIdBlock>(TaskCreationOptions.RunContinuationsAsynchronously);
            _held.Add((answer, count));
            return answer.Task;
        }
    }

    /// <summary>Answers every held call, in the order they came, and stops holding.</summary>
    public void Release()
    {
        List<(TaskCompletionSource<ScarabIdBlock> Answer, ScarabIdBlock Block)> answers = [];
        lock (_held)
        {
            Held = false;
            foreach (var (answer, count) in _held)
            {
                answers.Add((answer, Issue(count)));
            }

            _held.Clear();
        }

        foreach (var (answer, block) in answers)
        {
            answer.SetResult(block);
        }
    }

    public Task<ObeliskStatus> GetStatusAsync() => throw new NotSupportedException();

    private ScarabIdBlock Issue(int count)
    {
        var first = new ScarabId(ScarabId.Compose(_tick >> ScarabId.SequenceBits, Id, (int)(_tick & ScarabId.MaxSequence)));
        _tick += (ulong)count;
        return new ScarabIdBlock(first, count);
    }
}
