// Automatic replies: VacationResponse/get and /set through jmap-jam, and what the responder does
// at local delivery with mail arriving by SMTP from outside (raw SMTP to the MX port, so each test
// writes the headers and envelope it means) and from a local user (nodemailer to submission): one
// reply per sender in the window, in the queue for an outside sender and in the INBOX of a local one,
// marked Auto-Submitted, threaded, DKIM-signed, from the null reverse path; none to bulk, list,
// automatic or null-sender mail, nor to mail that does not name the user.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readBlob } from '../../src/store/blobs/blob-store.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import type { TestNode } from '../helpers/node.ts';
import { SmtpTalk } from '../helpers/smtp-talk.ts';
import { submission } from '../helpers/submission.ts';
import { type BasicJam, basicAuth, postApi } from './jmap-client.ts';
import { password, startJmapNode } from './jmap-test-node.ts';
const day = 86_400_000;
const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:vacationresponse'];

for (const name of backendNames) {
  describe(`automatic replies on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let jam: BasicJam;
    let accountId: string;
    let base: string;
    let sent = 0;

    /** Mail from outside through the MX port, as written; resolves once it is in alice's INBOX. */
    const mx = async (envelopeFrom: string, headers: string, subject: string) => {
      const before = (await t.mailbox('alice@test.example')).length;
      const { talk } = await SmtpTalk.open(t.port('smtp'));
      await talk.send('EHLO outside.example');
      assert.match(await talk.send(`MAIL FROM:<${envelopeFrom}>`), /^250 /);
      assert.match(await talk.send('RCPT TO:<alice@test.example>'), /^250 /);
      sent++;
      const reply = await talk.data(
        `From: ${envelopeFrom || 'someone@remote.example'}\r\n${headers}Subject: ${subject}\r\nMessage-ID: <m${sent}.${Date.now()}@remote.example>\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\nHello\r\n`,
      );
      talk.close();
      assert.match(reply, /^250 /);
      await t.waitFor(async () => (await t.mailbox('alice@test.example')).length > before, `${subject} delivered`);
    };
    const toAlice = 'To: Alice <alice@test.example>\r\n';

    /** Automatic replies in the queue to an address: their subjects and stored text. */
    const repliesTo = async (address: string) => {
      const { db, blobs } = t.node.holdfast.store;
      const rows = await db
        .selectFrom('queue_messages as m')
        .innerJoin('queue_recipients as r', 'r.message_id', 'm.id')
        .select(['m.subject', 'm.sender', 'm.blob_hash', 'm.prefix'])
        .where('r.recipient', '=', address)
        .where('m.subject', 'like', 'Auto%')
        .orderBy('m.id')
        .execute();
      return Promise.all(
        rows.map(async (r) => ({
          subject: r.subject,
          sender: r.sender,
          text: r.prefix + (await readBlob(blobs, r.blob_hash)).toString('utf8'),
        })),
      );
    };
    /** Waits for the reply to a message that is answered, and a moment more for any that should not be. */
    const settle = async (address: string, count: number) => {
      await t.waitFor(async () => (await repliesTo(address)).length >= count, `reply to ${address}`);
      await new Promise((r) => setTimeout(r, 300));
    };

    before(async () => {
      ({ t, base, jam, accountId } = await startJmapNode(name, [
        { kind: 'user', address: 'alice@test.example', password, displayName: 'Alice' },
        'bob@test.example',
      ]));
    });
    after(() => t.stop());

    it('serves the singleton VacationResponse, off until set, and refuses what it cannot take', async () => {
      const session = await jam.session;
      assert.ok('urn:ietf:params:jmap:vacationresponse' in session.capabilities);
      assert.equal(session.primaryAccounts['urn:ietf:params:jmap:vacationresponse'], accountId);
      const [off] = await jam.api.VacationResponse.get({ accountId });
      assert.deepEqual(off.list, [
        {
          id: 'singleton',
          isEnabled: false,
          fromDate: null,
          toDate: null,
          subject: null,
          textBody: null,
          htmlBody: null,
        },
      ]);
      const { json } = await postApi(
        base,
        {
          using,
          methodCalls: [
            [
              'VacationResponse/set',
              {
                accountId,
                create: { x: { isEnabled: true } },
                update: {
                  singleton: { fromDate: 'next week' },
                  other: { isEnabled: true },
                },
                destroy: ['singleton'],
              },
              'a',
            ],
            [
              'VacationResponse/set',
              {
                accountId,
                update: { singleton: { fromDate: '2026-08-01T00:00:00Z', toDate: '2026-07-01T00:00:00Z' } },
              },
              'b',
            ],
            ['VacationResponse/get', { accountId, ids: ['singleton', 'other'], properties: ['isEnabled'] }, 'c'],
          ],
        },
        basicAuth('alice@test.example', password),
      );
      const [a, b, c] = json.methodResponses.map((r: [string, Record<string, unknown>]) => r[1]);
      assert.equal(a.notCreated.x.type, 'singleton');
      assert.equal(a.notDestroyed.singleton.type, 'singleton');
      assert.deepEqual(a.notUpdated.singleton.properties, ['fromDate']);
      assert.equal(a.notUpdated.other.type, 'notFound');
      assert.deepEqual(b.notUpdated.singleton.properties, ['toDate']);
      assert.deepEqual(c.list, [{ id: 'singleton', isEnabled: false }]);
      assert.deepEqual(c.notFound, ['other']);
    });

    it('answers mail from outside once per sender in the window, through the queue', async () => {
      const [before] = await jam.api.VacationResponse.get({ accountId });
      const [set] = await jam.api.VacationResponse.set({
        accountId,
        ifInState: before.state,
        update: {
          singleton: {
            isEnabled: true,
            fromDate: new Date(t.clock.now() - day).toISOString(),
            toDate: new Date(t.clock.now() + 30 * day).toISOString(),
            textBody: 'Back on Monday.',
          },
        },
      });
      assert.deepEqual(set.updated, { singleton: null });
      assert.notEqual(set.newState, set.oldState);
      const [on] = await jam.api.VacationResponse.get({ accountId });
      assert.equal(on.list[0]!.isEnabled, true);
      assert.equal(on.list[0]!.textBody, 'Back on Monday.');

      await mx('carol@remote.example', toAlice, 'Lunch on Friday?');
      await settle('carol@remote.example', 1);
      const [reply] = await repliesTo('carol@remote.example');
      assert.equal(reply!.sender, '', 'the null reverse path');
      assert.equal(reply!.subject, 'Auto: Lunch on Friday?');
      assert.match(reply!.text, /^Auto-Submitted: auto-replied\r$/m);
      assert.match(reply!.text, /^From: Alice <alice@test\.example>\r$/m);
      assert.match(reply!.text, /^To: carol@remote\.example\r$/m);
      assert.match(reply!.text, /^In-Reply-To: <m\d+\.\d+@remote\.example>\r$/m);
      assert.match(reply!.text, /^References: <m\d+\.\d+@remote\.example>\r$/m);
      assert.match(reply!.text, /^DKIM-Signature: .*d=test\.example/m);
      assert.match(reply!.text, /Back on Monday\./);

      // The same sender within the window: no second reply; a new sender: one.
      await mx('carol@remote.example', toAlice, 'Or Saturday?');
      await mx('dave@remote.example', toAlice, 'Question');
      await settle('dave@remote.example', 1);
      assert.equal((await repliesTo('carol@remote.example')).length, 1);

      // Past the 7 days, carol is answered again.
      t.clock.advance(8 * day);
      await mx('carol@remote.example', toAlice, 'Next week then');
      await settle('carol@remote.example', 2);
      assert.equal((await repliesTo('carol@remote.example')).length, 2);
    });

    it('never answers bulk, list, automatic or null-sender mail, nor mail that does not name the user', async () => {
      await mx('news@remote.example', `${toAlice}Precedence: bulk\r\n`, 'Newsletter');
      await mx('list@remote.example', `${toAlice}List-Id: <talk.remote.example>\r\n`, 'List post');
      await mx('unsub@remote.example', `${toAlice}List-Unsubscribe: <mailto:u@remote.example>\r\n`, 'Offers');
      await mx('robot@remote.example', `${toAlice}Auto-Submitted: auto-generated\r\n`, 'Build failed');
      await mx('talk-request@remote.example', toAlice, 'Confirm');
      await mx('owner-talk@remote.example', toAlice, 'Bounces');
      await mx('MAILER-DAEMON@remote.example', toAlice, 'Returned mail');
      await mx('', toAlice, 'A notice');
      await mx('blind@remote.example', 'To: someone-else@remote.example\r\n', 'You were in Bcc');
      // Auto-Submitted: no is a person's mail: answered.
      await mx('erin@remote.example', `${toAlice}Auto-Submitted: no\r\n`, 'From a person');
      await settle('erin@remote.example', 1);
      for (const sender of [
        'news@remote.example',
        'list@remote.example',
        'unsub@remote.example',
        'robot@remote.example',
        'talk-request@remote.example',
        'owner-talk@remote.example',
        'MAILER-DAEMON@remote.example',
        'blind@remote.example',
      ])
        assert.deepEqual(await repliesTo(sender), [], `no reply to ${sender}`);
      const { db } = t.node.holdfast.store;
      const toNull = await db.selectFrom('queue_recipients').select('id').where('recipient', '=', '').execute();
      assert.deepEqual(toNull, [], 'nothing to the null sender');
    });

    it('answers a local sender into their INBOX, and stops when turned off or outside the dates', async () => {
      const bob = submission(t.port('submissions'), 'bob@test.example', password);
      await bob.sendMail({ from: 'bob@test.example', to: 'alice@test.example', subject: 'Status', text: 'Any news?' });
      const reply = await t.waitFor(
        async () => (await t.mailbox('bob@test.example')).find((m) => /^Subject: Auto: Status\r$/m.test(m.text)),
        "the reply in bob's INBOX",
      );
      assert.match(reply.text, /^Return-Path: <>\r$/m);
      assert.match(reply.text, /^Auto-Submitted: auto-replied\r$/m);

      // The window has passed (toDate was 30 days after the start; the clock is 8 days on).
      t.clock.advance(30 * day);
      await mx('frank@remote.example', toAlice, 'Late');
      // Turned back on for the present and then off: nothing is answered while off.
      await jam.api.VacationResponse.set({
        accountId,
        update: { singleton: { isEnabled: false, fromDate: null, toDate: null } },
      });
      await mx('grace@remote.example', toAlice, 'Off');
      await jam.api.VacationResponse.set({ accountId, update: { singleton: { isEnabled: true } } });
      await mx('heidi@remote.example', toAlice, 'On again');
      await settle('heidi@remote.example', 1);
      assert.deepEqual(await repliesTo('frank@remote.example'), [], 'after toDate');
      assert.deepEqual(await repliesTo('grace@remote.example'), [], 'while off');
    });
  });
}
