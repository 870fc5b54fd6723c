using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Pyralog.Client.Cluster;

namespace Pyralog.Cli.Output;

/// <summary>How <c>pyralog cluster status</c> prints a <see cref="ClusterStatus"/>: a table and the verdict, or one JSON object.</summary>
internal static class ClusterText
{
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    /// <summary>One row per silo (address, name, status, replicas, leaders), then the verdict, then one <c>note:</c> line per note.</summary>
    public static void WriteTable(TextWriter output, ClusterStatus status)
    {
        var table = new TextTable("silo", "name", "status", "replicas", "leaders");
        foreach (var silo in status.Silos)
        {
            table.Add(silo.Address, silo.Name.Length == 0 ? "-" : silo.Name, silo.DisplayStatus, Number(silo.Replicas), Number(silo.Leaders));
        }

        table.WriteTo(output);
        output.WriteLine(status.Verdict());
        foreach (var note in status.Notes)
        {
            output.WriteLine($"note: {note}");
        }
    }

    /// <summary>One line: <c>{"balanced":…,"verdict":…,"meanReplicas":…,"meanLeaders":…,"silos":[…],"notes":[…]}</c>.</summary>
    public static void WriteJson(TextWriter output, ClusterStatus status)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteBoolean("balanced", status.Balanced);
            json.WriteString("verdict", status.Verdict());
            json.WriteNumber("meanReplicas", Math.Round(status.MeanReplicas, 3));
            json.WriteNumber("meanLeaders", Math.Round(status.MeanLeaders, 3));
            json.WriteStartArray("silos");
            foreach (var silo in status.Silos)
            {
                json.WriteStartObject();
                json.WriteString("address", silo.Address);
                json.WriteString("name", silo.Name);
                json.WriteString("status", silo.Status);
                json.WriteBoolean("draining", silo.Draining);
                json.WriteBoolean("drainingUnknown", silo.DrainingUnknown);
                json.WriteNumber("replicas", silo.Replicas);
                json.WriteNumber("leaders", silo.Leaders);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartArray("notes");
            foreach (var note in status.Notes)
            {
                json.WriteStringValue(note);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
