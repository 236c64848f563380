// holdfast dkim show|rotate — the DKIM keys Holdfast signs a domain's outgoing mail with.
import type { Command } from 'commander';
import { DkimKeys, dnsRecordName, dnsRecordValue } from '../flow/dkim-keys.ts';
import { dkimRecord, zoneLine } from '../flow/dns-records.ts';
import { parseDomain } from '../directory/names.ts';
import { action, withDirectory } from './context.ts';
import { print } from './output.ts';

export function registerDkimCommands(program: Command) {
  const dkim = program.command('dkim').description('DKIM signing keys');

  action<[string]>(
    dkim
      .command('show <domain>')
      .description('print the DNS record to publish for a domain (a key is created if it has none)'),
    (domain, options) =>
      withDirectory(async ({ store }) => {
        const keys = new DkimKeys(store.db);
        const active = await keys.active(parseDomain(domain));
        const all = await keys.list(active.domain);
        const records = all.map((k) => ({
          name: dnsRecordName(k),
          type: 'TXT',
          value: dnsRecordValue(k),
          selector: k.selector,
          active: k.active,
        }));
        print(options, records, () =>
          [
            `Publish this TXT record so receivers can verify mail signed for ${active.domain}:`,
            '',
            zoneLine(dkimRecord(active, '')),
            ...(all.length > 1
              ? [
                  '',
                  'Earlier keys (keep them published until mail signed with them has been delivered):',
                  ...all.filter((k) => !k.active).map((k) => zoneLine(dkimRecord(k, ''))),
                ]
              : []),
          ].join('\n'),
        );
      }),
  );

  action<[string]>(
    dkim.command('rotate <domain>').description('create a new key with a new selector and sign with it from now on'),
    (domain, options) =>
      withDirectory(async ({ store }) => {
        const key = await new DkimKeys(store.db).rotate(parseDomain(domain));
        print(
          options,
          { name: dnsRecordName(key), type: 'TXT', value: dnsRecordValue(key), selector: key.selector },
          () =>
            [
              `New key ${key.selector} for ${key.domain} is now used for signing. Publish:`,
              '',
              zoneLine(dkimRecord(key, '')),
            ].join('\n'),
        );
      }),
  );
}
