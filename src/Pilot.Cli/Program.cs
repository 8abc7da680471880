return Pilot.Cli.PilotCli.Run(args, Pilot.Cli.CliConsole.FromSystemConsole());
