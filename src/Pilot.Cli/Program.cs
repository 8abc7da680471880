Pilot.Cli.ProcessSetup.Apply();
return Pilot.Cli.PilotCli.Run(args, Pilot.Cli.CliConsole.FromSystemConsole());
