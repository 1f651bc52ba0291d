// `meshlet demo` (what `npm start` runs): the sidecar against the reference control plane, printing what it receives.

import { Command } from 'commander';
import { EXIT_BAD_INPUT, type CommandContext, type DemoFlags } from './command-context';

interface DemoOptions {
  admin?: string;
  duration?: string;
  listenerPort?: string;
}

export function demoCommand(context: CommandContext): Command {
  return new Command('demo')
    .description('start the reference control plane and a sidecar connected to it, and print the config received')
    .option('--admin <host:port>', 'admin server address (default 127.0.0.1:15000, or a free port when taken)')
    .option('--duration <seconds>', 'stop after this many seconds (default: run until Ctrl-C)')
    .option('--listener-port <port>', "port of meshlet's demo listener on 127.0.0.1 (default 10000; 0 = any free port)")
    .action(async (options: DemoOptions) => {
      const flags: { -readonly [K in keyof DemoFlags]: DemoFlags[K] } = {};
      if (options.admin !== undefined) flags.adminAddress = options.admin;
      if (options.duration !== undefined) {
        const seconds = Number(options.duration);
        if (!Number.isFinite(seconds) || seconds <= 0) {
          context.io.stderr(`meshlet demo: --duration must be a positive number of seconds, got "${options.duration}"\n`);
          context.setExitCode(EXIT_BAD_INPUT);
          return;
        }
        flags.durationMs = seconds * 1000;
      }
      if (options.listenerPort !== undefined) {
        const port = Number(options.listenerPort);
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          context.io.stderr(`meshlet demo: --listener-port must be a port number, got "${options.listenerPort}"\n`);
          context.setExitCode(EXIT_BAD_INPUT);
          return;
        }
        flags.listenerPort = port;
      }
      context.setExitCode(await context.actions.runDemo(flags));
    });
}
