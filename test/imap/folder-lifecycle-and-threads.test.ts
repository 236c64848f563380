// Issue 14 items 6-THREAD, 7 and 8, found by npm run conformance:imap against Dovecot: THREAD
// REFERENCES joins by subject as RFC 5256 step 5 says, UIDVALIDITY is new for a folder created again
// at once, and subscriptions outlive DELETE and show in LSUB and LIST (SUBSCRIBED [RECURSIVEMATCH]).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';

for (const name of backendNames) {
  describe(`IMAP folder lifecycle and threads on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let talk: ImapTalk;
    before(async () => {
      t = await startTestNode(name);
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'dora@test.example', password });
      ({ talk } = await ImapTalk.open(t.port('imaps'), { tls: true }));
      await talk.login('dora@test.example', password);
    });
    after(async () => {
      talk.close();
      await t.stop();
    });

    it('THREAD REFERENCES makes an earlier reply a child of its original by subject (RFC 5256 5A)', async () => {
      await talk.command('CREATE Threads');
      for (const [subject, date] of [
        ['Re: Lunch', '09:00'],
        ['Lunch', '10:00'],
        ['Plans', '11:00'],
      ]) {
        const text = `Subject: ${subject}\r\nDate: Mon, 1 Jan 2024 ${date}:00 +0000\r\n\r\nx\r\n`;
        assert.match(await talk.command(`APPEND Threads {${text.length}+}\r\n${text}`), /OK/);
      }
      await talk.command('SELECT Threads');
      // It used to be ((1)(2))(3): both under a new placeholder, as if neither were the original.
      assert.match(await talk.command('THREAD REFERENCES US-ASCII ALL'), /\* THREAD \(2 1\)\(3\)\r\n/);
      await talk.command('CLOSE');
    });

    it('a folder deleted and created again at once gets a new UIDVALIDITY, also after it held the highest', async () => {
      const validity = async () => {
        const [, value] = /UIDVALIDITY (\d+)/.exec(await talk.command('STATUS Again (UIDVALIDITY)')) ?? [];
        assert.ok(value, 'STATUS answers UIDVALIDITY');
        return value;
      };
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++) {
        assert.match(await talk.command('CREATE Again'), /OK/);
        seen.add(await validity());
        assert.match(await talk.command('DELETE Again'), /OK/);
      }
      assert.equal(seen.size, 3);
    });

    it('LSUB shows the parent of a subscribed deeper name as \\Noselect, and DELETE leaves subscriptions', async () => {
      for (const folder of ['p', 'p/a', 'p/a/b', 'q']) await talk.command(`CREATE ${folder}`);
      for (const folder of ['p', 'p/a']) await talk.command(`UNSUBSCRIBE ${folder}`);
      assert.match(await talk.command('LSUB "" p/%'), /\* LSUB \(\\Noselect\) "\/" "?p\/a"?\r\n/);
      assert.doesNotMatch(await talk.command('LSUB "" *'), /LSUB \(\\Noselect\) "\/" "?p\/a"?\r\n/);
      assert.match(
        await talk.command('LIST (SUBSCRIBED RECURSIVEMATCH) "" p/%'),
        /\* LIST \(\\HasChildren\) "\/" "?p\/a"? \("CHILDINFO" \("SUBSCRIBED"\)\)\r\n/,
      );
      assert.doesNotMatch(await talk.command('LIST (SUBSCRIBED) "" p/%'), /p\/a/);

      assert.match(await talk.command('DELETE q'), /OK/);
      assert.match(
        await talk.command('LIST (SUBSCRIBED) "" q'),
        /\* LIST \(\\NonExistent \\HasNoChildren \\Subscribed\) "\/" "?q"?\r\n/,
      );
      assert.match(await talk.command('LSUB "" q'), /\* LSUB \(\) "\/" "?q"?\r\n/);
      assert.doesNotMatch(await talk.command('LIST "" q'), /\* LIST/);
      assert.match(await talk.command('UNSUBSCRIBE q'), /OK/);
      assert.doesNotMatch(await talk.command('LIST (SUBSCRIBED) "" q'), /\* LIST/);
    });
  });
}
