// What administrative commands share: configuration, the store (the same data dir or database the
// server uses, safely, while it runs) and the directory.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { Directory } from '../directory/directory.ts';
import type { TenantDirectory } from '../directory/tenant-directory.ts';
import { parseAddress } from '../directory/names.ts';
import type { Store } from '../store/store.ts';
import { openInstallation } from './installation.ts';
import { reportError, type OutputOptions } from './output.ts';
import { invalid } from '../errors.ts';

export interface CommandContext {
  config: Config;
  store: Store;
  directory: Directory;
}

export async function withDirectory<T>(fn: (context: CommandContext) => Promise<T>): Promise<T> {
  const config = loadConfig();
  // Only `start` and `init` create an installation; every other command works on an existing one.
  const store = await openInstallation(config);
  try {
    const directory = new Directory(store.db);
    return await fn({ config, store, directory });
  } finally {
    await store.close();
  }
}

/** Adds --json and turns the action's errors into a one-line reason and exit code 1. */
/** Parsed options of a command: --json plus whatever the command declares. */
// biome-ignore lint/suspicious/noExplicitAny: commander types the options a command declares as any
export type CommandOptions = OutputOptions & { [option: string]: any };

export function action<A extends unknown[]>(command: Command, fn: (...args: [...A, CommandOptions]) => Promise<void>) {
  command.option('--json', 'print the result as JSON');
  command.action(async (...args: unknown[]) => {
    const options = args.at(-2) as CommandOptions;
    try {
      await fn(...(args.slice(0, -1) as [...A, CommandOptions]));
    } catch (error) {
      process.exitCode = reportError(error, Boolean(options.json));
    }
  });
  return command;
}

/** The tenant an address belongs to (by its domain), or the one named by --tenant. */
export async function tenantFor(
  directory: Directory,
  options: { tenant?: string; address?: string },
): Promise<TenantDirectory> {
  if (options.tenant) return directory.tenant(options.tenant);
  if (options.address) return directory.tenantOfDomain(parseAddress(options.address).domain);
  return directory.tenant('default');
}

/** The tenants a list command covers: the one named by --tenant, else all. */
export async function tenantsFor(directory: Directory, tenant?: string) {
  const tenants = tenant ? [await directory.getTenant(tenant)] : await directory.listTenants();
  return Promise.all(tenants.map(async (t) => ({ tenant: t, scope: await directory.tenant(t.name) })));
}

/** Everything on standard input, as text. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A file's text, or standard input's for "-". */
export const readFileOrStdin = (file: string): Promise<string> => (file === '-' ? readStdin() : readFile(file, 'utf8'));

export async function readPasswordStdin(): Promise<string> {
  const password = (await readStdin()).replace(/\r?\n$/, '');
  if (!password) throw invalid('password-required', 'no password on standard input');
  return password;
}

export function integerOption(name: string) {
  return (value: string) => {
    if (!/^\d+$/.test(value))
      throw invalid('invalid-option', `${name} = "${value}" is not allowed: expected a whole number`);
    return Number(value);
  };
}
