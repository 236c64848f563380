// holdfast rules put|show|delete|disclaimer|attachments|external-banner <tenant> — the organisation's
// rules: one Sieve script per tenant, run at delivery before each of its users' own
// (flow/sieve-delivery.ts), the disclaimer appended to the mail its users submit
// (flow/intake/disclaimer.ts), the attachment types refused in mail to them
// (flow/intake/attachment-filter.ts) and the warning put on mail from outside
// (flow/intake/external-banner.ts), kept with the tenant's settings (directory/tenant-settings.ts).
// docs/rules.md says what they do.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  setTenantBlockedAttachments,
  setTenantDisclaimer,
  setTenantExternalBanner,
  setTenantRules,
  tenantBlockedAttachments,
  tenantDisclaimer,
  tenantExternalBanners,
  tenantRules,
} from '../directory/tenant-settings.ts';
import { invalid, notFound } from '../errors.ts';
import { defaultBlockedExtensions, parseBlockedExtensions } from '../flow/intake/attachment-filter.ts';
import { defaultBannerText } from '../flow/intake/external-banner.ts';
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
  action<[string]>(
    rules
      .command('attachments <tenant>')
      .description("show, set or remove the attachment types refused in mail to the tenant's users")
      .option(
        '--block <extensions>',
        'file name extensions, separated by commas ("exe,js,vbs"); "default" for the usual list',
      )
      .option('--off', 'block no attachment types'),
    (name, options) =>
      withDirectory(async ({ directory, store }) => {
        const tenant = await directory.getTenant(name);
        if (options.block !== undefined && options.off)
          throw invalid('conflicting-options', 'give one of --block and --off');
        if (options.off) await setTenantBlockedAttachments(store.db, tenant.id, undefined, Date.now());
        else if (options.block !== undefined)
          await setTenantBlockedAttachments(
            store.db,
            tenant.id,
            parseBlockedExtensions(String(options.block)),
            Date.now(),
          );
        const blocked = [...((await tenantBlockedAttachments(store.db, [tenant.id])).get(tenant.id) ?? [])];
        print(options, { tenant: tenant.name, blocked, default: [...defaultBlockedExtensions] }, () =>
          blocked.length === 0
            ? `tenant ${tenant.name} blocks no attachment types`
            : `tenant ${tenant.name} blocks attachments ending in: ${blocked.map((e) => `.${e}`).join(' ')}`,
        );
      }),
  );

  action<[string]>(
    rules
      .command('external-banner <tenant>')
      .description('show, set or remove the warning put on mail from outside the organisation')
      .option('--on', 'put the warning on mail from outside')
      .option('--text <text>', 'the warning (with --on; a default text otherwise)')
      .option('--off', 'no warning'),
    (name, options) =>
      withDirectory(async ({ directory, store }) => {
        const tenant = await directory.getTenant(name);
        if (options.on && options.off) throw invalid('conflicting-options', 'give one of --on and --off');
        if (options.text !== undefined && !options.on) throw invalid('conflicting-options', '--text goes with --on');
        if (options.off) await setTenantExternalBanner(store.db, tenant.id, undefined, Date.now());
        else if (options.on)
          await setTenantExternalBanner(store.db, tenant.id, String(options.text ?? defaultBannerText), Date.now());
        const banner = (await tenantExternalBanners(store.db, [tenant.id])).get(tenant.id) ?? null;
        print(options, { tenant: tenant.name, on: banner !== null, text: banner }, () =>
          banner === null ? `tenant ${tenant.name} puts no warning on mail from outside` : `on: ${banner}`,
        );
      }),
  );
}
