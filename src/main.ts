// Entry point: parse the command line and hand over to the command.
import { buildProgram } from './cli/program.ts';
import { reportError } from './cli/output.ts';

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
  } catch (error) {
    process.exitCode = reportError(error, argv.includes('--json'));
  }
}
