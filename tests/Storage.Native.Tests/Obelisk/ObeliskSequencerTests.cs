using System.Collections.Concurrent;
using Pyralog.Storage.Native.Obelisk;

namespace Pyralog.Storage.Native.Tests.Obelisk;

public sealed class ObeliskSequencerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("pyralog-seq-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    [Fact]
    public void The_file_size_is_the_durable_high_water()
    {
        var path = PathOf("a.obelisk");
        using (var sequencer = ObeliskSequencer.Create(path, unitShift: 0, blockSize: 100))
        {
            Assert.Equal(0UL, sequencer.Next());
            Assert.Equal(1UL, sequencer.Next());
            Assert.Equal(101UL, sequencer.DurableHighWater);
            Assert.Equal(ObeliskSequencer.HeaderSize + 101, new FileInfo(path).Length);
            Assert.Equal(1, sequencer.Extensions);
        }

        using var recovered = ObeliskSequencer.Recover(path, unitShift: 0, blockSize: 100);
        Assert.Equal(101UL, recovered.Recovered);
        Assert.Equal(101UL, recovered.Next());
    }

    [Fact]
    public void One_extend_serves_a_whole_block()
    {
        using var sequencer = ObeliskSequencer.Create(PathOf("b.obelisk"), unitShift: 0, blockSize: 1000);
        // The first value reserves itself plus a block of 1,000 beyond it.
        for (var i = 0UL; i <= 1000; i++)
        {
            Assert.Equal(i, sequencer.Next());
        }

        Assert.Equal(1, sequencer.Extensions);
        Assert.Equal(1001UL, sequencer.Next());
        Assert.Equal(2, sequencer.Extensions);
    }

    [Fact]
    public void A_unit_shift_counts_bytes_in_units_and_rounds_the_high_water_up()
    {
        var path = PathOf("c.obelisk");
        using (var sequencer = ObeliskSequencer.Create(path, unitShift: 13, blockSize: 1))
        {
            Assert.Equal(5UL << 13, sequencer.NextAtLeast(5UL << 13, 10));
            // end = 5*8192+10, + block 1 → rounded up to 6 units.
            Assert.Equal(ObeliskSequencer.HeaderSize + 6, new FileInfo(path).Length);
            Assert.Equal(6UL << 13, sequencer.DurableHighWater);
        }

        using var recovered = ObeliskSequencer.Recover(path, unitShift: 13, blockSize: 1);
        Assert.Equal(6UL << 13, recovered.Recovered);
    }

    [Fact]
    public void Next_at_least_jumps_forward_but_never_back()
    {
        using var sequencer = ObeliskSequencer.Create(PathOf("d.obelisk"), blockSize: 10);
        Assert.Equal(50UL, sequencer.NextAtLeast(50, 5));
        Assert.Equal(55UL, sequencer.NextAtLeast(10, 1));
        Assert.Equal(56UL, sequencer.NextBlock(3));
        Assert.Equal(59UL, sequencer.Peek);
    }

    [Fact]
    public void A_reservation_reaching_past_the_limit_is_refused_and_moves_nothing()
    {
        var path = PathOf("limit.obelisk");
        using var sequencer = ObeliskSequencer.Create(path, blockSize: 100);
        Assert.True(sequencer.TryNextAtLeast(0, 10, limit: 50, out var first));
        Assert.Equal(0UL, first);
        Assert.Equal(50UL, sequencer.DurableHighWater); // the block ahead stops at the limit

        Assert.False(sequencer.TryNextAtLeast(45, 6, limit: 50, out _));
        Assert.False(sequencer.TryNextAtLeast(1000, 1, limit: 50, out _));
        Assert.Equal(10UL, sequencer.Peek);
        Assert.Equal(50UL, sequencer.DurableHighWater);
        Assert.Equal(ObeliskSequencer.HeaderSize + 50, new FileInfo(path).Length);

        Assert.True(sequencer.TryNextAtLeast(45, 5, limit: 50, out first)); // the last values below the limit
        Assert.Equal(45UL, first);
        Assert.False(sequencer.TryNextAtLeast(0, 1, limit: 50, out _));
        Assert.Equal(50UL, sequencer.Peek);
        Assert.Equal(1, sequencer.Extensions);
    }

    [Fact]
    public void Many_threads_never_get_the_same_value()
    {
        using var sequencer = ObeliskSequencer.Create(PathOf("e.obelisk"), blockSize: 512);
        const int threads = 8;
        const int perThread = 20_000;
        var seen = new ConcurrentBag<ulong[]>();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ =>
        {
            var mine = new ulong[perThread];
            for (var i = 0; i < perThread; i++)
            {
                mine[i] = (i % 7 == 0) ? sequencer.NextBlock(3) : sequencer.Next();
                if (i > 0)
                {
                    Assert.True(mine[i] > mine[i - 1], "values of one thread must increase");
                }
            }

            seen.Add(mine);
        });

        var all = seen.SelectMany(a => a).ToArray();
        Assert.Equal(threads * perThread, all.Length);
        Assert.Equal(all.Length, all.Distinct().Count());
        Assert.True(sequencer.DurableHighWater > all.Max() + 2);
    }

    [Fact]
    public void Create_refuses_an_existing_file_and_Recover_a_missing_one()
    {
        var path = PathOf("f.obelisk");
        ObeliskSequencer.Create(path).Dispose();
        Assert.Throws<IOException>(() => ObeliskSequencer.Create(path));
        Assert.Throws<FileNotFoundException>(() => ObeliskSequencer.Recover(PathOf("missing.obelisk")));
    }

    [Fact]
    public void A_create_interrupted_before_its_rename_leaves_nothing_that_blocks_the_next()
    {
        var path = PathOf("n.obelisk");
        File.WriteAllBytes(path + ".new", new byte[5]); // what a crash right after creating the temporary file leaves
        using var sequencer = ObeliskSequencer.Open(path);
        Assert.Equal(0UL, sequencer.Next());
        Assert.False(File.Exists(path + ".new"));
    }

    [Fact]
    public void A_truncated_header_is_reported_with_the_file_name()
    {
        var path = PathOf("g.obelisk");
        ObeliskSequencer.Create(path).Dispose();
        using (var f = File.OpenWrite(path))
        {
            f.SetLength(10);
        }

        var e = Assert.Throws<InvalidDataException>(() => ObeliskSequencer.Recover(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("shorter than its 32-byte header", e.Message);
    }

    [Theory]
    [InlineData(0, "bad magic")]
    [InlineData(9, "checksum")]
    [InlineData(13, "checksum")]
    [InlineData(28, "checksum")]
    public void A_damaged_header_byte_is_reported_with_the_file_name(int offset, string expected)
    {
        var path = PathOf($"h{offset}.obelisk");
        using (var s = ObeliskSequencer.Create(path, blockSize: 64))
        {
            s.Next();
        }

        var bytes = File.ReadAllBytes(path);
        bytes[offset] ^= 0x5A;
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<InvalidDataException>(() => ObeliskSequencer.Recover(path, blockSize: 64));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_file_that_is_not_a_counter_is_refused()
    {
        var path = PathOf("i.obelisk");
        File.WriteAllText(path, "this is some other file, long enough to hold a header");
        var e = Assert.Throws<InvalidDataException>(() => ObeliskSequencer.Open(path));
        Assert.Contains("bad magic", e.Message);
    }

    [Fact]
    public void Opening_with_another_unit_shift_is_refused()
    {
        var path = PathOf("j.obelisk");
        ObeliskSequencer.Create(path, unitShift: 13).Dispose();
        var e = Assert.Throws<InvalidDataException>(() => ObeliskSequencer.Recover(path, unitShift: 0));
        Assert.Contains("2^13", e.Message);
    }

    [Fact]
    public void An_unwritable_location_gives_an_error_naming_the_file()
    {
        var blocker = PathOf("not-a-directory");
        File.WriteAllText(blocker, "x");
        var path = Path.Combine(blocker, "k.obelisk");
        var e = Assert.ThrowsAny<IOException>(() => ObeliskSequencer.Create(path));
        Assert.Contains("not-a-directory", e.Message);
    }

    [Theory]
    [InlineData(-1, 1UL)]
    [InlineData(33, 1UL)]
    [InlineData(0, 0UL)]
    public void Bad_options_are_refused_by_name(int unitShift, ulong blockSize)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ObeliskSequencer.Create(PathOf("l.obelisk"), unitShift, blockSize));
        Assert.Equal(unitShift is < 0 or > 32 ? "unitShift" : "blockSize", e.ParamName);
        Assert.False(File.Exists(PathOf("l.obelisk")));
    }

    [Fact]
    public void Reserving_zero_values_is_refused()
    {
        using var sequencer = ObeliskSequencer.Create(PathOf("m.obelisk"));
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => sequencer.NextBlock(0)).ParamName);
    }
}
