using Pyralog.Client.Logs;
using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Pyralog.Cli.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Output;

/// <summary>
/// Prints consumed records, one line each. Text: the value when it is UTF-8 without control characters other than tab
/// (so one record is always one line), else <c>base64:</c> and the value's Base64. JSON: bytes that are valid UTF-8 are
/// strings (<c>key</c>, <c>value</c>); other bytes are Base64 under <c>keyBase64</c>, <c>valueBase64</c>.
/// </summary>
internal sealed class RecordWriter(TextWriter output, RecordFormat format)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly ArrayBufferWriter<byte> _json = new();

    public void Write(ConsumedRecord record)
    {
        if (format == RecordFormat.Text)
        {
            output.WriteLine(Text(record.Value));
            return;
        }

        _json.ResetWrittenCount();
        using (var json = new Utf8JsonWriter(_json, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("log", record.Log);
            json.WriteNumber("partition", record.Partition);
            json.WriteNumber("epoch", record.Epoch);
            json.WriteNumber("offset", record.Offset);
            json.WriteString("id", record.Id.ToString(CultureInfo.InvariantCulture));
            if (record.Key is null)
            {
                json.WriteNull("key");
            }
            else
            {
                WriteBytes(json, "key", record.Key);
            }

            WriteBytes(json, "value", record.Value);
            if (record.Headers is { Length: > 0 } headers)
            {
                json.WriteStartArray("headers");
                foreach (var header in headers)
                {
                    json.WriteStartObject();
                    json.WriteString("name", header.Name);
                    WriteBytes(json, "value", header.Value);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
            }

            json.WriteString("appendTime", record.AppendTime.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            json.WriteEndObject();
        }

        output.WriteLine(Encoding.UTF8.GetString(_json.WrittenSpan));
    }

    /// <summary>The text form of a value: itself when printable UTF-8, else <c>base64:</c> and its Base64.</summary>
    public static string Text(byte[] bytes) =>
        TryUtf8(bytes, out var text) && !text.Any(c => char.IsControl(c) && c != '\t') ? text : "base64:" + Convert.ToBase64String(bytes);

    private static void WriteBytes(Utf8JsonWriter json, string name, byte[] bytes)
    {
        if (TryUtf8(bytes, out var text))
        {
            json.WriteString(name, text);
        }
        else
        {
            json.WriteBase64String(name + "Base64", bytes);
        }
    }

    private static bool TryUtf8(byte[] bytes, out string text)
    {
        try
        {
            text = StrictUtf8.GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            text = "";
            return false;
        }
    }
}
