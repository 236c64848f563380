// Who a message says it is from, and whether Holdfast believes it: on submission the whole header is
// read and exactly one From with addresses the user may send as is required; on port 25 mail that
// claims one of our own domains must prove it (aligned SPF or DKIM) or come from a trusted relay.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { dkimSign } from 'mailauth';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { plainAuth, SmtpTalk } from '../helpers/smtp-talk.ts';

const password = 'Wonderland-42';
const message = (headers: string, subject: string) =>
  `${headers}To: bob@test.example\r\nSubject: ${subject}\r\n\r\nHello.\r\n`;

async function submission(t: TestNode, user = 'alice@test.example') {
  const { talk } = await SmtpTalk.open(t.port('submissions'), { tls: true });
  await talk.send('EHLO client.example');
  assert.match(await talk.send(`AUTH PLAIN ${plainAuth(user, password)}`), /^235 /);
  return talk;
}

async function mx(t: TestNode, envelopeFrom: string, content: string): Promise<string> {
  const { talk } = await SmtpTalk.open(t.port('smtp'));
  await talk.send('EHLO outside.example');
  assert.equal(await talk.send(`MAIL FROM:<${envelopeFrom}>`), '250 2.1.0 Accepted');
  assert.match(await talk.send('RCPT TO:<bob@test.example>'), /^250 /);
  const reply = await talk.data(content);
  talk.close();
  return reply;
}

const spoofed = (address: string) =>
  `550 5.7.1 Message rejected as spoofed: <${address}> is in test.example, a domain of this server, and the message passed neither SPF nor DKIM for test.example; senders of test.example use the submission port`;

