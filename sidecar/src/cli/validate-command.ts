// `meshlet validate FILE...`: the checks `run` does (or the ADS client does, for resource files and config dumps), starting nothing.

import { Command } from 'commander';
import { EXIT_BAD_INPUT, EXIT_OK, printProblems, printWarnings, type CommandContext } from './command-context';

export function validateCommand(context: CommandContext): Command {
  return new Command('validate')
    .description('check Envoy files (bootstrap, xDS resource file, admin config dump) and list every problem; exit 0 or 2')
    .argument('<files...>', 'YAML or JSON files')
    .action((files: string[]) => {
      let exitCode = EXIT_OK;
      for (const file of files) {
        const result = context.actions.validateFile(file);
        const prefix = files.length > 1 ? `${file}: ` : '';
        if (result.ok) {
          context.io.stdout(`${prefix}${result.value.summary}\n`);
          printWarnings(context.io, result.warnings);
        } else {
          printProblems(context.io, `meshlet: ${file} is invalid (${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}):`, result.errors);
          exitCode = EXIT_BAD_INPUT;
        }
      }
      context.setExitCode(exitCode);
    });
}
