// The DNS records a domain served here needs, as `holdfast domain dns` and `holdfast continuity dns`
// print them and the admin API (GET /admin/domains/{domain}/dns) answers them, and the check of
// what DNS says against them (`domain dns --check`, /dns/check, through the configured resolver).
// Records are built from the configuration (host name, the ports of the listeners that are on) and
// the domain's active DKIM key.
import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.ts';
import type { Database } from '../store/schema.ts';
import { type DkimKey, DkimKeys, dnsRecordName, dnsRecordValue } from './dkim-keys.ts';
import type { MailDns } from './dns.ts';
import { isNameMissing } from './dns.ts';

export type RecordType = 'MX' | 'TXT' | 'CNAME' | 'SRV';

export interface DnsRecord {
  name: string;
  type: RecordType;
  /** As in a zone file, without quotes: "10 mail.example.com." for MX, "0 1 993 mail.example.com." for SRV. */
  value: string;
  note: string;
}

export const dkimRecord = (key: DkimKey, note: string): DnsRecord => ({
  name: dnsRecordName(key),
  type: 'TXT',
  value: dnsRecordValue(key),
  note,
});

/** A continuity domain's MX stays with its upstream: only what mail sent through Holdfast needs (SPF, DKIM). */
export function continuityRecords(config: Pick<Config, 'hostname'>, domain: string, key: DkimKey): DnsRecord[] {
  return [
    {
      name: domain,
      type: 'TXT',
      value: `v=spf1 a:${config.hostname} include:spf.protection.outlook.com -all`,
      note: `SPF: add a:${config.hostname} (or its addresses) to the record you have; the include is Exchange Online's, keep yours`,
    },
    dkimRecord(key, 'DKIM: mail users send through Holdfast during an event is signed with this key'),
  ];
}

/** The records of a domain known here: a continuity domain's (its upstream named) or a whole domain's. */
export async function recordsOfDomain(
  config: Pick<Config, 'hostname' | 'ports' | 'http' | 'continuity'>,
  db: Kysely<Database>,
  domain: string,
): Promise<{ records: DnsRecord[]; upstream?: string }> {
  // The key the domain's mail is signed with: created now if it has none, as signing would.
  const key = await new DkimKeys(db).active(domain);
  const upstream = config.continuity.upstreams.find((u) => u.domains.includes(domain));
  if (upstream) return { records: continuityRecords(config, domain, key), upstream: upstream.name };
  return { records: domainRecords(config, domain, key) };
}

const usable = (port: number | 'off'): port is number => port !== 'off' && port > 0;

/**
 * Everything a domain whose mail is served here needs: where its mail goes (MX), who may send it
 * (SPF, DKIM, DMARC), and how clients find their settings (autoconfig/autodiscover names and the
 * RFC 6186/6764/8314 SRV records; a service that is off is published as "0 0 0 .", "not offered").
 */
export function domainRecords(
  config: Pick<Config, 'hostname' | 'ports' | 'http'>,
  domain: string,
  key: DkimKey,
): DnsRecord[] {
  const host = `${config.hostname}.`;
  const { ports } = config;
  const https = usable(ports.https) ? ports.https : usable(ports.http) && config.http.plaintextLogin ? 443 : undefined;
  const srv = (
    service: string,
    priority: number,
    port: number | 'off' | undefined,
    what: string,
    standard = 'RFC 6186',
  ): DnsRecord => ({
    name: `_${service}._tcp.${domain}`,
    type: 'SRV',
    value: port !== undefined && usable(port) ? `${priority} 1 ${port} ${host}` : '0 0 0 .',
    note:
      port !== undefined && usable(port)
        ? `${what} (${standard})`
        : `${what}: not offered (its listener is off), as ${standard} says to publish it`,
  });
  const records: DnsRecord[] = [
    { name: domain, type: 'MX', value: `10 ${host}`, note: `MX: mail for ${domain} comes to ${config.hostname}` },
    {
      name: domain,
      type: 'TXT',
      value: 'v=spf1 mx -all',
      note: `SPF: only the MX host (${config.hostname}) sends as ${domain}; add any other host that does`,
    },
    dkimRecord(key, `DKIM: Holdfast signs mail from ${domain} with this key`),
    {
      name: `_dmarc.${domain}`,
      type: 'TXT',
      value: 'v=DMARC1; p=quarantine',
      note: 'DMARC: receivers quarantine mail that passes neither SPF nor DKIM for the domain (p=none to watch first)',
    },
  ];
  if (https !== undefined)
    records.push(
      {
        name: `autoconfig.${domain}`,
        type: 'CNAME',
        value: host,
        note: "Thunderbird's autoconfig (https://autoconfig.<domain>/mail/config-v1.1.xml, or http:// if port 80 reaches Holdfast's HTTP listener)",
      },
      {
        name: `autodiscover.${domain}`,
        type: 'CNAME',
        value: host,
        note: "Outlook's autodiscover (its HTTPS needs a certificate naming autodiscover.<domain>; else the SRV below)",
      },
      srv(
        'autodiscover',
        0,
        https,
        `Outlook's autodiscover on ${config.hostname}, whose certificate it checks`,
        'MS-OXDSCLI',
      ),
    );
  records.push(
    srv('imaps', 0, ports.imaps, 'IMAP over TLS'),
    srv('imap', 10, ports.imap, 'IMAP with STARTTLS'),
    srv('pop3s', 20, ports.pop3s, 'POP3 over TLS'),
    srv('pop3', 30, ports.pop3, 'POP3 with STLS'),
    srv('submissions', 0, ports.submissions, 'mail submission over TLS', 'RFC 8314'),
    srv('submission', 10, ports.submission, 'mail submission with STARTTLS'),
    srv('caldavs', 0, https, 'CalDAV over HTTPS', 'RFC 6764'),
  );
  if (https !== undefined)
    records.push({
      name: `_caldavs._tcp.${domain}`,
      type: 'TXT',
      value: 'path=/dav/',
      note: 'CalDAV: where the service starts (RFC 6764)',
    });
  records.push(srv('carddavs', 0, https, 'CardDAV over HTTPS', 'RFC 6764'));
  if (https !== undefined)
    records.push({
      name: `_carddavs._tcp.${domain}`,
      type: 'TXT',
      value: 'path=/dav/',
      note: 'CardDAV: where the service starts (RFC 6764)',
    });
  return records;
}

