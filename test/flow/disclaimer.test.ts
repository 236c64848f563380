// The organisation's disclaimer at submission, end to end on both backends: a user sends through
// the submission port (nodemailer), the fake remote MX (loopback, found through the DNS stub)
// records what leaves. The disclaimer is in the text and the HTML alternative, the DKIM signature
// made after it verifies, mail sent through JMAP gets it too, signed mail leaves unchanged, and
// without a disclaimer nothing is added.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authenticate } from 'mailauth';
import { simpleParser } from 'mailparser';
import { setTenantDisclaimer } from '../../src/directory/tenant-settings.ts';
import { DkimKeys, dnsRecordName, dnsRecordValue } from '../../src/flow/dkim-keys.ts';
import { createMailDns } from '../../src/flow/dns.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import { submission } from '../helpers/submission.ts';
import { type JmapTestNode, password, startJmapNode } from '../jmap/jmap-test-node.ts';

const alice = 'alice@test.example';
const notice = 'Confidential: for the addressee only.\nContoso Ltd, Zürich';

for (const name of backendNames) {
  describe(`the organisation disclaimer on ${name}`, { skip: skipFor(name) }, () => {
    let j: JmapTestNode;
    let mx: FakeMx;
    let tenantId = 0;
    const atMx = (subject: string) =>
      j.t.waitFor(
        async () => mx.received.find((m) => m.data.includes(`Subject: ${subject}\r\n`)),
        `"${subject}" at the MX`,
      );

    before(async () => {
      mx = await new FakeMx().start();
      j = await startJmapNode(name, [alice], {
        toml: ['[queue]', 'poll_interval = "100ms"', `remote_port = ${mx.port}`, ''].join('\n'),
      });
      j.t.dns.set('remote.example', { MX: [{ exchange: 'mx.remote.example', priority: 10 }] });
      j.t.dns.set('mx.remote.example', { A: ['127.0.0.1'] });
      tenantId = (await j.t.node.holdfast.directory.getTenant('default')).id;
      await setTenantDisclaimer(j.t.node.holdfast.store.db, tenantId, notice, Date.now());
    });
    after(async () => {
      await j.t.stop();
      await mx.stop();
    });

    it('appends it to the text and the HTML, and signs the message with it', async () => {
      await submission(j.t.port('submissions'), alice, password).sendMail({
        from: alice,
        to: 'frank@remote.example',
        subject: 'Offer',
        text: 'Dear Frank,\nhere is our offer.',
        html: '<html><body><p>Dear Frank,</p><p>here is our offer.</p></body></html>',
      });
      const got = await atMx('Offer');
      const parsed = await simpleParser(got.data);
      assert.match(parsed.text!, /here is our offer\.\n\nConfidential: for the addressee only\.\nContoso Ltd, Zürich/);
      assert.match(
        String(parsed.html),
        /<p>here is our offer\.<\/p><div class="disclaimer"><p>Confidential: for the addressee only\.<br>\r?\nContoso Ltd, Zürich<\/p><\/div>/,
      );
      const key = await new DkimKeys(j.t.node.holdfast.store.db).active('test.example');
      j.t.dns.set(dnsRecordName(key), { TXT: [dnsRecordValue(key)] });
      const verdict = await authenticate(got.data, {
        ip: '127.0.0.1',
        helo: 'mail.test.example',
        sender: alice,
        mta: 'mx.remote.example',
        resolver: createMailDns([j.t.dns.server]).resolve as never,
      });
      assert.equal((verdict.dkim as { results: { status: { result: string } }[] }).results[0]!.status.result, 'pass');
    });

    it('leaves signed mail as it is', async () => {
      const body =
        '--s\r\nContent-Type: text/plain\r\n\r\nSigned words\r\n--s\r\nContent-Type: application/pkcs7-signature\r\n\r\nMIAG\r\n--s--\r\n';
      await submission(j.t.port('submissions'), alice, password).sendMail({
        envelope: { from: alice, to: ['frank@remote.example'] },
        raw: `From: ${alice}\r\nTo: frank@remote.example\r\nSubject: Signed\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="s"\r\n\r\n${body}`,
      });
      const got = await atMx('Signed');
      assert.ok(got.data.endsWith(body), 'the body is as it was sent');
    });

    it('appends it to mail sent through JMAP (the web app) as well', async () => {
      const roles = await j.mailboxRoles();
      const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', 'urn:ietf:params:jmap:submission'];
      const [[, identities]] = await j.call([['Identity/get', { accountId: j.accountId }, 'i']], undefined, using);
      const [[, set], [, sent]] = await j.call(
        [
          [
            'Email/set',
            {
              accountId: j.accountId,
              create: {
                d: {
                  mailboxIds: { [roles.drafts!]: true },
                  keywords: { $draft: true },
                  from: [{ email: alice }],
                  to: [{ email: 'frank@remote.example' }],
                  subject: 'From the web app',
                  textBody: [{ partId: '1', type: 'text/plain' }],
                  bodyValues: { '1': { value: 'Written in the browser.' } },
                },
              },
            },
            'e',
          ],
          [
            'EmailSubmission/set',
            { accountId: j.accountId, create: { s: { identityId: identities.list[0].id, emailId: '#d' } } },
            's',
          ],
        ],
        undefined,
        using,
      );
      assert.equal(set.notCreated, null, JSON.stringify(set.notCreated));
      assert.equal(sent.notCreated, null, JSON.stringify(sent.notCreated));
      const parsed = await simpleParser((await atMx('From the web app')).data);
      assert.match(parsed.text!, /Written in the browser\.\n\nConfidential: for the addressee only\./);
    });

    it('adds nothing once it is removed', async () => {
      await setTenantDisclaimer(j.t.node.holdfast.store.db, tenantId, undefined, Date.now());
      await submission(j.t.port('submissions'), alice, password).sendMail({
        from: alice,
        to: 'frank@remote.example',
        subject: 'Plain again',
        text: 'No notice here.',
      });
      assert.doesNotMatch((await atMx('Plain again')).data, /Confidential/);
    });
  });
}
