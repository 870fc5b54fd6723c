using System.Collections.Concurrent;
using System.Reflection;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Silo.Tests.Http;

/// <summary>
/// An admin grain a test scripts: each <c>ListLogsAsync</c> call takes the next answer, and <c>DescribeLogAsync</c>
/// answers per log name as <see cref="Describe"/> scripted it (an answer, an exception, or a task that never completes);
/// any other call throws.
/// </summary>
public class ScriptedAdminGrain : DispatchProxy
{
    private readonly ConcurrentDictionary<string, Func<Task<LogDescription>>> _descriptions = new(StringComparer.Ordinal);
    private Queue<Func<Task<LogInfo[]>>> _answers = new();
    private int _calls;

    /// <summary>The <c>ListLogsAsync</c> calls so far.</summary>
    public int Calls => Volatile.Read(ref _calls);

    public static (IPyralogAdminGrain Grain, ScriptedAdminGrain Script) Create(params Func<Task<LogInfo[]>>[] answers)
    {
        var grain = Create<IPyralogAdminGrain, ScriptedAdminGrain>();
        var script = (ScriptedAdminGrain)(object)grain;
        script._answers = new Queue<Func<Task<LogInfo[]>>>(answers);
        return (grain, script);
    }

    /// <summary>Scripts every <c>DescribeLogAsync(<paramref name="log"/>)</c> call's answer.</summary>
    public ScriptedAdminGrain Describe(string log, Func<Task<LogDescription>> answer)
    {
        _descriptions[log] = answer;
        return this;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        switch (targetMethod?.Name)
        {
            case nameof(IPyralogAdminGrain.ListLogsAsync):
                Interlocked.Increment(ref _calls);
                lock (_answers)
                {
                    return _answers.Dequeue()();
                }

            case nameof(IPyralogAdminGrain.DescribeLogAsync) when args is [string log] && _descriptions.TryGetValue(log, out var answer):
                return answer();
            default:
                throw new NotSupportedException(targetMethod?.Name);
        }
    }
}
