// npm run conformance:imap -- [--strict] [--database postgres://…] [fixture…]
//
// Runs the scripted IMAP sessions in conformance/imap/fixtures/ against Dovecot (the reference for
// IMAP4rev1 semantics) and against a Holdfast started for the run, and prints every reply that
// differs once normalised (normalise.ts). Differences listed in deliberate.json are Holdfast's
// choices, each with its reason; --strict exits 1 on any other.
//
// A fixture is JSON: `messages` to APPEND first ({ folder, flags, date, lines }) and `commands`, sent
// as written, one session per fixture and server, logged in as a user of its own.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ImapTalk } from '../../test/helpers/imap-talk.ts';
import { withHoldfastImap } from '../../bench/lib/imap-servers.ts';
import { dovecotPassword, withReferenceDovecot } from './dovecot.ts';
import { Normaliser } from './normalise.ts';

interface Fixture {
  name: string;
  messages: { folder?: string; flags?: string; date?: string; lines: string[] }[];
  commands: string[];
}
/**
 * A deliberate difference: in one fixture's command, or anywhere when those are left out; the whole
 * reply, or only the differing lines (as printed: "- " Dovecot's, "+ " Holdfast's) that match `lines`.
 */
interface Deliberate {
  fixture?: string;
  command?: string;
  lines?: string[];
  reason: string;
}
interface Server {
  name: string;
  port: number;
  login(fixture: string): string;
}

const { values, positionals } = parseArgs({
  options: { strict: { type: 'boolean', default: false }, database: { type: 'string' } },
  allowPositionals: true,
});
// Both servers write dates in UTC, so that a date the fixture sets reads the same from either.
process.env.TZ = 'UTC';
const here = fileURLToPath(new URL('.', import.meta.url));
const fixtures: Fixture[] = readdirSync(join(here, 'fixtures'))
  .filter(
    (file) => file.endsWith('.json') && (positionals.length === 0 || positionals.includes(basename(file, '.json'))),
  )
  .sort()
  .map((file) => ({
    name: basename(file, '.json'),
    ...JSON.parse(readFileSync(join(here, 'fixtures', file), 'utf8')),
  }));
const deliberate: Deliberate[] = JSON.parse(readFileSync(join(here, 'deliberate.json'), 'utf8'));
const holdfastPassword = 'Conformance-Check-42';

/** The commands a server ran for a fixture (APPENDs first), each with its normalised reply. */
async function transcript(
  server: Server,
  fixture: Fixture,
  started: number,
): Promise<{ command: string; lines: string[] }[]> {
  const { talk } = await ImapTalk.open(server.port);
  await talk.command(`LOGIN ${server.login(fixture.name)}`);
  const normaliser = new Normaliser(started);
  const appends = fixture.messages.map(({ folder = 'INBOX', flags, date, lines }) => {
    const text = lines.join('\r\n');
    return `APPEND ${folder}${flags !== undefined ? ` (${flags})` : ''}${date ? ` "${date}"` : ''} {${Buffer.byteLength(text)}+}\r\n${text}`;
  });
  const result = [];
  for (const command of [...appends, ...fixture.commands]) {
    const reply = await talk.command(command).catch((error: Error) => `(no reply: ${error.message.split(';')[0]})`);
    result.push({
      command: command.split('\r\n')[0]!,
      lines: reply.startsWith('(no reply')
        ? [reply]
        : normaliser.lines(reply.replace(/\bt\d+ (?=(OK|NO|BAD)\b)/g, 'tag '), command),
    });
    if (reply.startsWith('(no reply') || reply.endsWith('(connection closed)')) break;
  }
  talk.close();
  return result;
}

async function compare(dovecot: Server, holdfast: Server) {
  const started = Date.now();
  let compared = 0;
  let differing = 0;
  let unexplained = 0;
  for (const fixture of fixtures) {
    const [reference, ours] = [
      await transcript(dovecot, fixture, started),
      await transcript(holdfast, fixture, started),
    ];
    for (let i = 0; i < Math.max(reference.length, ours.length); i++) {
      compared++;
      const [d, h] = [reference[i], ours[i]];
      const dLines = d?.lines ?? ['(no reply: the connection had closed)'];
      const hLines = h?.lines ?? ['(no reply: the connection had closed)'];
      if (dLines.join('\n') === hLines.join('\n')) continue;
      differing++;
      const command = (d ?? h)!.command;
      const changed = [
        ...dLines.filter((l) => !hLines.includes(l)).map((l) => `- ${l}`),
        ...hLines.filter((l) => !dLines.includes(l)).map((l) => `+ ${l}`),
      ];
      const applies = deliberate.filter(
        (x) => (x.fixture ?? fixture.name) === fixture.name && (x.command ?? command) === command,
      );
      const reasons = new Set<string>();
      const explained = changed.every((line) => {
        const known = applies.find((x) => !x.lines || x.lines.some((pattern) => new RegExp(pattern).test(line)));
        if (known) reasons.add(known.reason);
        return known;
      });
      if (!explained) unexplained++;
      console.log(
        `${fixture.name} #${i + 1}: ${command}${explained ? `   (deliberate: ${[...reasons].join('; ')})` : ''}`,
      );
      for (const line of changed)
        console.log(`  ${line[0]} ${line[0] === '-' ? 'dovecot ' : 'holdfast'}  ${line.slice(2)}`);
      if (dLines.every((l) => hLines.includes(l)) && hLines.every((l) => dLines.includes(l)))
        console.log('  (the same lines, a different number of times)');
    }
  }
  console.log(
    `\nconformance:imap: ${compared} commands compared in ${fixtures.length} fixtures; ${differing} differ, ${differing - unexplained} of them deliberate (deliberate.json), ${unexplained} not`,
  );
  return unexplained;
}

const unexplained = await withReferenceDovecot((dovecotPort) =>
  withHoldfastImap(
    { users: fixtures.map((f) => `${f.name}@bench.example`), password: holdfastPassword, databaseUrl: values.database },
    (server) =>
      compare(
        { name: 'Dovecot', port: dovecotPort, login: (fixture) => `${fixture} ${dovecotPassword}` },
        {
          name: 'Holdfast',
          port: server.port('imap'),
          login: (fixture) => `${fixture}@bench.example ${holdfastPassword}`,
        },
      ),
  ),
);
process.exitCode = values.strict && unexplained > 0 ? 1 : 0;