for (const name of backendNames) {
  describe(`Sender identity on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    before(async () => {
      t = await startTestNode(name);
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
      await tenant.addPrincipal({ kind: 'user', address: 'bob@test.example', password });
    });
    after(() => t.stop());

    it('reads the whole header on submission: a From past the padding is not missed, a header past the limit is refused', async () => {
      const talk = await submission(t);
      await talk.send('MAIL FROM:<alice@test.example>');
      await talk.send('RCPT TO:<bob@test.example>');
      // 300 KB of padding, then the tenant admin's address: before, only the first 256 KiB were looked at.
      const padding = Array.from({ length: 3000 }, (_, i) => `X-Padding-${i}: ${'p'.repeat(90)}\r\n`).join('');
      assert.equal(
        await talk.data(message(`From: alice@test.example\r\n${padding}From: admin@test.example\r\n`, 'padded')),
        '552 5.3.4 Message header size exceeds fixed maximum header size (262144 bytes)',
      );
      await talk.send('MAIL FROM:<alice@test.example>');
      await talk.send('RCPT TO:<bob@test.example>');
      const short = Array.from({ length: 30 }, (_, i) => `X-Padding-${i}: ${'p'.repeat(90)}\r\n`).join('');
      assert.equal(
        await talk.data(message(`From: alice@test.example\r\n${short}From: admin@test.example\r\n`, 'two authors')),
        '553 5.7.1 Message rejected: it has 2 From headers; a message needs exactly one, naming its author',
      );
      talk.close();
      assert.ok(
        !(await t.mailbox('bob@test.example')).some((m) => /Subject: (padded|two authors)/.test(m.text)),
        'nothing was delivered',
      );
    });

    it('requires exactly one From on submission, naming addresses the user may send as', async () => {
      const talk = await submission(t);
      const cases: [string, string][] = [
        ['', '553 5.7.1 Message rejected: it has no From header; a message needs exactly one, naming its author'],
        [
          'From: alice@test.example\r\nFrom: alice@test.example\r\n',
          '553 5.7.1 Message rejected: it has 2 From headers; a message needs exactly one, naming its author',
        ],
        [
          'From: Undisclosed:;\r\n',
          '553 5.7.1 From header rejected: a group ("Undisclosed:;") names no author; give an address alice@test.example may send as',
        ],
        [
          'From: Team: alice@test.example;\r\n',
          '553 5.7.1 From header rejected: a group ("Team: alice@test.example;") names no author; give an address alice@test.example may send as',
        ],
        [
          'From: "Alice" <>\r\n',
          '553 5.7.1 From header rejected: it names no address; give an address alice@test.example may send as',
        ],
        [
          'From: alice@test.example, admin@test.example\r\n',
          '553 5.7.1 From header rejected: <admin@test.example> is not an address alice@test.example may send as',
        ],
      ];
      for (const [headers, reply] of cases) {
        await talk.send('MAIL FROM:<alice@test.example>');
        await talk.send('RCPT TO:<bob@test.example>');
        assert.equal(await talk.data(message(headers, 'refused')), reply, JSON.stringify(headers));
      }
      await talk.send('MAIL FROM:<alice@test.example>');
      await talk.send('RCPT TO:<bob@test.example>');
      assert.match(
        await talk.data(message('From: "Alice" <alice@test.example>\r\n', 'one author')),
        /^250 2\.0\.0 Ok: queued as \d+/,
      );
      talk.close();
      await t.waitFor(
        async () => (await t.mailbox('bob@test.example')).some((m) => m.text.includes('Subject: one author')),
        'the accepted message',
      );
      assert.ok(!(await t.mailbox('bob@test.example')).some((m) => m.text.includes('Subject: refused')));
    });

    it('refuses mail from outside that claims a hosted domain without SPF or DKIM for it', async () => {
      assert.equal(
        await mx(t, 'alice@test.example', message('From: alice@test.example\r\n', 'spoofed envelope')),
        spoofed('alice@test.example'),
      );
      assert.equal(
        await mx(t, 'someone@remote.example', message('From: "IT desk" <admin@test.example>\r\n', 'spoofed From')),
        spoofed('admin@test.example'),
      );
      assert.equal(
        await mx(t, '', message('From: admin@test.example\r\n', 'spoofed bounce')),
        spoofed('admin@test.example'),
      );
      // The header is capped on port 25 too, so a From cannot hide beyond what is read.
      const padding = Array.from({ length: 3000 }, (_, i) => `X-Padding-${i}: ${'p'.repeat(90)}\r\n`).join('');
      assert.equal(
        await mx(
          t,
          'someone@remote.example',
          message(`From: someone@remote.example\r\n${padding}From: admin@test.example\r\n`, 'hidden'),
        ),
        '552 5.3.4 Message header size exceeds fixed maximum header size (262144 bytes)',
      );
      // Mail from other domains is not affected.
      assert.match(
        await mx(t, 'someone@remote.example', message('From: someone@remote.example\r\n', 'from outside')),
        /^250 /,
      );
      await t.waitFor(
        async () => (await t.mailbox('bob@test.example')).some((m) => m.text.includes('Subject: from outside')),
        'the outside message',
      );
      assert.ok(!(await t.mailbox('bob@test.example')).some((m) => /Subject: (spoofed|hidden)/.test(m.text)));
    });

    it('defers instead of refusing when SPF for the hosted domain cannot be looked up (DNS error)', async () => {
      // A domain of its own: answers about test.example are cached from the tests before.
      await (await t.node.holdfast.directory.tenant('default')).addDomain('dns-trouble.example');
      t.dns.failing.add('dns-trouble.example');
      try {
        assert.equal(
          await mx(t, 'carl@dns-trouble.example', message('From: carl@dns-trouble.example\r\n', 'dns trouble')),
          '451 4.4.3 Message not accepted for now: SPF and DKIM for dns-trouble.example could not be checked (a DNS error); try again later',
        );
      } finally {
        t.dns.failing.delete('dns-trouble.example');
      }
    });

    it('accepts mail for a hosted domain that passes DKIM aligned with it, or SPF', async () => {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      t.dns.set('outside._domainkey.test.example', {
        TXT: [`v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`],
      });
      const unsigned = message(
        'From: alice@test.example\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <dkim-1@test.example>\r\n',
        'signed elsewhere',
      );
      const signed = await dkimSign(unsigned, {
        signatureData: [
          {
            signingDomain: 'test.example',
            selector: 'outside',
            privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }),
          },
        ],
      } as never);
      assert.match(await mx(t, 'bounces@remote.example', signed.signatures + unsigned), /^250 /);
      // A signature of another domain proves nothing for test.example.
      t.dns.set('outside._domainkey.remote.example', {
        TXT: [`v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`],
      });
      const other = await dkimSign(unsigned, {
        signatureData: [
          {
            signingDomain: 'remote.example',
            selector: 'outside',
            privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }),
          },
        ],
      } as never);
      assert.equal(await mx(t, 'bounces@remote.example', other.signatures + unsigned), spoofed('alice@test.example'));

      // SPF passes for the envelope's domain, a subdomain of test.example: aligned (relaxed, RFC 7489).
      t.dns.set('lists.test.example', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
      assert.match(
        await mx(t, 'bounces@lists.test.example', message('From: alice@test.example\r\n', 'spf passes')),
        /^250 /,
      );
      await t.waitFor(
        async () =>
          (await t.mailbox('bob@test.example')).filter((m) => /Subject: (signed elsewhere|spf passes)/.test(m.text))
            .length === 2,
        'both proved messages',
      );
    });
  });
}

describe('Trusted relays', () => {
  it('accepts mail claiming a hosted domain from a server listed in smtp.trusted_relays', async () => {
    const t = await startTestNode('sqlite', { toml: '[smtp]\ntrusted_relays = ["192.0.2.0/24", "127.0.0.0/8"]\n' });
    try {
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'bob@test.example', password });
      assert.match(
        await mx(t, 'alice@test.example', message('From: alice@test.example\r\n', 'via the continuity upstream')),
        /^250 /,
      );
      await t.waitFor(
        async () =>
          (await t.mailbox('bob@test.example')).some((m) => m.text.includes('Subject: via the continuity upstream')),
        'the relayed message',
      );
    } finally {
      await t.stop();
    }
  });
});
