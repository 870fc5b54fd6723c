using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Testing;

namespace Pyralog.Silo.Tests.Obelisk;

/// <summary>A grain factory that knows only obelisks: one <see cref="FakeObelisk"/> per id, made on first use.</summary>
internal sealed class FakeObeliskFactory : ScriptedGrainFactory
{
    private readonly Dictionary<long, FakeObelisk> _obelisks = [];

    /// <summary>Obelisks made from now on start held (frozen).</summary>
    public bool HoldNew { get; set; }

    public FakeObelisk this[long id]
    {
        get
        {
            lock (_obelisks)
            {
                if (!_obelisks.TryGetValue(id, out var obelisk))
                {
                    obelisk = new FakeObelisk((int)id) { Held = HoldNew };
                    _obelisks.Add(id, obelisk);
                }

                return obelisk;
            }
        }
    }

    /// <summary>The ids asked so far, in ascending order.</summary>
    public IReadOnlyList<long> Asked
    {
        get
        {
            lock (_obelisks)
            {
                return [.. _obelisks.Where(o => o.Value.Calls > 0).Select(o => o.Key).Order()];
            }
        }
    }

    public override TGrainInterface GetGrain<TGrainInterface>(long primaryKey, string? grainClassNamePrefix = null) =>
        typeof(TGrainInterface) == typeof(IObeliskGrain) ? (TGrainInterface)(object)this[primaryKey] : base.GetGrain<TGrainInterface>(primaryKey, grainClassNamePrefix);
}
