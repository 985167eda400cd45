using Fw.Cli;

return FwctlApp.Run(args, Console.Out, Console.Error);
