// holdfast rules put|show|delete|disclaimer <tenant> — the organisation's rules: one Sieve script per
// tenant, run at delivery before each of its users' own (flow/sieve-delivery.ts), and the disclaimer
// appended to the mail its users submit (flow/intake/disclaimer.ts), kept with the tenant's settings
// (directory/tenant-settings.ts). docs/rules.md says what they do.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { setTenantDisclaimer, setTenantRules, tenantDisclaimer, tenantRules } from '../directory/tenant-settings.ts';
import { invalid, notFound } from '../errors.ts';
import { checkScript } from '../sieve/sieve-scripts.ts';
import { action, readFileOrStdin, withDirectory } from './context.ts';
import { print } from './output.ts';

export function registerRulesCommands(program: Command) {
  const rules = program
    .command('rules')
    .description("the organisation's rules: a Sieve script run before each user's at delivery");

  action<[string, string]>(
    rules.command('put <tenant> <file>').description("set the tenant's rules from a Sieve file (- for standard input)"),
    (name, file, options) =>
      withDirectory(async ({ config, directory, store }) => {
        const tenant = await directory.getTenant(name);
        const content = await readFileOrStdin(file);
        // The organisation's script is bounded as a user's is ([sieve] in the configuration).
        const { maxScriptBytes } = config.sieve.compile;
        if (Buffer.byteLength(content) > maxScriptBytes)
          throw invalid('sieve-too-large', `the script is larger than ${maxScriptBytes / 1024} KiB`);
        const error = checkScript(content, config.sieve.compile);
        if (error) throw invalid('bad-sieve', `the script is not valid: ${error}`);
        await setTenantRules(store.db, tenant.id, content, Date.now());
        print(
          options,
          { tenant: tenant.name, bytes: Buffer.byteLength(content) },
          () => `rules of tenant ${tenant.name} set`,
        );
      }),
  );

  action<[string]>(rules.command('show <tenant>').description("print the tenant's rules"), (name, options) =>
    withDirectory(async ({ directory, store }) => {
      const tenant = await directory.getTenant(name);
      const found = (await tenantRules(store.db, [tenant.id])).get(tenant.id);
      if (!found) throw notFound('no-rules', `tenant ${tenant.name} has no rules`);
      print(options, { tenant: tenant.name, content: found.content, updatedAt: found.updatedAt }, () =>
        found.content.replace(/\n$/, ''),
      );
    }),
  );

  action<[string]>(rules.command('delete <tenant>').description("remove the tenant's rules"), (name, options) =>
    withDirectory(async ({ directory, store }) => {
      const tenant = await directory.getTenant(name);
      if (!(await setTenantRules(store.db, tenant.id, undefined, Date.now())))
        throw notFound('no-rules', `tenant ${tenant.name} has no rules`);
      print(options, { tenant: tenant.name, deleted: true }, () => `rules of tenant ${tenant.name} deleted`);
    }),
  );

  action<[string]>(
    rules
      .command('disclaimer <tenant>')
      .description("show, set or remove the text appended to the mail the tenant's users send")
      .option('--text <text>', 'the disclaimer')
      .option('--text-file <path>', 'read the disclaimer from a file')
      .option('--off', 'remove the disclaimer'),
    (name, options) =>
      withDirectory(async ({ directory, store }) => {
        const tenant = await directory.getTenant(name);
        const given = [options.text !== undefined, options.textFile !== undefined, Boolean(options.off)];
        if (given.filter(Boolean).length > 1)
          throw invalid('conflicting-options', 'give one of --text, --text-file and --off');
        if (options.off) await setTenantDisclaimer(store.db, tenant.id, undefined, Date.now());
        else if (options.text !== undefined || options.textFile !== undefined) {
          const text = options.textFile !== undefined ? await readFile(options.textFile, 'utf8') : String(options.text);
          if (!text.trim()) throw invalid('empty-disclaimer', 'the disclaimer is empty; --off removes it');
          await setTenantDisclaimer(store.db, tenant.id, text.trim(), Date.now());
        }
        const disclaimer = (await tenantDisclaimer(store.db, tenant.id)) ?? null;
        print(options, { tenant: tenant.name, disclaimer }, () =>
          disclaimer === null ? `tenant ${tenant.name} has no disclaimer` : disclaimer,
        );
      }),
  );
}
