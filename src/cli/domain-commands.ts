// holdfast domain add|list|remove|dns — accepted domains of a tenant, and the DNS records each needs.
import { Option, type Command } from 'commander';
import type { DomainKind } from '../store/schema.ts';
import { parseDomain } from '../directory/names.ts';
import { domainKinds } from '../directory/tenant-directory.ts';
import { createMailDns } from '../flow/dns.ts';
import { checkRecords, checkText, recordsOfDomain, zoneText } from '../flow/dns-records.ts';
import { action, tenantsFor, withDirectory } from './context.ts';
import { print, table } from './output.ts';

export function registerDomainCommands(program: Command) {
  const domain = program.command('domain').description('accepted domains');

  action<[string]>(
    domain
      .command('add <domain>')
      .description('accept mail for a domain')
      .option('--tenant <name>', 'tenant that owns the domain', 'default')
      .addOption(
        new Option(
          '--type <type>',
          'authoritative: all its addresses are here; internal-relay: unknown addresses are passed on',
        )
          .choices(domainKinds)
          .default('authoritative'),
      ),
    (name, options) =>
      withDirectory(async ({ directory }) => {
        const scope = await directory.tenant(options.tenant);
        const added = await scope.addDomain(name, options.type as DomainKind);
        print(
          options,
          { ...added, tenant: options.tenant },
          () => `added ${added.kind} domain ${added.name} to tenant ${options.tenant}`,
        );
      }),
  );

  action<[]>(
    domain.command('list').description('list accepted domains').option('--tenant <name>', 'only this tenant'),
    (options) =>
      withDirectory(async ({ directory }) => {
        const rows: { name: string; kind: string; tenant: string; addresses: number }[] = [];
        for (const { tenant, scope } of await tenantsFor(directory, options.tenant)) {
          for (const d of await scope.listDomains())
            rows.push({ name: d.name, kind: d.kind, tenant: tenant.name, addresses: d.addresses });
        }
        print(options, rows, () =>
          table(
            ['DOMAIN', 'TYPE', 'TENANT', 'ADDRESSES'],
            rows.map((d) => [d.name, d.kind, d.tenant, d.addresses]),
          ),
        );
      }),
  );

  action<[string]>(
    domain.command('remove <domain>').description('stop accepting mail for a domain (it must have no addresses left)'),
    (name, options) =>
      withDirectory(async ({ directory }) => {
        const scope = await directory.tenantOfDomain(name);
        await scope.removeDomain(name);
        print(options, { removed: name.toLowerCase() }, () => `removed domain ${name.toLowerCase()}`);
      }),
  );

  action<[string]>(
    domain
      .command('dns <domain>')
      .description(
        'the DNS records a domain needs (MX, SPF, DKIM, DMARC, autoconfig/autodiscover, SRV); --check compares them with DNS',
      )
      .option('--check', 'look each record up through the configured resolver and say which are missing or different'),
    (name, options) =>
      withDirectory(async ({ config, store, directory }) => {
        const domain = parseDomain(name);
        await directory.tenantOfDomain(domain); // unknown domains are refused, saying how to add one
        const { records, upstream } = await recordsOfDomain(config, store.db, domain);
        if (options.check) {
          const checks = await checkRecords(createMailDns(config.dnsServers), records);
          print(options, checks, () => checkText(checks));
          if (checks.some((c) => c.status !== 'ok')) process.exitCode = 1;
          return;
        }
        print(options, records, () =>
          [
            upstream
              ? `Records for ${domain}, a continuity domain of ${upstream} (its MX and client settings stay with the upstream):`
              : `Records for ${domain}:`,
            zoneText(records),
          ].join('\n'),
        );
      }),
  );
}
