// The organisation's rules (a tenant's Sieve script, run before each user's), end to end on both
// backends: mail from outside by SMTP on the MX port, read back from the mailboxes and the queue.
// Rules that keep the message and add a header or a copy leave the rest to the user's script, which
// sees the header; rules that file or reject decide alone; a tenant's rules reach only its users.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { setTenantRules } from '../../src/directory/tenant-settings.ts';
import { activateScript, putScript } from '../../src/sieve/sieve-scripts.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { type JmapTestNode, password, startJmapNode } from '../jmap/jmap-test-node.ts';

const alice = 'alice@test.example';
const bob = 'bob@test.example';
const carol = 'carol@test.example';
const olga = 'olga@other.example';

for (const name of backendNames) {
  describe(`organisation rules on ${name}`, { skip: skipFor(name) }, () => {
    let j: JmapTestNode;
    let sent = 0;
    let tenantId = 0;

    const mx = async (to: string, subject: string) => {
      sent++;
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: j.t.port('smtp'),
        secure: false,
        ignoreTLS: true,
      });
      const raw = `From: erin@origin.example\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <o${sent}.${Date.now()}@origin.example>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\n\r\nHello\r\n`;
      const info = await transport.sendMail({ envelope: { from: 'erin@origin.example', to: [to] }, raw });
      transport.close();
      assert.equal(info.rejected.length, 0);
    };
    const find = (address: string, subject: string, folder = 'INBOX') =>
      j.t.waitFor(
        async () => (await j.t.mailbox(address, folder)).find((m) => m.text.includes(`Subject: ${subject}\r\n`)),
        `"${subject}" in ${address}'s ${folder}`,
      );
    const count = async (address: string, subject: string, folder = 'INBOX') =>
      (await j.t.mailbox(address, folder)).filter((m) => m.text.includes(`Subject: ${subject}\r\n`)).length;

    before(async () => {
      j = await startJmapNode(name, [alice, bob, carol]);
      const directory = j.t.node.holdfast.directory;
      tenantId = (await directory.getTenant('default')).id;
      await directory.addTenant({ name: 'other', forest: 'default' });
      const other = await directory.tenant('other');
      await other.addDomain('other.example');
      await other.addPrincipal({ kind: 'user', address: olga, password });
      const db = j.t.node.holdfast.store.db;
      await setTenantRules(
        db,
        tenantId,
        `require ["editheader", "copy", "fileinto", "reject"];
         addheader "X-Org-Checked" "yes";
         if header :contains "subject" "contract" { redirect :copy "${carol}"; }
         if header :contains "subject" "forbidden" { reject "Not accepted by the organisation."; stop; }
         if header :contains "subject" "quarantine" { fileinto "Junk"; stop; }`,
        Date.now(),
      );
      const id = Number(
        (await db.selectFrom('principals').select('id').where('address', '=', alice).executeTakeFirstOrThrow()).id,
      );
      await putScript(
        db,
        id,
        'mine',
        `require ["fileinto", "mailbox"];
         if allof (header :contains "subject" "contract", header :is "x-org-checked" "yes") {
           fileinto :create "Projects"; keep;
         }
         if header :contains "subject" "quarantine" { redirect "${bob}"; }`,
        Date.now(),
      );
      await activateScript(db, id, 'mine', Date.now());
    });
    after(() => j.t.stop());

    it("runs before the user's script: its header is seen, its copy sent, the user's filing kept", async () => {
      await mx(alice, 'New contract');
      const filed = await find(alice, 'New contract', 'Projects');
      assert.match(filed.text, /^X-Org-Checked: yes\r$/m);
      assert.equal(await count(alice, 'New contract'), 1, 'the user script kept a copy in the INBOX too');
      const copy = await find(carol, 'New contract');
      assert.match(copy.text, /^X-Org-Checked: yes\r$/m);
      assert.match(copy.text, /^Delivered-To: alice@test\.example\r$/m);
    });

    it('applies to users without a script of their own, and not to other tenants', async () => {
      await mx(bob, 'Plain hello');
      assert.match((await find(bob, 'Plain hello')).text, /^X-Org-Checked: yes\r$/m);
      await mx(olga, 'Plain hello');
      assert.doesNotMatch((await find(olga, 'Plain hello')).text, /X-Org-Checked/);
    });

    it("decides alone when it files or rejects: the user's script does not run", async () => {
      await mx(alice, 'For quarantine');
      await find(alice, 'For quarantine', 'Junk');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await count(bob, 'For quarantine'), 0, "the user's redirect did not run");

      await mx(alice, 'Something forbidden');
      const row = await j.t.waitFor(
        () =>
          j.t.node.holdfast.store.db
            .selectFrom('queue_recipients as r')
            .innerJoin('queue_messages as m', 'm.id', 'r.message_id')
            .select(['r.state', 'r.last_reply'])
            .where('m.subject', '=', 'Something forbidden')
            .where('r.recipient', '=', alice)
            .where('r.state', '=', 'failed')
            .executeTakeFirst(),
        'the rejection',
      );
      assert.match(String(row.last_reply), /^550 5\.7\.1 .*Not accepted by the organisation\./);
      assert.equal(await count(alice, 'Something forbidden'), 0);
    });

    it('once deleted, no longer runs', async () => {
      await setTenantRules(j.t.node.holdfast.store.db, tenantId, undefined, Date.now());
      await mx(bob, 'After the rules');
      assert.doesNotMatch((await find(bob, 'After the rules')).text, /X-Org-Checked/);
    });
  });
}
