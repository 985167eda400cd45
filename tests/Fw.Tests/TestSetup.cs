using System.Runtime.CompilerServices;
using Fw.Kernel;

namespace Fw.Tests;

/// <summary>What every test process sets up once.</summary>
internal static class TestSetup
{
    /// <summary>A lab knows nothing of fw: fw's pins of the interfaces a lab deletes go with them (<see cref="Leftovers"/>).</summary>
    [ModuleInitializer]
    internal static void Init() => Fw.Lab.Lab.InterfacesDeleted += Leftovers.Remove;
}
