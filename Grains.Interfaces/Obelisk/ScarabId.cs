using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Pyralog.Grains.Interfaces.Obelisk;

/// <summary>
/// A Scarab ID: a 64-bit, time-ordered, globally unique identifier handed out by the Pharaoh network.
/// Layout (most significant first): <c>[41 bits ms since <see cref="Epoch"/>][10 bits obelisk id][13 bits sequence]</c>.
/// The layout uses all 64 bits, so the value is a <see cref="ulong"/>: a signed long would turn negative
/// 2^40 ms (about 35 years) after the epoch. 41 bits of milliseconds last until <see cref="MaxTimestamp"/> (year 2095).
/// Ordering is the numeric order of the value: by time, then obelisk, then sequence.
/// </summary>
[GenerateSerializer]
[Immutable]
[Alias("pyralog.ScarabId")]
public readonly struct ScarabId : IEquatable<ScarabId>, IComparable<ScarabId>, ISpanFormattable, ISpanParsable<ScarabId>
{
    public const int TimestampBits = 41;
    public const int ObeliskBits = 10;
    public const int SequenceBits = 13;

    public const int ObeliskShift = SequenceBits;
    public const int TimestampShift = SequenceBits + ObeliskBits;

    public const ulong MaxMilliseconds = (1UL << TimestampBits) - 1;
    public const int MaxObeliskId = (1 << ObeliskBits) - 1;
    public const int MaxSequence = (1 << SequenceBits) - 1;

    /// <summary>Sequence numbers per millisecond per obelisk: the format's ceiling is this × 1,000 IDs/s per obelisk.</summary>
    public const int SequencesPerMillisecond = 1 << SequenceBits;

    /// <summary>
    /// The Pyralog epoch, 2025-01-01T00:00:00Z. Recent enough that 41 bits of milliseconds last about 69 years
    /// (to <see cref="MaxTimestamp"/>), late enough that every ID a running system issues is far from zero.
    /// </summary>
    public static readonly DateTimeOffset Epoch = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The Pyralog epoch in Unix milliseconds.</summary>
    public const long EpochUnixMilliseconds = 1_735_689_600_000;

    public static DateTimeOffset MaxTimestamp => Epoch.AddMilliseconds(MaxMilliseconds);

    [Id(0)]
    private readonly ulong _value;

    public ScarabId(ulong value) => _value = value;

    public ulong Value => _value;

    /// <summary>Milliseconds since <see cref="Epoch"/>.</summary>
    public ulong Milliseconds => _value >> TimestampShift;

    public int ObeliskId => (int)((_value >> ObeliskShift) & MaxObeliskId);

    public int Sequence => (int)(_value & MaxSequence);

    public DateTimeOffset Timestamp => Epoch.AddMilliseconds(Milliseconds);

    /// <summary>Builds an ID from its parts; every part is range-checked and an out-of-range part is named in the error.</summary>
    public static ScarabId Create(ulong milliseconds, int obeliskId, int sequence)
    {
        if (milliseconds > MaxMilliseconds)
        {
            throw new ArgumentOutOfRangeException(nameof(milliseconds), milliseconds,
                $"A Scarab ID timestamp must be at most {MaxMilliseconds} ms after the Pyralog epoch ({Epoch:O}).");
        }

        ValidateObeliskId(obeliskId);
        if ((uint)sequence > MaxSequence)
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, $"A Scarab ID sequence must be in 0..{MaxSequence}.");
        }

        return new ScarabId(Compose(milliseconds, obeliskId, sequence));
    }

    /// <summary>Composes an ID without range checks, for hot paths whose inputs are already bounded.</summary>
    public static ulong Compose(ulong milliseconds, int obeliskId, int sequence) =>
        (milliseconds << TimestampShift) | ((ulong)obeliskId << ObeliskShift) | (uint)sequence;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the value unless it is an obelisk id 0..1023.</summary>
    public static void ValidateObeliskId(long obeliskId)
    {
        if ((ulong)obeliskId > MaxObeliskId)
        {
            throw new ArgumentOutOfRangeException(nameof(obeliskId), obeliskId, $"An obelisk id must be in 0..{MaxObeliskId}.");
        }
    }

    /// <summary>
    /// The ID that follows this one in its obelisk's sequence: the next sequence number, or sequence 0 of
    /// the next millisecond once this millisecond's 8,192 numbers are used.
    /// </summary>
    public ScarabId NextInObelisk() =>
        Sequence < MaxSequence
            ? new ScarabId(_value + 1)
            : new ScarabId(Compose(Milliseconds + 1, ObeliskId, 0));

    public bool Equals(ScarabId other) => _value == other._value;

    public override bool Equals(object? obj) => obj is ScarabId other && Equals(other);

    public override int GetHashCode() => _value.GetHashCode();

    public int CompareTo(ScarabId other) => _value.CompareTo(other._value);

    public static bool operator ==(ScarabId left, ScarabId right) => left._value == right._value;

    public static bool operator !=(ScarabId left, ScarabId right) => left._value != right._value;

    public static bool operator <(ScarabId left, ScarabId right) => left._value < right._value;

    public static bool operator >(ScarabId left, ScarabId right) => left._value > right._value;

    public static bool operator <=(ScarabId left, ScarabId right) => left._value <= right._value;

    public static bool operator >=(ScarabId left, ScarabId right) => left._value >= right._value;

    /// <summary>The decimal value, the form <see cref="Parse(string)"/> reads.</summary>
    public override string ToString() => _value.ToString(CultureInfo.InvariantCulture);

    public string ToString(string? format, IFormatProvider? formatProvider) => _value.ToString(format, formatProvider ?? CultureInfo.InvariantCulture);

    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        _value.TryFormat(destination, out charsWritten, format, provider ?? CultureInfo.InvariantCulture);

    /// <summary>A form for people: <c>2026-11-25T14:15:10.123Z obelisk=7 seq=42</c>.</summary>
    public string ToReadableString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Timestamp:yyyy-MM-ddTHH:mm:ss.fffZ} obelisk={ObeliskId} seq={Sequence}");

    public static ScarabId Parse(string s) => Parse(s.AsSpan(), CultureInfo.InvariantCulture);

    public static ScarabId Parse(string s, IFormatProvider? provider) => Parse(s.AsSpan(), provider);

    public static ScarabId Parse(ReadOnlySpan<char> s, IFormatProvider? provider) =>
        TryParse(s, provider, out var id)
            ? id
            : throw new FormatException($"'{s}' is not a Scarab ID: expected an unsigned 64-bit decimal number.");

    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out ScarabId result) =>
        TryParse(s.AsSpan(), provider, out result);

    public static bool TryParse(ReadOnlySpan<char> s, IFormatProvider? provider, out ScarabId result)
    {
        if (ulong.TryParse(s, NumberStyles.None, provider ?? CultureInfo.InvariantCulture, out var value))
        {
            result = new ScarabId(value);
            return true;
        }

        result = default;
        return false;
    }
}
