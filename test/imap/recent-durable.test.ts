// \Recent kept in the store (mailboxes.recent_from_uid, schema v15): a message is recent to exactly
// one IMAP4rev1 session whatever its internal date, after a restart, and with sessions on several
// nodes claiming at once. Also the replies around it that Dovecot (the reference) gives: RECENT after
// an EXPUNGE of recent messages, STATUS (RECENT), BAD for an unknown system flag in STORE and APPEND,
// and a failed SELECT that leaves no folder selected.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  backendNames,
  createBackend,
  postgresSkip,
  skipFor,
  type BackendName,
  type TestBackend,
} from '../helpers/backends.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';
const user = 'rita@test.example';
const message = (subject: string) => `From: bob@test.example\r\nSubject: ${subject}\r\n\r\nHello.\r\n`;

async function open(node: TestNode): Promise<ImapTalk> {
  const { talk } = await ImapTalk.open(node.port('imaps'), { tls: true });
  await talk.login(user, password);
  return talk;
}

async function append(talk: ImapTalk, folder: string, text: string, extra = '') {
  const reply = await talk.command(`APPEND ${folder} ${extra}{${Buffer.byteLength(text)}+}\r\n${text}`);
  assert.match(reply, /OK \[APPENDUID/);
}

/** The UIDs SEARCH RECENT finds in the session's selected folder. */
async function recentUids(talk: ImapTalk): Promise<number[]> {
  const reply = await talk.command('UID SEARCH RECENT');
  const line = /^\* SEARCH([\d ]*)\r?$/m.exec(reply);
  assert.ok(line, reply);
  return line[1]!.trim() ? line[1]!.trim().split(' ').map(Number) : [];
}

const recentCount = (reply: string) => Number(/\* (\d+) RECENT\r\n/.exec(reply)?.[1] ?? 'NaN');

async function addUser(node: TestNode) {
  const tenant = await node.node.holdfast.directory.tenant('default');
  await tenant.addPrincipal({ kind: 'user', address: user, password });
}

for (const name of backendNames) {
  describe(`IMAP \\Recent kept in the store, on ${name}`, { skip: skipFor(name) }, () => {
    let backend: TestBackend;
    let node: TestNode;
    const talks: ImapTalk[] = [];
    const session = async () => {
      const talk = await open(node);
      talks.push(talk);
      return talk;
    };

    before(async () => {
      backend = await createBackend(name as BackendName);
      node = await startTestNode(name, { backend });
      await addUser(node);
    });
    after(async () => {
      talks.forEach((talk) => talk.close());
      await node.stop();
      await backend.cleanup();
    });

    it('counts a message APPENDed with an old INTERNALDATE as recent, and mail that arrived before a restart', async () => {
      const a = await session();
      await a.command('CREATE Old');
      await append(a, 'Old', message('from 2001'), '"01-Jan-2001 10:00:00 +0000" ');
      await append(a, 'Old', message('now'));
      await a.command('CREATE Later');
      await append(a, 'Later', message('before the restart'));
      assert.match(await a.command('STATUS Old (RECENT MESSAGES)'), /\* STATUS "Old" \(RECENT 2 MESSAGES 2\)/);
      const selected = await a.command('SELECT Old');
      assert.equal(recentCount(selected), 2, selected);
      assert.deepEqual(await recentUids(a), [1, 2]);
      assert.match(await a.command('STATUS Later (RECENT)'), /\* STATUS "Later" \(RECENT 1\)/);

      // The server restarts: what was taken stays taken, what was not is still recent.
      a.close();
      await node.stop();
      node = await startTestNode(name, { backend });
      const b = await session();
      assert.equal(recentCount(await b.command('SELECT Old')), 0);
      assert.match(await b.command('STATUS Old (RECENT)'), /\* STATUS "Old" \(RECENT 0\)/);
      const later = await b.command('SELECT Later');
      assert.equal(recentCount(later), 1, later);
      assert.match(await b.command('FETCH 1 (FLAGS)'), /\* 1 FETCH \(FLAGS \(\\Recent\)\)/);
    });

    it('gives each message to one session when several select at once, and EXAMINE takes nothing', async () => {
      const writer = await session();
      await writer.command('CREATE Race');
      for (let i = 1; i <= 5; i++) await append(writer, 'Race', message(`m${i}`));
      const sessions = await Promise.all([1, 2, 3, 4].map(() => session()));
      const examiner = await session();
      assert.equal(recentCount(await examiner.command('EXAMINE Race')), 5);
      const replies = await Promise.all(sessions.map((s) => s.command('SELECT Race')));
      const counts = replies.map(recentCount);
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        5,
        counts.join(' '),
      );
      assert.deepEqual([...counts].sort(), [0, 0, 0, 5]);
      // The examiner still shows them as it saw them.
      assert.deepEqual(await recentUids(examiner), [1, 2, 3, 4, 5]);
      assert.equal(recentCount(await examiner.command('EXAMINE Race')), 0);
    });

    it('tells RECENT again when recent messages are expunged, as Dovecot does', async () => {
      const a = await session();
      await a.command('CREATE Gone');
      await append(a, 'Gone', message('one'));
      await append(a, 'Gone', message('two'));
      assert.equal(recentCount(await a.command('SELECT Gone')), 2);
      await a.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
      assert.match(await a.command('EXPUNGE'), /^\* 1 EXPUNGE\r\n\* 1 RECENT\r\n\S+ OK/);
      // New mail another session took first: EXISTS, and no RECENT since the count did not change.
      const b = await session();
      await append(b, 'Gone', message('three'));
      assert.equal(recentCount(await b.command('SELECT Gone')), 1);
      assert.match(await a.command('NOOP'), /^\* 2 EXISTS\r\n\S+ OK/);
    });

    it('answers BAD to an unknown system flag in STORE and APPEND, and stores nothing', async () => {
      const a = await session();
      await a.command('CREATE Flags');
      await append(a, 'Flags', message('one'));
      await a.command('SELECT Flags');
      assert.match(await a.command('STORE 1 +FLAGS (\\Unknown)'), /^\S+ BAD .*\\Unknown/);
      assert.match(await a.command('STORE 1 +FLAGS (\\*)'), /^\S+ BAD /);
      assert.match(await a.command('STORE 1 +FLAGS (\\Recent)'), /^\S+ BAD /);
      // A system flag in any case is still one, and keywords are free.
      assert.match(
        await a.command('STORE 1 +FLAGS (\\sEEN $Later)'),
        /\* 1 FETCH \(FLAGS \(\$Later \\Seen \\Recent\)\)/,
      );
      const text = message('two');
      assert.match(await a.command(`APPEND Flags (\\Unknown) {${text.length}+}\r\n${text}`), /^\S+ BAD .*\\Unknown/);
      assert.match(await a.command(`APPEND Flags (\\Recent) {${text.length}+}\r\n${text}`), /^\S+ BAD /);
      assert.match(await a.command('FETCH 1:* (FLAGS)'), /^\* 1 FETCH \(FLAGS \(\$Later \\Seen \\Recent\)\)\r\n\S+ OK/);
      assert.match(await a.command('STATUS Flags (MESSAGES)'), /MESSAGES 1\)/);
    });

    it('leaves no folder selected after a SELECT that fails, with [CLOSED] first; a BAD one changes nothing', async () => {
      const a = await session();
      assert.match(await a.command('SELECT INBOX'), /OK \[READ-WRITE\]/);
      // Not valid modified UTF-7: such a name cannot exist.
      assert.match(await a.command('SELECT a&b'), /^\* OK \[CLOSED\] [^\r]*\r\n\S+ NO \[CANNOT\] /);
      assert.match(await a.command('FETCH 1 (FLAGS)'), /^\S+ BAD /);
      await a.command('SELECT INBOX');
      // A name with brackets is a name like any other; this one does not exist.
      assert.match(await a.command('EXAMINE a[b]'), /^\* OK \[CLOSED\] [^\r]*\r\n\S+ NO \[NONEXISTENT\] /);
      assert.match(await a.command('NOOP'), /^\S+ OK/);
      assert.match(await a.command('CLOSE'), /^\S+ BAD /);
      // A malformed SELECT is not run: INBOX stays selected.
      await a.command('SELECT INBOX');
      assert.match(await a.command('SELECT INBOX (NOSUCHPARAMETER)'), /^\S+ BAD /);
      assert.match(await a.command('CLOSE'), /^\S+ OK/);
    });
  });
}

