using System.Globalization;
using Pyralog.Client.Logs;
using Pyralog.Client.Obelisk;
using Pyralog.Grains.Interfaces;

namespace Pyralog.Client.Tests;

/// <summary>Each range on the client's options refuses the value one step outside it and accepts its bound (TimeSpans step by one tick).</summary>
public sealed class ClientOptionsRangeTests
{
    [Theory]
    [InlineData(typeof(PyralogClientOptions), "ConnectTimeout", "00:00:00.0000001", "00:00:00")]
    [InlineData(typeof(ScarabIdGeneratorOptions), "BlockSize", "1", "0")]
    [InlineData(typeof(ScarabIdGeneratorOptions), "BlockSize", "65536", "65537")]
    [InlineData(typeof(ScarabIdGeneratorOptions), "PrefetchBlocks", "1", "0")]
    [InlineData(typeof(ScarabIdGeneratorOptions), "PrefetchBlocks", "64", "65")]
    [InlineData(typeof(ScarabIdGeneratorOptions), "MaxAttempts", "1", "0")]
    [InlineData(typeof(ScarabIdGeneratorOptions), "RetryDelay", "00:00:00", "-00:00:00.0000001")]
    [InlineData(typeof(ScarabIdGeneratorOptions), "RequestDeadline", "00:00:00.001", "00:00:00.0009999")]
    [InlineData(typeof(ScarabIdGeneratorOptions), "RequestDeadline", "00:01:00", "00:01:00.0000001")]
    [InlineData(typeof(ScarabIdGeneratorOptions), "Spread", "1", "0")]
    [InlineData(typeof(ScarabIdGeneratorOptions), "Spread", "1024", "1025")]
    [InlineData(typeof(ProducerOptions), "Linger", "00:00:00", "-00:00:00.0000001")]
    [InlineData(typeof(ProducerOptions), "Linger", "00:01:00", "00:01:00.0000001")]
    [InlineData(typeof(ProducerOptions), "MaxBatchBytes", "30", "29")]
    [InlineData(typeof(ProducerOptions), "MaxBatchBytes", "16777216", "16777217")]
    [InlineData(typeof(ProducerOptions), "MaxInFlight", "1", "0")]
    [InlineData(typeof(ProducerOptions), "MaxInFlight", "5", "6")]
    [InlineData(typeof(ProducerOptions), "RequestTimeout", "00:00:00.001", "00:00:00.0009999")]
    [InlineData(typeof(ProducerOptions), "RequestTimeout", "00:05:00", "00:05:00.0000001")]
    [InlineData(typeof(ProducerOptions), "LeaderCheckAfter", "00:00:00.001", "00:00:00.0009999")]
    [InlineData(typeof(ProducerOptions), "LeaderCheckAfter", "00:05:00", "00:05:00.0000001")]
    [InlineData(typeof(ConsumerOptions), "MaxBytes", "1", "0")]
    [InlineData(typeof(ConsumerOptions), "MaxWait", "00:00:00", "-00:00:00.0000001")]
    [InlineData(typeof(ConsumerOptions), "MaxWait", "00:00:20", "00:00:20.0000001")]
    [InlineData(typeof(ConsumerOptions), "RequestTimeout", "00:00:00.001", "00:00:00.0009999")]
    [InlineData(typeof(ConsumerOptions), "RequestTimeout", "00:05:00", "00:05:00.0000001")]
    public void A_range_refuses_one_step_outside_and_accepts_its_bound(Type type, string setting, string bound, string outside)
    {
        // The bound may break a rule across settings (a 5 min request timeout exceeds the default delivery timeout), not its range.
        Assert.DoesNotContain($"{type.Name}.{setting} ", Record.Exception(() => Validate(With(type, setting, bound)))?.Message ?? "", StringComparison.Ordinal);
        var e = Assert.Throws<ArgumentException>(() => Validate(With(type, setting, outside)));
        Assert.Equal(setting, e.ParamName);
        Assert.StartsWith($"{type.Name}.{setting} must be ", e.Message, StringComparison.Ordinal);
        Assert.Contains($"(was {Convert.ToString(Value(type, setting, outside), CultureInfo.InvariantCulture)})", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_wrong_setting_is_named_with_its_value()
    {
        var e = Assert.Throws<ArgumentException>(new PyralogClientOptions { ClusterId = "", GatewayPorts = [0, 30000], ConnectTimeout = TimeSpan.FromSeconds(-1) }.Validate);
        Assert.Equal("ClusterId", e.ParamName);
        Assert.Equal(
            "PyralogClientOptions.ClusterId must not be empty (was ''). " +
            "PyralogClientOptions.ConnectTimeout must be more than 00:00:00 (was -00:00:01). " +
            "PyralogClientOptions.GatewayPorts must each be a port in 1..65535 (was [0, 30000]). (Parameter 'ClusterId')",
            e.Message);
    }

    [Fact]
    public void Redis_membership_needs_a_connection_string_and_no_gateway_ports()
    {
        new PyralogClientOptions { Membership = MembershipMode.Redis, RedisConnectionString = "localhost", GatewayPorts = [] }.Validate();
        var e = Assert.Throws<ArgumentException>(new PyralogClientOptions { Membership = MembershipMode.Redis, RedisConnectionString = " " }.Validate);
        Assert.StartsWith("PyralogClientOptions.RedisConnectionString must be set when Membership is 'redis' (was ' ').", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_redis_connection_string_naming_no_server_or_malformed_is_refused_without_repeating_it()
    {
        var none = Assert.Throws<ArgumentException>(new PyralogClientOptions { Membership = MembershipMode.Redis, RedisConnectionString = "password=secret" }.Validate);
        Assert.Equal(
            "PyralogClientOptions.RedisConnectionString names no Redis server: give host:port first, e.g. '127.0.0.1:6379,password=...'. (Parameter 'RedisConnectionString')",
            none.Message);

        var malformed = Assert.Throws<ArgumentException>(new PyralogClientOptions { Membership = MembershipMode.Redis, RedisConnectionString = "localhost,pasword=secret" }.Validate);
        Assert.Equal(
            "PyralogClientOptions.RedisConnectionString is not a StackExchange.Redis connection string: Keyword 'pasword' is not supported. (Parameter 'RedisConnectionString')",
            malformed.Message);
    }

    [Fact]
    public void Listed_obelisk_ids_replace_the_spread_and_are_checked_instead()
    {
        new ScarabIdGeneratorOptions { ObeliskIds = [0, 1023], Spread = 0 }.Validate();
        var e = Assert.Throws<ArgumentException>(new ScarabIdGeneratorOptions { ObeliskIds = [-1, 5, 5] }.Validate);
        Assert.Equal(
            "ScarabIdGeneratorOptions.ObeliskIds must each be an obelisk id in 0..1023 (was [-1, 5, 5]). " +
            "ScarabIdGeneratorOptions.ObeliskIds must not name an obelisk id twice (was [-1, 5, 5]). (Parameter 'ObeliskIds')",
            e.Message);
        Assert.Contains("must not be empty (use null to spread automatically) (was [])", Assert.Throws<ArgumentException>(new ScarabIdGeneratorOptions { ObeliskIds = [] }.Validate).Message);
    }

    [Fact]
    public void A_producer_buffers_at_least_a_batch_and_delivers_within_at_least_a_linger_and_a_request()
    {
        new ProducerOptions { MaxBatchBytes = 1000, MaxBufferedBytes = 1000, DeliveryTimeout = TimeSpan.FromMilliseconds(5005) }.Validate();
        var e = Assert.Throws<ArgumentException>(new ProducerOptions { MaxBatchBytes = 1000, MaxBufferedBytes = 999, DeliveryTimeout = TimeSpan.FromMilliseconds(5004) }.Validate);
        Assert.Equal(
            "ProducerOptions.MaxBufferedBytes must be at least MaxBatchBytes (1000) (was 999). " +
            "ProducerOptions.DeliveryTimeout must be at least RequestTimeout + Linger (00:00:05.0050000) (was 00:00:05.0040000). (Parameter 'MaxBufferedBytes')",
            e.Message);
    }

    private static void Validate(object options)
    {
        switch (options)
        {
            case PyralogClientOptions client: client.Validate(); break;
            case ScarabIdGeneratorOptions generator: generator.Validate(); break;
            case ProducerOptions producer: producer.Validate(); break;
            case ConsumerOptions consumer: consumer.Validate(); break;
            default: throw new ArgumentOutOfRangeException(nameof(options));
        }
    }

    private static object With(Type type, string setting, string value)
    {
        var options = Activator.CreateInstance(type)!;
        type.GetProperty(setting)!.SetValue(options, Value(type, setting, value));
        return options;
    }

    private static object Value(Type type, string setting, string value)
    {
        var property = type.GetProperty(setting)!.PropertyType;
        return property == typeof(TimeSpan)
            ? TimeSpan.Parse(value, CultureInfo.InvariantCulture)
            : Convert.ChangeType(value, property, CultureInfo.InvariantCulture);
    }
}
