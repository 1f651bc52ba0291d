// `meshlet demo` (what `npm start` runs): the sidecar against the reference control plane, printing what it receives.

import { Command } from 'commander';
import type { CommandContext } from './command-context';

export function demoCommand(context: CommandContext): Command {
  return new Command('demo')
    .description('start the reference control plane and a sidecar connected to it, and print the config received')
    .action(async () => {
      context.setExitCode(await context.actions.runDemo());
    });
}
