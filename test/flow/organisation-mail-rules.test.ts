// The organisation's blocked attachment types and its warning on mail from outside, end to end on
// both backends: mail comes in over SMTP (nodemailer, to port 25 from outside and through submission
// as a user), and what users find in their mailboxes is read back. An .exe (by its plain name, an
// RFC 2231 encoded one, or inside an attached message) is refused at DATA with 550 5.7.1 naming the
// file; when only some recipients block it, their copies are held in quarantine (an administrator
// can release them) and the others get the message; mail forwarded from another tenant is held at
// delivery; a .pdf passes. The banner is put on mail from outside in text, HTML and
// multipart/alternative, never on mail from inside, never twice, never on signed mail.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import nodemailer from 'nodemailer';
import { setTenantBlockedAttachments, setTenantExternalBanner } from '../../src/directory/tenant-settings.ts';
import { listQuarantine, releaseQuarantined } from '../../src/filtering/quarantine.ts';
import { activateScript, putScript } from '../../src/sieve/sieve-scripts.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { FakeMx } from '../helpers/fake-mx.ts';
import { submission } from '../helpers/submission.ts';
import { type JmapTestNode, password, startJmapNode } from '../jmap/jmap-test-node.ts';

const alice = 'alice@test.example';
const bob = 'bob@test.example';
const carol = 'carol@test.example';
const banner = 'CAUTION: this message is from outside Contoso.\nThink before you click.';

/** A message from outside, over port 25; resolves to the server's reply, or the refusal as an error. */
async function fromOutside(port: number, to: string[], raw: string) {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  try {
    return await transport.sendMail({ envelope: { from: 'erin@remote.example', to }, raw });
  } finally {
    transport.close();
  }
}

const header = (subject: string, to = alice) =>
  `From: Erin <erin@remote.example>\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.example>\r\nMIME-Version: 1.0\r\n`;

const withAttachment = (subject: string, disposition: string) =>
  `${header(subject)}Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: ${disposition}\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b--\r\n`;

