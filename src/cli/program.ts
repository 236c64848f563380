// The holdfast command line: one file per command group.
import { Command } from 'commander';
import { version } from '../version.ts';
type Register = (program: Command) => void;

/**
 * Each top-level command and the module that defines it, loaded only when needed: a command such
 * as `holdfast user list` loads its own group and what it uses, not the mail flow, the calendar
 * and the health checks of every other group (each module loaded costs start-up time).
 */
const commandGroups: Record<string, () => Promise<Register[]>> = {
  start: async () => [(await import('./start-command.ts')).registerStartCommand],
  init: async () => [(await import('./init-command.ts')).registerInitCommand],
  forest: async () => [(await import('./forest-commands.ts')).registerForestCommands],
  tenant: async () => [(await import('./tenant-commands.ts')).registerTenantCommands],
  domain: async () => [(await import('./domain-commands.ts')).registerDomainCommands],
  user: async () => [(await import('./user-commands.ts')).registerUserCommands],
  alias: async () => [(await import('./alias-commands.ts')).registerAliasCommands],
  group: async () => [(await import('./group-commands.ts')).registerGroupCommands],
  shared: async () => [(await import('./mailbox-principal-commands.ts')).registerSharedMailboxCommands],
  resource: async () => [(await import('./mailbox-principal-commands.ts')).registerResourceCommands],
  queue: async () => [(await import('./queue-commands.ts')).registerQueueCommands],
  trace: async () => [(await import('./queue-commands.ts')).registerTraceCommand],
  health: async () => [(await import('./health-commands.ts')).registerHealthCommand],
  token: async () => [(await import('./token-commands.ts')).registerTokenCommands],
  dkim: async () => [(await import('./dkim-commands.ts')).registerDkimCommands],
  calendar: async () => [(await import('./calendar-commands.ts')).registerCalendarCommands],
  contacts: async () => [(await import('./contacts-commands.ts')).registerContactsCommands],
  cluster: async () => [(await import('./cluster-commands.ts')).registerClusterCommands],
  backup: async () => [
    (await import('./backup-commands.ts')).registerBackupCommands,
    (await import('./backup-recover-command.ts')).registerBackupRecoverCommand,
  ],
  store: async () => [(await import('./store-commands.ts')).registerStoreCommands],
  import: async () => [(await import('./import-commands.ts')).registerImportCommands],
  continuity: async () => [(await import('./continuity-commands.ts')).registerContinuityCommands],
  export: async () => [(await import('./export-command.ts')).registerExportCommand],
  vacation: async () => [(await import('./vacation-commands.ts')).registerVacationCommands],
  sieve: async () => [(await import('./sieve-commands.ts')).registerSieveCommands],
  rules: async () => [(await import('./rules-commands.ts')).registerRulesCommands],
  quarantine: async () => [(await import('./quarantine-commands.ts')).registerQuarantineCommands],
  senders: async () => [(await import('./quarantine-commands.ts')).registerSenderListCommands],
};

/** The program for `argv`: the named command's group only, or every group (help, an unknown command). */
export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command('holdfast')
    .description('Holdfast: a self-hostable mail and calendar server built to keep working')
    .version(version)
    // Commander's errors are thrown, not printed: main.ts reports them as one line, or as JSON with
    // --json, like the commands' own. Subcommands inherit both settings.
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  const named = argv.find((arg) => !arg.startsWith('-'));
  const groups = named !== undefined && named in commandGroups ? [commandGroups[named]!] : Object.values(commandGroups);
  for (const register of (await Promise.all(groups.map((load) => load()))).flat()) register(program);
  return program;
}
