// holdfast sieve list|show|put|activate|deactivate|delete|rename|check — a user's Sieve scripts
// (sieve/sieve-scripts.ts), the ones ManageSieve clients manage, and the active one run at delivery.
// docs/rules.md says what a script can do.
import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import { loadConfig } from '../config/load.ts';
import { invalid } from '../errors.ts';
import {
  activateScript,
  checkScript,
  deleteScript,
  getScript,
  listScripts,
  putScript,
  renameScript,
} from '../sieve/sieve-scripts.ts';
import type { Database } from '../store/schema.ts';
import { action, readFileOrStdin, tenantFor, withDirectory } from './context.ts';
import { print, table, timeText } from './output.ts';

/** The script text: from a file, or standard input with "-". */
export function registerSieveCommands(program: Command) {
  const sieve = program.command('sieve').description("users' mail filters (Sieve scripts, RFC 5228)");
  const user = (address: string, fn: (db: Kysely<Database>, id: number, address: string) => Promise<void>) =>
    withDirectory(async ({ directory, store }) => {
      const principal = await (await tenantFor(directory, { address })).getPrincipal(address, ['user', 'shared']);
      await fn(store.db, principal.id, principal.address);
    });

  action<[string]>(
    sieve.command('list <user>').description("list a user's scripts (* marks the active one)"),
    (address, options) =>
      user(address, async (db, id, name) => {
        const scripts = await listScripts(db, id);
        print(
          options,
          scripts.map(({ name, active, updatedAt, content }) => ({
            name,
            active,
            updatedAt,
            bytes: Buffer.byteLength(content),
          })),
          () =>
            scripts.length === 0
              ? `${name} has no Sieve scripts`
              : table(
                  ['', 'name', 'bytes', 'saved'],
                  scripts.map((s) => [
                    s.active ? '*' : '',
                    s.name,
                    Buffer.byteLength(s.content),
                    timeText(s.updatedAt),
                  ]),
                ),
        );
      }),
  );

  action<[string, string]>(
    sieve.command('show <user> <name>').description('print a script'),
    (address, scriptName, options) =>
      user(address, async (db, id) => {
        const script = await getScript(db, id, scriptName);
        print(options, { name: script.name, active: script.active, content: script.content }, () => script.content);
      }),
  );

  action<[string, string, string]>(
    sieve
      .command('put <user> <name> <file>')
      .description('store a script from a file ("-": standard input), checked first; an active script stays active')
      .option('--activate', 'make it the active script'),
    (address, scriptName, file, options) =>
      user(address, async (db, id, owner) => {
        await putScript(db, id, scriptName, await readFileOrStdin(file), Date.now(), loadConfig().sieve.compile);
        if (options.activate) await activateScript(db, id, scriptName, Date.now());
        print(options, { user: owner, name: scriptName, active: Boolean(options.activate) }, () =>
          options.activate
            ? `script "${scriptName}" of ${owner} stored and active`
            : `script "${scriptName}" of ${owner} stored`,
        );
      }),
  );

  action<[string, string]>(
    sieve.command('activate <user> <name>').description('make a script the one run at delivery'),
    (address, scriptName, options) =>
      user(address, async (db, id, owner) => {
        await activateScript(db, id, scriptName, Date.now());
        print(options, { user: owner, active: scriptName }, () => `script "${scriptName}" of ${owner} is active`);
      }),
  );

  action<[string]>(sieve.command('deactivate <user>').description('run no script at delivery'), (address, options) =>
    user(address, async (db, id, owner) => {
      await activateScript(db, id, null, Date.now());
      print(options, { user: owner, active: null }, () => `no script of ${owner} is active`);
    }),
  );

  action<[string, string]>(
    sieve.command('delete <user> <name>').description('delete a script (not the active one)'),
    (address, scriptName, options) =>
      user(address, async (db, id, owner) => {
        await deleteScript(db, id, scriptName);
        print(options, { user: owner, deleted: scriptName }, () => `script "${scriptName}" of ${owner} deleted`);
      }),
  );

  action<[string, string, string]>(
    sieve.command('rename <user> <name> <new-name>').description('rename a script'),
    (address, from, to, options) =>
      user(address, async (db, id, owner) => {
        await renameScript(db, id, from, to, Date.now());
        print(options, { user: owner, renamed: from, to }, () => `script "${from}" of ${owner} is now "${to}"`);
      }),
  );

  action<[string]>(
    sieve.command('check <file>').description('check a script without storing it ("-": standard input)'),
    async (file, options) => {
      const problem = checkScript(await readFileOrStdin(file), loadConfig().sieve.compile);
      if (problem) throw invalid('bad-sieve-script', `the script has an error: ${problem}`);
      print(options, { ok: true }, () => 'the script is valid');
    },
  );
}
