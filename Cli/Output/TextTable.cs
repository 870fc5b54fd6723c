namespace Pyralog.Cli.Output;

/// <summary>Left-aligned columns two spaces apart, a header row first, no trailing spaces.</summary>
internal sealed class TextTable(params string[] header)
{
    private readonly List<string[]> _rows = [header];

    public void Add(params string[] row)
    {
        if (row.Length != header.Length)
        {
            throw new ArgumentException($"a row of {row.Length} cells in a table of {header.Length} columns", nameof(row));
        }

        _rows.Add(row);
    }

    public void WriteTo(TextWriter output)
    {
        var widths = new int[header.Length];
        foreach (var row in _rows)
        {
            for (var c = 0; c < row.Length; c++)
            {
                widths[c] = Math.Max(widths[c], row[c].Length);
            }
        }

        foreach (var row in _rows)
        {
            var line = string.Join("  ", row.Select((cell, c) => c == row.Length - 1 ? cell : cell.PadRight(widths[c])));
            output.WriteLine(line.TrimEnd());
        }
    }
}
