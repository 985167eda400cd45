using Fw.Daemon;

return await FwdApp.RunAsync(args, Console.Out, Console.Error);
