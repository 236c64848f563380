// `holdfast domain dns <domain>`: every record a domain needs, built from the configuration (host
// name, the ports of the listeners that are on) and its DKIM key; `--check` looks each up through
// the configured resolver (a stub on loopback here, answering MX, TXT, CNAME and SRV) and says which
// are missing or different. Needs `npm run build` (it runs the real command).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createBackend, type TestBackend } from '../helpers/backends.ts';
import { cliOn, initHoldfast } from '../helpers/cli.ts';
import { DnsStub } from '../helpers/dns-stub.ts';

interface Rec {
  name: string;
  type: string;
  value: string;
  note: string;
}

describe('holdfast domain dns', () => {
  let backend: TestBackend;
  let env: Record<string, string>;
  const dns = new DnsStub();
  const { holdfast, json } = cliOn(() => env);

  before(async () => {
    backend = await createBackend('sqlite');
    await dns.start();
    const toml = join(backend.dataDir, 'holdfast.toml');
    await writeFile(
      toml,
      '[[continuity.upstream]]\nname = "exo"\ndomains = ["contoso.example"]\nurl = "smtp://127.0.0.1:9"\n',
    );
    env = {
      HOLDFAST_CONFIG: toml,
      HOLDFAST_DATA_DIR: backend.dataDir,
      HOLDFAST_DATABASE_URL: backend.databaseUrl,
      HOLDFAST_HOSTNAME: 'mail.example.net',
      HOLDFAST_DOMAIN: 'example.com',
      HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42',
      HOLDFAST_DNS_SERVERS: `127.0.0.1:${dns.port}`,
      HOLDFAST_IMAPS_PORT: '993',
      HOLDFAST_IMAP_PORT: '143',
      HOLDFAST_POP3S_PORT: '995',
      HOLDFAST_POP3_PORT: 'off',
      HOLDFAST_SUBMISSIONS_PORT: '465',
      HOLDFAST_SUBMISSION_PORT: '587',
      HOLDFAST_HTTPS_PORT: '443',
    };
    await initHoldfast(env);
    await json('domain', 'add', 'contoso.example');
  });
  after(async () => {
    dns.stop();
    await backend.cleanup();
  });

  it('prints every record the domain needs, from the configuration and the DKIM key', async () => {
    const records: Rec[] = await json('domain', 'dns', 'example.com');
    const lines = records.map(
      (r) => `${r.name} ${r.type} ${r.type === 'TXT' && r.value.startsWith('v=DKIM1') ? 'DKIM' : r.value}`,
    );
    const [dkim] = await json('dkim', 'show', 'example.com');
    assert.deepEqual(lines, [
      'example.com MX 10 mail.example.net.',
      'example.com TXT v=spf1 mx -all',
      `${dkim.name} TXT DKIM`,
      '_dmarc.example.com TXT v=DMARC1; p=quarantine',
      'autoconfig.example.com CNAME mail.example.net.',
      'autodiscover.example.com CNAME mail.example.net.',
      '_autodiscover._tcp.example.com SRV 0 1 443 mail.example.net.',
      '_imaps._tcp.example.com SRV 0 1 993 mail.example.net.',
      '_imap._tcp.example.com SRV 10 1 143 mail.example.net.',
      '_pop3s._tcp.example.com SRV 20 1 995 mail.example.net.',
      '_pop3._tcp.example.com SRV 0 0 0 .',
      '_submissions._tcp.example.com SRV 0 1 465 mail.example.net.',
      '_submission._tcp.example.com SRV 10 1 587 mail.example.net.',
      '_caldavs._tcp.example.com SRV 0 1 443 mail.example.net.',
      '_caldavs._tcp.example.com TXT path=/dav/',
      '_carddavs._tcp.example.com SRV 0 1 443 mail.example.net.',
      '_carddavs._tcp.example.com TXT path=/dav/',
    ]);
    assert.equal(records[2]!.value, dkim.value, 'the key `holdfast dkim show` prints, which signing uses');
    const text = await holdfast('domain', 'dns', 'example.com');
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^example\.com\. IN MX 10 mail\.example\.net\.$/m);
    assert.match(text.stdout, /^; IMAP over TLS \(RFC 6186\)$/m);
    // A DKIM key is longer than one TXT string may be: the zone line splits it into quoted strings.
    const dkimLine = text.stdout.split('\n').find((l) => l.startsWith(`${dkim.name}.`))!;
    assert.match(dkimLine, /^\S+ IN TXT "v=DKIM1; k=rsa; p=[^"]{200,}" "[^"]+"/);
    assert.ok(dkimLine.match(/"[^"]*"/g)!.every((s) => s.length - 2 <= 255));
  });

  it('refuses a domain not served here, and prints a continuity domain what `continuity dns` prints', async () => {
    const unknown = await holdfast('domain', 'dns', 'elsewhere.example', '--json');
    assert.equal(unknown.code, 1);
    assert.equal(JSON.parse(unknown.stdout).error.code, 'unknown-domain');
    assert.deepEqual(
      await json('domain', 'dns', 'contoso.example'),
      await json('continuity', 'dns', 'contoso.example'),
    );
  });

  it('--check says which records are missing or different, through the configured resolver', async () => {
    const records: Rec[] = await json('domain', 'dns', 'example.com');
    const first = await holdfast('domain', 'dns', 'example.com', '--check', '--json');
    assert.equal(first.code, 1);
    const missing = JSON.parse(first.stdout) as { status: string }[];
    assert.ok(missing.every((c) => c.status === 'missing'));
    // Published as printed, with an SPF of the domain's own that lets the MX send, and other SRV priorities.
    const zone = records.map((r) => ({ ...r }));
    zone[1]!.value = 'v=spf1 mx include:_spf.example.org ~all';
    zone.find((r) => r.name === '_imaps._tcp.example.com')!.value = '5 10 993 mail.example.net.';
    zone.push({ name: '_dmarc.example.com', type: 'TXT', value: 'not a dmarc record', note: '' });
    dns.zone(zone);
    const checked = await holdfast('domain', 'dns', 'example.com', '--check');
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.match(checked.stdout, /every record is published/);
    // One wrong: autodiscover points elsewhere, the MX is another host.
    zone.find((r) => r.name === 'autodiscover.example.com')!.value = 'autodiscover.outlook.com.';
    zone[0]!.value = '10 mx.elsewhere.example.';
    dns.zone(zone);
    const wrong = await holdfast('domain', 'dns', 'example.com', '--check');
    assert.equal(wrong.code, 1);
    assert.match(
      wrong.stdout,
      /^DIFFERENT autodiscover\.example\.com\. IN CNAME mail\.example\.net\.\n\s+found: autodiscover\.outlook\.com\./m,
    );
    assert.match(
      wrong.stdout,
      /^DIFFERENT example\.com\. IN MX 10 mail\.example\.net\.\n\s+found: 10 mx\.elsewhere\.example\./m,
    );
    assert.match(wrong.stdout, /2 of 17 records missing or different/);
  });
});
