// Forwarding by a user's rules, end to end on both backends: mail from outside arrives by SMTP on the
// MX port (nodemailer), the user's Sieve script redirects it, and the fake remote MX (loopback, found
// through the DNS stub) records what leaves. SRS: the envelope sender of a forward to another domain
// is rewritten (the null sender stays null, a forward to a local user keeps it); a bounce to the SRS
// address reaches the original sender, one with a wrong hash or too old is refused with 550 5.1.1.
// A tenant that blocks external forwarding: the forward is not sent, the message stays in the INBOX
// and the user is told why; forwards inside the organisation still go.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { setTenantSettings } from '../../src/directory/tenant-settings.ts';
import { srsMaxAgeDays } from '../../src/flow/srs.ts';
import { activateScript, putScript } from '../../src/sieve/sieve-scripts.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import { type JmapTestNode, password, startJmapNode } from '../jmap/jmap-test-node.ts';

const alice = 'alice@test.example';
const bob = 'bob@test.example';
const olga = 'olga@other.example';

for (const name of backendNames) {
  describe(`forwarding on ${name}`, { skip: skipFor(name) }, () => {
    let j: JmapTestNode;
    let mx: FakeMx;
    let sent = 0;

    const install = async (address: string, script: string) => {
      const db = j.t.node.holdfast.store.db;
      const row = await db
        .selectFrom('principals')
        .select('id')
        .where('address', '=', address)
        .executeTakeFirstOrThrow();
      await putScript(db, Number(row.id), 'rules', script, Date.now());
      await activateScript(db, Number(row.id), 'rules', Date.now());
    };
    /** Mail through the MX port; the SMTP error, if any recipient was refused. */
    const smtp = async (from: string, to: string, subject: string) => {
      sent++;
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: j.t.port('smtp'),
        secure: false,
        ignoreTLS: true,
      });
      const raw = `From: ${from || 'MAILER-DAEMON@origin.example'}\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <f${sent}.${Date.now()}@origin.example>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\n\r\nHello\r\n`;
      try {
        await transport.sendMail({ envelope: { from, to: [to] }, raw });
        return undefined;
      } catch (error) {
        return error as Error & { responseCode?: number; response?: string };
      } finally {
        transport.close();
      }
    };
    const atMx = (subject: string) => mx.received.filter((m) => m.data.includes(`Subject: ${subject}\r\n`));
    const waitAtMx = (subject: string) => j.t.waitFor(async () => atMx(subject)[0], `"${subject}" at the remote MX`);
    const inInbox = (address: string, subject: string) =>
      j.t.waitFor(
        async () => (await j.t.mailbox(address)).find((m) => m.text.includes(`Subject: ${subject}\r\n`)),
        `"${subject}" in ${address}'s INBOX`,
      );

    before(async () => {
      mx = await new FakeMx().start();
      j = await startJmapNode(name, [alice, bob], {
        toml: ['[queue]', 'poll_interval = "100ms"', `remote_port = ${mx.port}`, ''].join('\n'),
      });
      for (const domain of ['remote.example', 'origin.example'])
        j.t.dns.set(domain, { MX: [{ exchange: 'mx.remote.example', priority: 10 }] });
      j.t.dns.set('mx.remote.example', { A: ['127.0.0.1'] });
      const directory = j.t.node.holdfast.directory;
      await directory.addTenant({ name: 'other', forest: 'default' });
      const other = await directory.tenant('other');
      await other.addDomain('other.example');
      await other.addPrincipal({ kind: 'user', address: olga, password });
    });
    after(async () => {
      await j.t.stop();
      await mx.stop();
    });

    it('forwards to another domain with an SRS sender; a local forward keeps the sender', async () => {
      await install(
        alice,
        `require ["copy"];
         if header :is "subject" "Local" { redirect "${bob}"; stop; }
         redirect :copy "frank@remote.example";`,
      );
      assert.equal(await smtp('erin@origin.example', alice, 'Quarterly figures'), undefined);
      const out = await waitAtMx('Quarterly figures');
      assert.deepEqual(out.to, ['frank@remote.example']);
      assert.match(out.from, /^SRS0=[a-z2-7]{5}=[A-Z2-7]{2}=origin\.example=erin@test\.example$/);
      assert.match(out.data, /^Delivered-To: alice@test\.example\r$/m);
      await inInbox(alice, 'Quarterly figures');

      assert.equal(await smtp('erin@origin.example', alice, 'Local'), undefined);
      const local = await inInbox(bob, 'Local');
      assert.match(local.text, /^Return-Path: <erin@origin\.example>\r$/m);
    });

    it('keeps the null sender null', async () => {
      await install(alice, 'redirect "frank@remote.example";');
      assert.equal(await smtp('', alice, 'A bounce passed on'), undefined);
      const out = await waitAtMx('A bounce passed on');
      assert.equal(out.from, '');
    });

    it('passes a bounce to the SRS address on to the original sender, and refuses a forged or old one', async () => {
      await install(alice, 'redirect "frank@remote.example";');
      assert.equal(await smtp('grace@origin.example', alice, 'Will bounce'), undefined);
      const srsAddress = (await waitAtMx('Will bounce')).from;

      assert.equal(await smtp('', srsAddress, 'Undelivered Mail Returned to Sender'), undefined);
      const bounce = await waitAtMx('Undelivered Mail Returned to Sender');
      assert.deepEqual([bounce.from, bounce.to], ['', ['grace@origin.example']]);

      const [local, domain] = [srsAddress.slice(0, srsAddress.indexOf('@')), srsAddress.split('@')[1]];
      const forged = `${local.replace(/^SRS0=([a-z2-7]{5})=/, (_m, h: string) => `SRS0=${h === 'aaaaa' ? 'bbbbb' : 'aaaaa'}=`)}@${domain}`;
      const refused = await smtp('', forged, 'Forged bounce');
      assert.equal(refused?.responseCode, 550);
      assert.match(String(refused?.response), /5\.1\.1/);
      const other = await smtp(
        'spammer@origin.example',
        `${local.replace('=grace', '=victim')}@test.example`,
        'Relay?',
      );
      assert.equal(other?.responseCode, 550, 'the hash covers the original address: no relaying through it');

      j.t.clock.advance((srsMaxAgeDays + 1) * 86_400_000);
      try {
        const old = await smtp('', srsAddress, 'Old bounce');
        assert.equal(old?.responseCode, 550);
      } finally {
        j.t.clock.advance(-(srsMaxAgeDays + 1) * 86_400_000);
      }
    });

    it("tells the original sender when the next server refuses a forward (the queue's own report)", async () => {
      await install(alice, 'redirect "refuses@remote.example";');
      mx.script.rcpt = (address) =>
        address === 'refuses@remote.example' ? { code: 550, message: '5.1.1 no such user here' } : undefined;
      try {
        assert.equal(await smtp('henry@origin.example', alice, 'Forward refused'), undefined);
        const report = await j.t.waitFor(
          async () => mx.received.find((m) => m.to.includes('henry@origin.example') && m.from === ''),
          "the delivery report at the original sender's server",
        );
        assert.match(report.data, /^To: <henry@origin\.example>\r$/m);
        assert.match(report.data, /refuses@remote\.example/);
        assert.match(report.data, /5\.1\.1 no such user here/);
      } finally {
        mx.script.rcpt = undefined;
      }
    });

    it('does not forward outside the organisation when the tenant blocks it: kept, and the user told', async () => {
      const db = j.t.node.holdfast.store.db;
      const tenant = await j.t.node.holdfast.directory.getTenant('default');
      await setTenantSettings(db, tenant.id, { externalForwarding: 'block' }, Date.now());
      try {
        await install(
          alice,
          `if header :is "subject" "To a colleague" { redirect "${bob}"; stop; }
           if header :is "subject" "To another tenant" { redirect "${olga}"; stop; }
           redirect "frank@remote.example";`,
        );
        assert.equal(await smtp('erin@origin.example', alice, 'Blocked forward'), undefined);
        await inInbox(alice, 'Blocked forward');
        const notice = await inInbox(alice, 'Undeliverable: forwarding outside the organisation is turned off');
        assert.match(notice.text, /^From: Mail Delivery System <MAILER-DAEMON@/m);
        // Its text is quoted-printable: where a line is wrapped depends on what came before it.
        const { text } = await simpleParser(notice.text);
        assert.match(text ?? '', /frank@remote\.example/);
        assert.match(text ?? '', /Subject: Blocked forward/);

        assert.equal(await smtp('erin@origin.example', alice, 'To another tenant'), undefined);
        await inInbox(alice, 'To another tenant');
        assert.equal(await smtp('erin@origin.example', alice, 'To a colleague'), undefined);
        await inInbox(bob, 'To a colleague');
        assert.equal(
          (await j.t.mailbox(alice)).filter((m) => m.text.includes('Subject: To a colleague\r\n')).length,
          0,
        );

        // Nothing of it left: the queue had time to send the colleague's copy, so the rest would be there.
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(atMx('Blocked forward').length, 0);
        assert.equal((await j.t.mailbox(olga)).length, 0);
      } finally {
        await setTenantSettings(db, tenant.id, { externalForwarding: 'allow' }, Date.now());
      }
      assert.equal(await smtp('erin@origin.example', alice, 'Allowed again'), undefined);
      await waitAtMx('Allowed again');
    });
  });
}
