using Microsoft.Extensions.Options;

namespace Pyralog.Silo.Hosting;

/// <summary>Checks the data annotations of <see cref="SiloHostOptions"/> (source-generated).</summary>
[OptionsValidator]
internal sealed partial class SiloHostOptionsValidator : IValidateOptions<SiloHostOptions>;
