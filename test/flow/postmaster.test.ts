// RFC 5321 §4.5.1: every server accepts mail for its postmaster — postmaster@ each of its domains and
// the bare "Postmaster" — and Holdfast delivers it to administrators, as it does replies to its
// bounces (MAILER-DAEMON@ its host name). An address named postmaster that exists wins.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { SmtpTalk } from '../helpers/smtp-talk.ts';

const password = 'Wonderland-42';

for (const name of backendNames) {
  describe(`postmaster addresses on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    before(async () => {
      t = await startTestNode(name);
      const { directory } = t.node.holdfast;
      // test.example (tenant "default") has the global administrator admin@test.example from the first run.
      await directory.addTenant({ name: 'acme' });
      const acme = await directory.tenant('acme');
      await acme.addDomain('acme.example');
      await acme.addPrincipal({ kind: 'user', address: 'boss@acme.example', password, role: 'tenant-admin' });
      await acme.addPrincipal({ kind: 'user', address: 'worker@acme.example', password });
      await acme.addDomain('acme-shop.example');
      await acme.addAlias('postmaster@acme-shop.example', 'worker@acme.example');
      await directory.addTenant({ name: 'solo' });
      const solo = await directory.tenant('solo');
      await solo.addDomain('solo.example');
      await solo.addPrincipal({ kind: 'user', address: 'only@solo.example', password });
    });
    after(() => t.stop());

    /** Sends one message over port 25 with the RCPT TO argument as given; returns the RCPT reply. */
    async function mailTo(rcpt: string, subject: string, from = 'someone@remote.example') {
      const { talk } = await SmtpTalk.open(t.port('smtp'));
      await talk.send('EHLO client.remote.example');
      assert.equal(await talk.send(`MAIL FROM:<${from}>`), '250 2.1.0 Accepted');
      const reply = await talk.send(`RCPT TO:<${rcpt}>`);
      if (reply.startsWith('250'))
        assert.match(
          await talk.data(
            `From: ${from || 'MAILER-DAEMON@remote.example'}\r\nTo: ${rcpt}\r\nSubject: ${subject}\r\n\r\nFor the postmaster.\r\n`,
          ),
          /^250 2\.0\.0 Ok: queued as \d+$/,
        );
      await talk.send('QUIT');
      talk.close();
      return reply;
    }
    const arrived = (address: string, subject: string) =>
      t.waitFor(
        async () => (await t.mailbox(address)).find((m) => m.text.includes(`Subject: ${subject}`)),
        `${subject} for ${address}`,
      );
    const has = async (address: string, subject: string) =>
      (await t.mailbox(address)).some((m) => m.text.includes(`Subject: ${subject}`));

    it("takes postmaster@ a local domain for the tenant's administrators", async () => {
      assert.equal(await mailTo('PostMaster@acme.example', 'acme postmaster'), '250 2.1.5 Accepted');
      const message = await arrived('boss@acme.example', 'acme postmaster');
      assert.match(message.text, /^Return-Path: <someone@remote\.example>\r\nDelivered-To: boss@acme\.example\r\n/);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await has('worker@acme.example', 'acme postmaster'), false, 'not for users without the admin role');
      assert.equal(await has('admin@test.example', 'acme postmaster'), false, "not for other tenants' administrators");

      assert.equal(await mailTo('postmaster@test.example', 'default postmaster'), '250 2.1.5 Accepted');
      await arrived('admin@test.example', 'default postmaster');
    });

    it('takes the bare Postmaster (any case, no domain) for the global administrators', async () => {
      for (const [rcpt, subject] of [
        ['Postmaster', 'bare one'],
        ['postmaster', 'bare two'],
        ['POSTMASTER', 'bare three'],
      ] as const) {
        assert.equal(await mailTo(rcpt, subject), '250 2.1.5 Accepted', rcpt);
        await arrived('admin@test.example', subject);
      }
    });

    it('takes replies to bounces (MAILER-DAEMON@ the host name) and postmaster@ the host name', async () => {
      assert.equal(await mailTo('MAILER-DAEMON@mail.test.example', 'about your bounce'), '250 2.1.5 Accepted');
      await arrived('admin@test.example', 'about your bounce');
      assert.equal(await mailTo('postmaster@mail.test.example', 'host postmaster', ''), '250 2.1.5 Accepted');
      const message = await arrived('admin@test.example', 'host postmaster');
      assert.match(message.text, /^Return-Path: <>\r\n/);
    });

    it('lets an address named postmaster decide, and falls back to the global administrators', async () => {
      assert.equal(await mailTo('postmaster@acme-shop.example', 'shop postmaster'), '250 2.1.5 Accepted');
      await arrived('worker@acme.example', 'shop postmaster');
      assert.equal(await has('boss@acme.example', 'shop postmaster'), false);

      // A tenant without administrators: its postmaster mail reaches the global administrators.
      assert.equal(await mailTo('postmaster@solo.example', 'solo postmaster'), '250 2.1.5 Accepted');
      await arrived('admin@test.example', 'solo postmaster');
    });

    it('still refuses other unknown names and bare local parts', async () => {
      assert.equal(
        await mailTo('nobody@acme.example', 'x'),
        '550 5.1.1 <nobody@acme.example>: Recipient address rejected: no such user here',
      );
      assert.equal(
        await mailTo('mailer-daemon@acme.example', 'x'),
        '550 5.1.1 <mailer-daemon@acme.example>: Recipient address rejected: no such user here',
      );
      assert.match(await mailTo('abuse', 'x'), /^501 5\.1\.3 /);
    });
  });
}