/** A TXT value as a zone file holds it: quoted strings of at most 255 bytes each. */
function zoneValue(record: DnsRecord): string {
  if (record.type !== 'TXT') return record.value;
  const parts = record.value.match(/.{1,255}/g) ?? [''];
  return parts.map((p) => `"${p.replace(/["\\]/g, '\\$&')}"`).join(' ');
}

export const zoneLine = (record: DnsRecord) => `${record.name}. IN ${record.type} ${zoneValue(record)}`;

/** The records with their notes as comments (";", as zone files write them), ready to paste into a zone file. */
export const zoneText = (records: DnsRecord[]) => records.flatMap((r) => ['', `; ${r.note}`, zoneLine(r)]).join('\n');

// Checking -----------------------------------------------------------------------------------------

export interface RecordCheck extends DnsRecord {
  status: 'ok' | 'missing' | 'different' | 'unknown';
  /** What DNS holds of this kind (TXT of the same kind only: v=spf1, v=DKIM1…), in the same form as value. */
  found: string[];
  problem?: string;
}

const fqdn = (name: string) => (name === '' ? '.' : `${name.replace(/\.$/, '').toLowerCase()}.`);
const spaces = (text: string) => text.trim().replace(/\s+/g, ' ');

/** What DNS says for each record, through `dns` (the configured resolver). */
export async function checkRecords(dns: MailDns, records: DnsRecord[]): Promise<RecordCheck[]> {
  return Promise.all(records.map((record) => checkRecord(dns, record)));
}

async function checkRecord(dns: MailDns, record: DnsRecord): Promise<RecordCheck> {
  let found: string[];
  try {
    found = await lookup(dns, record);
  } catch (error) {
    if (isNameMissing(error)) found = [];
    else return { ...record, status: 'unknown', found: [], problem: (error as Error).message };
  }
  const key = (value: string) => essential(record.type, spaces(value).toLowerCase());
  if (found.some((f) => key(f) === key(record.value))) return { ...record, status: 'ok', found };
  // An SPF record of the domain's own that lets the MX host send is as good as ours.
  if (record.type === 'TXT' && record.value.startsWith('v=spf1') && found.some((f) => /\s(mx|\+mx)(\s|$)/i.test(f)))
    return { ...record, status: 'ok', found };
  return { ...record, status: found.length ? 'different' : 'missing', found };
}

/** What must match: the MX host (any preference), the SRV port and target (any priority and weight), else all. */
function essential(type: RecordType, value: string): string {
  if (type === 'MX') return value.split(' ').at(-1)!;
  if (type === 'SRV') return value.split(' ').slice(2).join(' ');
  return value;
}

/** TXT records of the same kind as the expected one (its first word: v=spf1, v=DKIM1, v=DMARC1, path=). */
function sameKind(record: DnsRecord, text: string): boolean {
  const kind = /^[^\s;=]+=[^\s;]*/.exec(record.value)?.[0] ?? '';
  if (kind.startsWith('path=')) return text.startsWith('path=');
  return text.toLowerCase().startsWith(kind.toLowerCase());
}

async function lookup(dns: MailDns, record: DnsRecord): Promise<string[]> {
  switch (record.type) {
    case 'MX':
      return (await dns.resolveMx(record.name)).map((mx) => `${mx.priority} ${fqdn(mx.exchange)}`);
    case 'TXT': {
      const answers = (await dns.resolve(record.name, 'TXT')) as string[][];
      return answers.map((chunks) => chunks.join('')).filter((text) => sameKind(record, text));
    }
    case 'CNAME':
      return ((await dns.resolve(record.name, 'CNAME')) as string[]).map(fqdn);
    case 'SRV':
      return (
        (await dns.resolve(record.name, 'SRV')) as { priority: number; weight: number; port: number; name: string }[]
      ).map((s) => `${s.priority} ${s.weight} ${s.port} ${fqdn(s.name)}`);
  }
}

/** A check as text: each record with its status, and what DNS holds where it differs. */
export function checkText(checks: RecordCheck[]): string {
  const lines = checks.flatMap((c) => {
    const head = `${c.status.toUpperCase().padEnd(9)} ${zoneLine(c)}`;
    if (c.status === 'ok') return [head];
    if (c.status === 'unknown') return [head, `          could not ask: ${c.problem}`];
    return [head, ...c.found.map((f) => `          found: ${f}`), `          ; ${c.note}`];
  });
  const bad = checks.filter((c) => c.status !== 'ok').length;
  return [
    ...lines,
    '',
    bad ? `${bad} of ${checks.length} records missing or different` : 'every record is published',
  ].join('\n');
}
