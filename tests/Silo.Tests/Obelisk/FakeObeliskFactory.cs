using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Silo.Tests.Obelisk;

/// <summary>A grain factory that knows only obelisks: one <see cref="FakeObelisk"/> per id, made on first use.</summary>
internal sealed class FakeObeliskFactory : IGrainFactory
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

    public TGrainInterface GetGrain<TGrainInterface>(long primaryKey, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithIntegerKey =>
        typeof(TGrainInterface) == typeof(IObeliskGrain) ? (TGrainInterface)(object)this[primaryKey] : throw new NotSupportedException();

    public TGrainInterface GetGrain<TGrainInterface>(Guid primaryKey, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithGuidKey => throw new NotSupportedException();

    public TGrainInterface GetGrain<TGrainInterface>(string primaryKey, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithStringKey => throw new NotSupportedException();

    public TGrainInterface GetGrain<TGrainInterface>(Guid primaryKey, string keyExtension, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithGuidCompoundKey => throw new NotSupportedException();

    public TGrainInterface GetGrain<TGrainInterface>(long primaryKey, string keyExtension, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithIntegerCompoundKey => throw new NotSupportedException();

    public TGrainObserverInterface CreateObjectReference<TGrainObserverInterface>(IGrainObserver obj)
        where TGrainObserverInterface : IGrainObserver => throw new NotSupportedException();

    public void DeleteObjectReference<TGrainObserverInterface>(IGrainObserver obj)
        where TGrainObserverInterface : IGrainObserver => throw new NotSupportedException();

    public IGrain GetGrain(Type grainInterfaceType, Guid grainPrimaryKey) => throw new NotSupportedException();

    public IGrain GetGrain(Type grainInterfaceType, long grainPrimaryKey) => throw new NotSupportedException();

    public IGrain GetGrain(Type grainInterfaceType, string grainPrimaryKey) => throw new NotSupportedException();

    public IGrain GetGrain(Type grainInterfaceType, Guid grainPrimaryKey, string keyExtension) => throw new NotSupportedException();

    public IGrain GetGrain(Type grainInterfaceType, long grainPrimaryKey, string keyExtension) => throw new NotSupportedException();

    public TGrainInterface GetGrain<TGrainInterface>(GrainId grainId)
        where TGrainInterface : IAddressable => throw new NotSupportedException();

    public IAddressable GetGrain(GrainId grainId) => throw new NotSupportedException();

    public IAddressable GetGrain(GrainId grainId, GrainInterfaceType interfaceType) => throw new NotSupportedException();

    public IAddressable GetGrain(Type grainInterfaceType, IdSpan grainPrimaryKey, string? grainClassNamePrefix) => throw new NotSupportedException();

    public IAddressable GetGrain(Type grainInterfaceType, IdSpan grainPrimaryKey) => throw new NotSupportedException();
}