for (const name of backendNames) {
  describe(`organisation rules for attachments and outside mail on ${name}`, { skip: skipFor(name) }, () => {
    let j: JmapTestNode;
    let mx: FakeMx;
    let tenantId = 0;
    const inbox = async (who: string, subject: string) => {
      await j.t.waitFor(
        async () => (await j.t.mailbox(who)).some((m) => m.text.includes(`Subject: ${subject}\r\n`)),
        `"${subject}" in ${who}'s INBOX`,
      );
      return (await j.t.mailbox(who)).find((m) => m.text.includes(`Subject: ${subject}\r\n`))!.text;
    };

    before(async () => {
      mx = await new FakeMx().start();
      j = await startJmapNode(name, [alice, bob, carol], {
        toml: ['[queue]', 'poll_interval = "100ms"', `remote_port = ${mx.port}`, ''].join('\n'),
      });
      j.t.dns.set('remote.example', { MX: [{ exchange: 'mx.remote.example', priority: 10 }] });
      j.t.dns.set('mx.remote.example', { A: ['127.0.0.1'] });
      const { db } = j.t.node.holdfast.store;
      tenantId = (await j.t.node.holdfast.directory.getTenant('default')).id;
      await setTenantBlockedAttachments(db, tenantId, ['exe', 'js'], Date.now());
      await setTenantExternalBanner(db, tenantId, banner, Date.now());
    });
    after(async () => {
      await j.t.stop();
      await mx.stop();
    });

    it('refuses an .exe at DATA with 550 5.7.1 naming the file, however its name is written', async () => {
      const cases: [string, string, RegExp][] = [
        ['Plain exe', 'attachment; filename="Invoice.EXE"', /attachment "Invoice\.EXE": \.exe files are blocked/],
        [
          'Encoded exe',
          "attachment; filename*0*=utf-8''r%C3%A9sum%C3%A9; filename*1*=.e; filename*2=xe",
          /attachment "résumé\.exe": \.exe files are blocked/,
        ],
        ['Words exe', 'attachment; filename="=?UTF-8?B?cGF5bWVudC5leGU=?="', /attachment "payment\.exe"/],
        ['Trailing dot', 'attachment; filename="report.pdf.exe. "', /\.exe files are blocked/],
      ];
      for (const [subject, disposition, expected] of cases) {
        await assert.rejects(
          fromOutside(j.t.port('smtp'), [alice], withAttachment(subject, disposition)),
          (error: Error & { responseCode?: number; response?: string }) => {
            assert.equal(error.responseCode, 550, subject);
            assert.match(error.response!, /^550 5\.7\.1 Message rejected: /);
            assert.match(error.response!, expected);
            assert.match(error.response!, /by the recipient's organisation/);
            return true;
          },
        );
      }
      // Inside an attached message, by Content-Type's name.
      const inner = `From: x@elsewhere.example\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary="i"\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\nhi\r\n--i\r\nContent-Type: application/javascript; name="run.js"\r\n\r\nalert(1)\r\n--i--\r\n`;
      const nested = `${header('Nested')}Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nForwarded.\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n${inner}\r\n--b--\r\n`;
      await assert.rejects(
        fromOutside(j.t.port('smtp'), [alice], nested),
        /550 5\.7\.1 .*attachment "run\.js": \.js files/,
      );
      // Nothing of them reached the mailbox or the quarantine.
      assert.equal(
        (await j.t.mailbox(alice)).filter((m) => /Subject: (Plain|Encoded|Words|Nested)/.test(m.text)).length,
        0,
      );
      assert.equal((await listQuarantine(j.t.node.holdfast.store.db, { tenantId })).length, 0);
    });

    it('lets a .pdf through', async () => {
      const reply = await fromOutside(
        j.t.port('smtp'),
        [alice],
        withAttachment('Pdf report', 'attachment; filename="report.pdf"'),
      );
      assert.match(reply.response, /^250 /);
      assert.match(await inbox(alice, 'Pdf report'), /filename="report\.pdf"/);
    });

    it("holds the blocking recipients' copies in quarantine when others may have the message", async () => {
      const reply = await submission(j.t.port('submissions'), alice, password).sendMail({
        from: alice,
        to: [bob, 'frank@remote.example'],
        subject: 'Tool for you',
        text: 'Run this.',
        attachments: [{ filename: 'tool.exe', content: Buffer.from('MZ') }],
      });
      assert.match(reply.response, /^250 /);
      await j.t.waitFor(
        async () => mx.received.some((m) => m.data.includes('Subject: Tool for you')),
        'the copy outside',
      );
      const held = await listQuarantine(j.t.node.holdfast.store.db, { tenantId });
      assert.equal(held.length, 1);
      assert.equal(held[0]!.recipient, bob);
      assert.equal(held[0]!.reason, 'blocked');
      assert.equal(held[0]!.detail, 'attachment "tool.exe": .exe files are blocked by the organisation');
      assert.equal(held[0]!.subject, 'Tool for you');
      assert.equal((await j.t.mailbox(bob)).filter((m) => m.text.includes('Tool for you')).length, 0);
      // An administrator releases it: Bob gets the message as it came, attachment and all.
      await releaseQuarantined(j.t.node.holdfast.store, held[0]!.id, { tenantId }, Date.now());
      assert.match(await inbox(bob, 'Tool for you'), /filename=tool\.exe|filename="tool\.exe"/);
    });

    it('puts the banner on mail from outside: text, HTML and both alternatives, with X-Holdfast-External', async () => {
      await fromOutside(
        j.t.port('smtp'),
        [alice],
        `${header('Text only')}Content-Type: text/plain; charset=utf-8\r\n\r\nHello Alice.\r\n`,
      );
      const text = await simpleParser(await inbox(alice, 'Text only'));
      assert.equal(text.headers.get('x-holdfast-external'), 'yes');
      assert.equal(text.text, `${banner}\n\nHello Alice.\n`);

      await fromOutside(
        j.t.port('smtp'),
        [alice],
        `${header('Html only')}Content-Type: text/html; charset=utf-8\r\n\r\n<html><head><title>t</title></head><body class="x"><p>Hello <b>Alice</b> & co.</p></body></html>\r\n`,
      );
      const html = String((await simpleParser(await inbox(alice, 'Html only'))).html);
      assert.match(
        html,
        /<body class="x">\r?\n<p class="holdfast-external" style="[^"]*">CAUTION: this message is from outside Contoso\.<br>\r?\nThink before you click\.<\/p>\r?\n<p>Hello <b>Alice<\/b> & co\.<\/p>/,
      );

      await fromOutside(
        j.t.port('smtp'),
        [alice],
        `${header('Both')}Content-Type: multipart/alternative; boundary="a"\r\n\r\n--a\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHello in text.\r\n--a\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from('<html><body><p>Hello in HTML.</p></body></html>').toString('base64')}\r\n--a--\r\n`,
      );
      const both = await simpleParser(await inbox(alice, 'Both'));
      assert.equal(both.text, `${banner}\n\nHello in text.`);
      assert.match(
        String(both.html),
        /^<html><body>\r?\n<p class="holdfast-external"[^>]*>CAUTION[^<]*<br>\r?\nThink before you click\.<\/p>\r?\n<p>Hello in HTML\.<\/p>/,
      );
    });

    it('leaves mail from inside, signed mail and mail already carrying the banner without a (second) one', async () => {
      await submission(j.t.port('submissions'), alice, password).sendMail({
        from: alice,
        to: bob,
        subject: 'From a colleague',
        text: 'Lunch?',
        html: '<p>Lunch?</p>',
      });
      const inside = await inbox(bob, 'From a colleague');
      assert.doesNotMatch(inside, /X-Holdfast-External|CAUTION/i);

      const signed = `--s\r\nContent-Type: text/plain\r\n\r\nSigned words\r\n--s\r\nContent-Type: application/pkcs7-signature\r\n\r\nMIAG\r\n--s--\r\n`;
      await fromOutside(
        j.t.port('smtp'),
        [alice],
        `${header('Signed')}Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="s"\r\n\r\n${signed}`,
      );
      const kept = await inbox(alice, 'Signed');
      assert.doesNotMatch(kept, /X-Holdfast-External|CAUTION/);
      assert.ok(kept.endsWith(signed), 'the signed body byte for byte');

      // Back from elsewhere with our banner on, and a forged field: one field (ours), one banner.
      await fromOutside(
        j.t.port('smtp'),
        [alice],
        `${header('Again')}X-Holdfast-External: no\r\nContent-Type: text/plain\r\n\r\n${banner.replace('\n', '\r\n')}\r\n\r\nForwarded back.\r\n`,
      );
      const again = await inbox(alice, 'Again');
      assert.equal(again.match(/^X-Holdfast-External:/gim)?.length, 1);
      assert.match(again, /^X-Holdfast-External: yes\r$/m);
      assert.equal(again.match(/CAUTION/g)?.length, 1);

      // Forwarded on by a rule to a colleague: the colleague sees the one banner it carries.
      const { db } = j.t.node.holdfast.store;
      const carolId = (await j.t.node.holdfast.directory.resolveAddress(carol))!.principal.id;
      await putScript(db, carolId, 'fwd', `redirect "${bob}";\r\n`, Date.now());
      await activateScript(db, carolId, 'fwd', Date.now());
      await fromOutside(
        j.t.port('smtp'),
        [carol],
        `${header('Passed on', carol)}Content-Type: text/plain\r\n\r\nFor Carol.\r\n`,
      );
      const passed = await inbox(bob, 'Passed on');
      assert.match(passed, /^Delivered-To: carol@test\.example/m);
      assert.equal(passed.match(/CAUTION/g)?.length, 1);
      assert.equal(passed.match(/^X-Holdfast-External:/gim)?.length, 1);
    });

    it('holds a copy in quarantine at delivery when the message reached the tenant without passing intake for it', async () => {
      const { directory, store } = j.t.node.holdfast;
      await directory.addTenant({ name: 'fabrikam' });
      const fabrikam = await directory.tenant('fabrikam');
      await fabrikam.addDomain('fabrikam.example');
      const dave = 'dave@fabrikam.example';
      const { id: daveId } = await fabrikam.addPrincipal({ kind: 'user', address: dave, password });
      // Dave's tenant blocks nothing; his rule forwards everything to Bob, whose tenant blocks .exe.
      await putScript(store.db, daveId, 'fwd', `require "copy";\r\nredirect :copy "${bob}";\r\n`, Date.now());
      await activateScript(store.db, daveId, 'fwd', Date.now());
      const reply = await fromOutside(
        j.t.port('smtp'),
        [dave],
        withAttachment('Setup for Dave', 'attachment; filename="setup.exe"').replace(`To: ${alice}`, `To: ${dave}`),
      );
      assert.match(reply.response, /^250 /);
      assert.match(await inbox(dave, 'Setup for Dave'), /filename="setup\.exe"/);
      await j.t.waitFor(
        async () =>
          (await listQuarantine(store.db, { tenantId })).some(
            (h) => h.recipient === bob && h.subject === 'Setup for Dave',
          ),
        "Bob's copy in quarantine",
      );
      const held = (await listQuarantine(store.db, { tenantId })).find((h) => h.subject === 'Setup for Dave')!;
      assert.equal(held.reason, 'blocked');
      assert.equal(held.detail, 'attachment "setup.exe": .exe files are blocked by the organisation');
      assert.equal((await j.t.mailbox(bob)).filter((m) => m.text.includes('Setup for Dave')).length, 0);
    });
  });
}
