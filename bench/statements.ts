// bench/statements: how many SQL statements one message costs from SMTP intake to the mailbox, on
// SQLite and on PostgreSQL. On PostgreSQL each statement is a round trip to the server, so this count
// is what the mail path's rate on PostgreSQL follows (docs/benchmarks.md, "PostgreSQL against SQLite").
// A Holdfast node runs in this process (roles smtp and queue) and every statement its store runs is
// counted: better-sqlite3's statement runs, pg's queries (BEGIN and COMMIT included).
//
//   node --import tsx bench/statements.ts [--messages 200] [--sessions 1] [--database postgres://…] [--top 40]
//
// One message per connection, 5 KB, to one local user, as bench/smtp-intake sends them. With
// --sessions 1 nothing is batched: the count is each message's own. Without --database, SQLite only.
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import pino from 'pino';
import { createScratchDatabase, tempDir, type TestBackend } from '../test/helpers/backends.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { SmtpTalk } from '../test/helpers/smtp-talk.ts';
import { benchArgs } from './lib/bench-args.ts';
import { guarded } from './lib/cleanup.ts';

const { values } = benchArgs(import.meta.url, {
  messages: { type: 'string', default: '200' },
  sessions: { type: 'string', default: '1' },
  top: { type: 'string', default: '40' },
});
const messages = Number(values.messages);
const sessions = Number(values.sessions);
const recipient = 'bench@test.example';

/** Statements run while counting, by their SQL text (values are parameters, so a shape is one text). */
const tally = new Map<string, number>();
let counting = false;
const count = (text: string) => {
  if (counting) tally.set(text, (tally.get(text) ?? 0) + 1);
};

// Every statement of either driver passes through these.
const sqliteStatement = Object.getPrototypeOf(new SqliteDatabase(':memory:').prepare('select 1'));
for (const method of ['run', 'get', 'all', 'iterate'] as const) {
  const original = sqliteStatement[method];
  sqliteStatement[method] = function (this: { source: string }, ...args: unknown[]) {
    count(this.source);
    return original.apply(this, args);
  };
}
const pgQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
  count(typeof config === 'string' ? config : (config as { text: string }).text);
  return (pgQuery as (...args: unknown[]) => unknown).apply(this, [config, ...rest]);
} as typeof pgQuery;

async function sendOne(port: number, body: string) {
  const { talk } = await SmtpTalk.open(port);
  try {
    for (const line of ['EHLO load.sender.example', 'MAIL FROM:<load@sender.example>', `RCPT TO:<${recipient}>`]) {
      const reply = await talk.send(line);
      if (!reply.startsWith('250')) throw new Error(`${line}: ${reply}`);
    }
    const reply = await talk.data(body);
    if (!reply.startsWith('250')) throw new Error(`DATA: ${reply}`);
    await talk.send('QUIT');
  } finally {
    talk.close();
  }
}

let sent = 0;

async function sendAll(port: number, total: number) {
  // Each message its own content, as real mail is: every one has its blob, metadata and search text.
  const body = () =>
    `From: load@sender.example\r\nTo: ${recipient}\r\nSubject: statements ${++sent}\r\nMessage-ID: <${sent}@sender.example>\r\n\r\n${`${'y'.repeat(78)}\r\n`.repeat(64)}`;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(sessions, total) }, async () => {
      while (next < total) {
        next++;
        await sendOne(port, body());
      }
    }),
  );
}

async function measure(databaseUrl: string | undefined) {
  const dataDir = await tempDir('holdfast-bench-');
  const database = databaseUrl ? await createScratchDatabase(databaseUrl, 'holdfast_bench') : undefined;
  const backend: TestBackend = {
    location: database
      ? { kind: 'postgres', url: database.url }
      : { kind: 'sqlite', path: join(dataDir, 'holdfast.sqlite') },
    dataDir,
    databaseUrl: database?.url ?? join(dataDir, 'holdfast.sqlite'),
    cleanup: async () => {
      await database?.drop();
      const { rm } = await import('node:fs/promises');
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return guarded(
    () => backend.cleanup(),
    async () => {
      // Deliveries are seen in the log ("mail delivered"), so that waiting for them runs no statement.
      let delivered = 0;
      const logger = pino(
        { level: 'info' },
        { write: (line: string) => void (line.includes('"mail delivered"') && delivered++) },
      );
      const t = await startTestNode(database ? 'postgres' : 'sqlite', {
        backend,
        roles: ['smtp', 'queue'],
        logger,
        toml: '[smtp]\nmax_connections_per_ip = 1000\n',
      });
      return guarded(
        () => t.stop(),
        async () => {
          const tenant = await t.node.holdfast.directory.tenant('default');
          await tenant.addPrincipal({ kind: 'user', address: recipient, password: 'Statement-Count-Words-7' });
          const port = t.port('smtp');
          const deliveredAll = async (target: number) => {
            while (delivered < target) await new Promise((r) => setTimeout(r, 20));
          };
          // Warm up (folders created, caches filled, statements prepared), then count.
          await sendAll(port, 10);
          await deliveredAll(10);
          tally.clear();
          counting = true;
          await sendAll(port, messages);
          await deliveredAll(10 + messages);
          counting = false;
          return new Map(tally);
        },
      );
    },
  );
}

function report(name: string, statements: Map<string, number>) {
  const total = [...statements.values()].reduce((a, b) => a + b, 0);
  console.log(
    `\n${name}: ${(total / messages).toFixed(1)} statements per message (${total} for ${messages} messages, ${sessions} session${sessions > 1 ? 's' : ''} at a time)`,
  );
  const top = [...statements].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
  for (const [text, n] of top)
    console.log(`${(n / messages).toFixed(2).padStart(7)}  ${text.replace(/\s+/g, ' ').slice(0, 150)}`);
}

console.log(
  `statements: ${messages} messages of 5 KB to one local user, ${sessions} SMTP session${sessions > 1 ? 's' : ''} at a time, one message per connection`,
);
report('SQLite', await measure(undefined));
if (values.database) report('PostgreSQL', await measure(values.database));
process.exit(0);
