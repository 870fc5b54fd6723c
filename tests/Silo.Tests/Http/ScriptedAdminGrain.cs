using System.Reflection;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Silo.Tests.Http;

/// <summary>An admin grain whose <c>ListLogsAsync</c> a test scripts (each call takes the next answer); any other call throws.</summary>
public class ScriptedAdminGrain : DispatchProxy
{
    private Queue<Func<Task<LogInfo[]>>> _answers = new();

    public int Calls { get; private set; }

    public static (IPyralogAdminGrain Grain, ScriptedAdminGrain Script) Create(params Func<Task<LogInfo[]>>[] answers)
    {
        var grain = Create<IPyralogAdminGrain, ScriptedAdminGrain>();
        var script = (ScriptedAdminGrain)(object)grain;
        script._answers = new Queue<Func<Task<LogInfo[]>>>(answers);
        return (grain, script);
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (targetMethod?.Name != nameof(IPyralogAdminGrain.ListLogsAsync))
        {
            throw new NotSupportedException(targetMethod?.Name);
        }

        Calls++;
        return _answers.Dequeue()();
    }
}