describe('IMAP \\Recent with sessions on two nodes claiming at once', { skip: postgresSkip }, () => {
  let backend: TestBackend;
  const nodes: TestNode[] = [];
  const talks: ImapTalk[] = [];

  before(async () => {
    backend = await createBackend('postgres');
    nodes.push(
      await startTestNode('postgres', { backend, roles: ['imap'] }),
      await startTestNode('postgres', { backend, roles: ['imap'] }),
    );
    await addUser(nodes[0]!);
  });
  after(async () => {
    talks.forEach((talk) => talk.close());
    for (const node of nodes) await node.stop();
    await backend.cleanup();
  });

  it('gives every message to exactly one session, at SELECT and as mail arrives', async () => {
    const open2 = async (node: TestNode) => {
      const talk = await open(node);
      talks.push(talk);
      return talk;
    };
    const writer = await open2(nodes[0]!);
    await writer.command('CREATE Shared');
    for (let i = 1; i <= 10; i++) await append(writer, 'Shared', message(`before ${i}`));
    const readers = await Promise.all([nodes[0], nodes[1], nodes[0], nodes[1]].map((node) => open2(node!)));
    await Promise.all(readers.map((r) => r.command('SELECT Shared')));
    // Mail arrives while every reader asks for news, on both nodes.
    let appending = true;
    const appends = (async () => {
      for (let i = 1; i <= 30; i++) await append(writer, 'Shared', message(`during ${i}`));
      appending = false;
    })();
    await Promise.all(
      readers.map(async (r) => {
        while (appending) await r.command('NOOP');
      }),
    );
    await appends;
    for (const r of readers) await r.command('NOOP');
    const taken = await Promise.all(readers.map(recentUids));
    const all = taken.flat().sort((a, b) => a - b);
    assert.deepEqual(
      all,
      Array.from({ length: 40 }, (_, i) => i + 1),
      taken.map((t) => t.join(',')).join(' | '),
    );
  });
});
