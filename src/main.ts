// Entry point: parse the command line and hand over to the command.
import { CommanderError } from 'commander';
import { buildProgram } from './cli/program.ts';
import { reportError } from './cli/output.ts';
import { invalid } from './errors.ts';

export async function main(argv: string[]): Promise<void> {
  try {
    await (await buildProgram(argv)).parseAsync(argv, { from: 'user' });
  } catch (error) {
    // Help and --version (and help shown for a missing command) are printed already.
    if (error instanceof CommanderError && (error.exitCode === 0 || error.code === 'commander.help')) {
      process.exitCode = error.exitCode;
      return;
    }
    process.exitCode = reportError(usageError(error), argv.includes('--json'));
  }
}

/**
 * Commander's own refusals (unknown option, missing argument, a --role outside its choices) are
 * reported like every other error: one line, or JSON with --json.
 */
function usageError(error: unknown): unknown {
  if (!(error instanceof CommanderError)) return error;
  // A value outside an option's choices is worded as every invalid setting is: key, value, what is allowed.
  const choice = /^error: option '(-[^ ']+)[^']*' argument '(.*)' is invalid\. Allowed choices are (.*)\.$/.exec(
    error.message,
  );
  if (choice)
    return invalid('invalid-option', `${choice[1]} = "${choice[2]}" is not allowed: expected one of ${choice[3]}`);
  return invalid('invalid-usage', `${error.message.replace(/^error: /, '')} (run with --help for usage)`);
}
