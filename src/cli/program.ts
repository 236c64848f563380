// The holdfast command line: one file per command group.
import { Command } from 'commander';
import { version } from '../version.ts';
import { registerAliasCommands } from './alias-commands.ts';
import { registerCalendarCommands } from './calendar-commands.ts';
import { registerDkimCommands } from './dkim-commands.ts';
import { registerDomainCommands } from './domain-commands.ts';
import { registerForestCommands } from './forest-commands.ts';
import { registerGroupCommands } from './group-commands.ts';
import { registerResourceCommands, registerSharedMailboxCommands } from './mailbox-principal-commands.ts';
import { registerHealthCommand } from './health-commands.ts';
import { registerInitCommand } from './init-command.ts';
import { registerQueueCommands, registerTraceCommand } from './queue-commands.ts';
import { registerStartCommand } from './start-command.ts';
import { registerTenantCommands } from './tenant-commands.ts';
import { registerTokenCommands } from './token-commands.ts';
import { registerUserCommands } from './user-commands.ts';

export function buildProgram(): Command {
  const program = new Command('holdfast')
    .description('Holdfast: a self-hostable mail and calendar server built to keep working')
    .version(version)
    // Commander's errors are thrown, not printed: main.ts reports them as one line, or as JSON with
    // --json, like the commands' own. Subcommands inherit both settings.
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  registerStartCommand(program);
  registerInitCommand(program);
  registerForestCommands(program);
  registerTenantCommands(program);
  registerDomainCommands(program);
  registerUserCommands(program);
  registerAliasCommands(program);
  registerGroupCommands(program);
  registerSharedMailboxCommands(program);
  registerResourceCommands(program);
  registerQueueCommands(program);
  registerTraceCommand(program);
  registerHealthCommand(program);
  registerTokenCommands(program);
  registerDkimCommands(program);
  registerCalendarCommands(program);
  return program;
}
