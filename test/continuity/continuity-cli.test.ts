// holdfast continuity: users from an Exchange mailbox export (quoted fields, proxy addresses, a
// #TYPE line, a bad row), status, an event started and ended by hand, the DNS records, and the
// [continuity] settings' refusals; and the rules that start and end events, read alone.
import assert from 'node:assert/strict';
import { stat, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { decide } from '../../src/continuity/event-rules.ts';
import { parseMailboxExport } from '../../src/continuity/mailbox-export.ts';
import { emptyRecord, observe } from '../../src/continuity/upstream-record.ts';
import { backendNames, createBackend, skipFor, tempDir, type TestBackend } from '../helpers/backends.ts';
import { cliOn, initHoldfast } from '../helpers/cli.ts';

const exportCsv = [
  '#TYPE Selected.Microsoft.Exchange.Data.Directory.Management.Mailbox',
  '"DisplayName","PrimarySmtpAddress","EmailAddresses"',
  '"Alice Able","alice@contoso.example","SMTP:alice@contoso.example;smtp:alice.able@contoso.example;smtp:alice@contoso.onmicrosoft.com;X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=abc"',
  '"Smith, Bob","Bob@Contoso.example","SMTP:bob@contoso.example;SIP:bob@contoso.example"',
  '"Nobody","not an address",""',
  '"Elsewhere","carol@fabrikam.example",""',
].join('\r\n');

describe('mailbox export and event rules', () => {
  it('reads an Exchange mailbox export', () => {
    const { mailboxes, problems } = parseMailboxExport(`\uFEFF${exportCsv}`);
    assert.deepEqual(
      mailboxes.map((m) => [m.displayName, m.primary, m.proxies]),
      [
        ['Alice Able', 'alice@contoso.example', ['alice.able@contoso.example', 'alice@contoso.onmicrosoft.com']],
        ['Smith, Bob', 'bob@contoso.example', []],
        ['Elsewhere', 'carol@fabrikam.example', []],
      ],
    );
    assert.deepEqual(problems, [{ line: 5, problem: '"not an address" is not an email address' }]);
    assert.throws(() => parseMailboxExport('Name,Mail\nx,y\n'), /names no primary address column/);
    assert.throws(() => parseMailboxExport('PrimarySmtpAddress\n"unclosed\n'), /quoted field is not closed/);
  });

  it('starts an event after activate_after of failures, and recovers at the first success', () => {
    const fail = (at: number) => ({ at, ok: false, reply: '421 4.3.2 resource forest', source: 'probe' as const });
    let record = [fail(1000), fail(5000)].reduce(observe, emptyRecord('x'));
    assert.equal(record.failingSince, 1000);
    assert.equal(record.lastReplies.length, 1, 'the same reply twice is one line');
    assert.deepEqual(decide(record, undefined, 5000, 10_000), { kind: 'none' });
    assert.equal(decide(record, undefined, 11_000, 10_000).kind, 'start');
    // One success between failures starts the run again.
    record = observe(record, { at: 6000, ok: true, reply: '250 ok', source: 'delivery' });
    assert.equal(record.failingSince, null);
    record = observe(record, fail(7000));
    assert.deepEqual(decide(record, undefined, 12_000, 10_000), { kind: 'none' });
    const event = {
      id: 1,
      upstream: 'x',
      state: 'active' as const,
      startedBy: 'automatic' as const,
      reason: '',
      startedAt: 0,
      recoveringSince: null,
      endedAt: null,
      copyCursor: 0,
      issueId: null,
      postedState: null,
    };
    assert.equal(decide(record, event, 20_000, 10_000).kind, 'none', 'still failing');
    const back = observe(record, { at: 21_000, ok: true, reply: '250 ok', source: 'probe' });
    assert.equal(decide(back, event, 21_000, 10_000).kind, 'recover');
    assert.equal(decide(back, { ...event, startedBy: 'admin' }, 21_000, 10_000).kind, 'none', 'only stop ends it');
    assert.equal(
      decide(back, { ...event, state: 'recovering', recoveringSince: 21_000 }, 22_000, 10_000).kind,
      'replay',
    );
  });
});

describe('[continuity] settings', () => {
  it('names the key, the value and what is allowed', async () => {
    const dir = await tempDir();
    const config = (toml: string) => {
      const file = join(dir, 'holdfast.toml');
      return writeFile(file, toml).then(() => () => loadConfig({ env: { HOLDFAST_CONFIG: file }, cwd: dir }));
    };
    assert.throws(
      await config('[[continuity.upstream]]\ndomains = ["*"]\nurl = "smtp://upstream.example"\n'),
      /continuity\.upstream\.0\.domains = \["\*"\] is not allowed: expected a list of domain names/,
    );
    assert.throws(
      await config(
        '[[continuity.upstream]]\ndomains = ["a.example"]\nurl = "smtp://one.example"\n[[continuity.upstream]]\ndomains = ["a.example"]\nurl = "smtp://two.example"\n',
      ),
      /continuity\.upstream\[1\]\.domains = \["a\.example"\] is not allowed: a\.example is already a domain of continuity\.upstream\[0\]/,
    );
    assert.throws(
      await config('[continuity]\nactivate_after = "soon"\n'),
      /continuity\.activate_after = "soon" is not allowed: expected a duration/,
    );
    const ok = (await config('[[continuity.upstream]]\ndomains = ["A.example"]\nurl = "smtp://up.example:2525"\n'))();
    assert.deepEqual(ok.continuity.upstreams[0]!.domains, ['a.example']);
    assert.equal(ok.continuity.activateAfterMs, 600_000);
    assert.equal(ok.relays[0]!.url.host, 'up.example:2525', 'the upstream is the relay route of its domains');
    const upstream =
      '[[continuity.upstream]]\ndomains = ["a.example"]\nurl = "smtp://up.example"\n[continuity.upstream.sent]\n';
    assert.throws(
      await config(`${upstream}url = "imaps://imap.example"\n`),
      /continuity\.upstream\[0\]\.sent is not allowed as given: sign in either as a master user .* or with per-user sent\.credentials/,
    );
    assert.throws(
      await config(`${upstream}url = "https://imap.example"\ncredentials = "creds.csv"\n`),
      /continuity\.upstream\.0\.sent\.url = "https:\/\/imap\.example" is not allowed: expected an "imaps:/,
    );
    const sent = (await config(`${upstream}url = "imaps://master:secret@imap.example"\nfolder = "Sent Items"\n`))();
    assert.equal(sent.continuity.upstreams[0]!.sent?.url.username, 'master');
    assert.equal(sent.continuity.upstreams[0]!.sent?.folder, 'Sent Items');
    assert.equal(sent.continuity.upstreams[0]!.sent?.tlsVerify, true);
  });
});

for (const name of backendNames) {
  describe(`holdfast continuity on ${name}`, { skip: skipFor(name) }, () => {
    let backend: TestBackend;
    let env: Record<string, string>;
    const { holdfast, json } = cliOn(() => env);

    before(async () => {
      backend = await createBackend(name);
      const toml = join(backend.dataDir, 'holdfast.toml');
      await writeFile(
        toml,
        '[[continuity.upstream]]\nname = "exo"\ndomains = ["contoso.example"]\nurl = "smtp://127.0.0.1:9"\n',
      );
      env = {
        HOLDFAST_CONFIG: toml,
        HOLDFAST_DATA_DIR: backend.dataDir,
        HOLDFAST_DATABASE_URL: backend.databaseUrl,
        HOLDFAST_DOMAIN: 'set.example',
        HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42',
      };
      await initHoldfast(env);
      await json('domain', 'add', 'contoso.example');
    });
    after(() => backend.cleanup());

    it('imports users from a mailbox export, once', async () => {
      const csv = join(backend.dataDir, 'users.csv');
      const passwords = join(backend.dataDir, 'passwords.csv');
      await writeFile(csv, exportCsv);
      const first = await holdfast('continuity', 'user', 'import', csv, '--passwords', passwords, '--json');
      assert.equal(first.code, 1, 'a bad row and a foreign domain are reported');
      const report = JSON.parse(first.stdout);
      assert.deepEqual(
        report.users.map((u: { address: string; outcome: string; aliasesAdded: string[] }) => [
          u.address,
          u.outcome,
          u.aliasesAdded,
        ]),
        [
          ['alice@contoso.example', 'created', ['alice.able@contoso.example']],
          ['bob@contoso.example', 'created', []],
          ['carol@fabrikam.example', 'skipped', []],
        ],
      );
      assert.ok(report.users.every((u: { password?: string }) => u.password === undefined));
      assert.equal((await stat(passwords)).mode & 0o777, 0o600);
      assert.match(await readFile(passwords, 'utf8'), /^address,password\nalice@contoso\.example,\S{20}\nbob@/);
      const users = await json('user', 'list', '--domain', 'contoso.example');
      assert.deepEqual(
        users.map((u: { address: string; displayName: string }) => [u.address, u.displayName]),
        [
          ['alice@contoso.example', 'Alice Able'],
          ['bob@contoso.example', 'Smith, Bob'],
        ],
      );
      const again = JSON.parse((await holdfast('continuity', 'user', 'import', csv, '--json')).stdout);
      assert.deepEqual(
        again.users.map((u: { outcome: string }) => u.outcome),
        ['unchanged', 'unchanged', 'skipped'],
      );
    });

    it('starts and ends an event by hand', async () => {
      const [normal] = await json('continuity', 'status');
      assert.equal(normal.state, 'normal');
      assert.equal(normal.server, '127.0.0.1:9');
      const started = await json('continuity', 'start', '--reason', 'users cannot open Outlook');
      assert.equal(started.started, true);
      assert.equal((await json('continuity', 'start')).started, false);
      const [active] = await json('continuity', 'status');
      assert.deepEqual(
        [active.state, active.event.startedBy, active.event.reason],
        ['active', 'admin', 'users cannot open Outlook'],
      );
      const stopped = await json('continuity', 'stop');
      assert.equal(stopped.state, 'recovering');
      const text = await holdfast('continuity', 'status');
      assert.match(text.stdout, /^exo \(127\.0\.0\.1:9\) for contoso\.example: recovering since /);
      const wrong = await holdfast('continuity', 'stop', '--upstream', 'nope', '--json');
      assert.match(JSON.parse(wrong.stdout).error.message, /--upstream = "nope" is not allowed: expected one of exo/);
    });

    it('prints the SPF and DKIM records of a continuity domain', async () => {
      const records = await json('continuity', 'dns', 'contoso.example');
      assert.match(records[1].name, /\._domainkey\.contoso\.example$/);
      const other = await holdfast('continuity', 'dns', 'set.example', '--json');
      assert.match(JSON.parse(other.stdout).error.message, /set\.example is not a continuity domain/);
    });
  });
}
