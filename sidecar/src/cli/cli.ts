// The `meshlet` command line: builds the commander program from the commands and maps every outcome to an exit code.

import { Command, CommanderError } from 'commander';
import { EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, processIo, type CliActions, type CliIo, type CommandContext } from './command-context';
import { demoCommand } from './demo-command';
import { kubernetesCommands } from './kubernetes-commands';
import { runCommand } from './run-command';
import { validateCommand } from './validate-command';

/** Builds the program (exposed for tests and help text). */
export function buildProgram(context: CommandContext): Command {
  const program = new Command('meshlet')
    .description('A service-mesh sidecar proxy: Envoy bootstrap and xDS (ADS) config, HTTP/1.1, HTTP/2 and gRPC.')
    .version(context.actions.version, '-v, --version', 'print the version')
    .showHelpAfterError('(run meshlet --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.io.stdout(text),
      writeErr: (text) => context.io.stderr(text),
    });
  for (const command of [runCommand(context), validateCommand(context), demoCommand(context), ...kubernetesCommands(context)]) {
    program.addCommand(command.exitOverride().configureOutput({
      writeOut: (text) => context.io.stdout(text),
      writeErr: (text) => context.io.stderr(text),
    }));
  }
  return program;
}

/**
 * Runs the CLI on `argv` (user arguments only, without `node` and the script) and resolves with the exit code.
 * Usage errors exit 2 with commander's message; `--help` and `--version` exit 0. Never throws for bad input.
 */
export async function runCli(argv: readonly string[], actions: CliActions, io: CliIo = processIo): Promise<number> {
  let exitCode = EXIT_OK;
  const program = buildProgram({ actions, io, setExitCode: (code) => { exitCode = code; } });
  if (argv.length === 0) {
    io.stdout(program.helpInformation());
    return EXIT_OK;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      const benign = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help';
      return benign ? EXIT_OK : EXIT_BAD_INPUT;
    }
    io.stderr(`meshlet: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  }
  return exitCode;
}
