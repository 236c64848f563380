// The command parser alone, fed random and mutated input: it must never throw anything but a
// ParseError, never hang, and never buffer more than its limits.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Args } from '../../src/protocols/imap/parser/args.ts';
import { CommandReader, type CommandFrame } from '../../src/protocols/imap/parser/command-reader.ts';
import { parseFetchItems } from '../../src/protocols/imap/parser/fetch-items.ts';
import {
  decideLiteral,
  literalMinusLimit,
  maxCommandBeforeLogin,
  maxSmallLiteral,
} from '../../src/protocols/imap/parser/literal-limits.ts';
import { parseSearch } from '../../src/protocols/imap/parser/search-keys.ts';
import { ParseError, tokenizeCommand } from '../../src/protocols/imap/parser/tokenizer.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { random } from '../helpers/fuzz.ts';

const seeds = [
  'a1 LOGIN "user@example.com" "secret"',
  'a2 SELECT INBOX (CONDSTORE)',
  'a3 UID FETCH 1:*,7 (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]<0.100> BODYSTRUCTURE) (CHANGEDSINCE 12 VANISHED)',
  'a4 STORE 1:3 (UNCHANGEDSINCE 5) +FLAGS.SILENT (\\Seen $Junk)',
  'a5 SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR (FROM "bob" SINCE 1-Feb-2026) NOT BODY {5+}\r\nhello',
  'a6 APPEND Drafts (\\Draft) "23-Nov-2026 10:00:00 +0000" {11+}\r\nHello world',
  'a7 LIST (SUBSCRIBED) "" ("INBOX" "Work/%") RETURN (STATUS (MESSAGES UNSEEN))',
];

const alphabet = ' ()[]<>{}"\\*%$:,.+-~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\r\n\0\x7f\xe9';

/** The shared mutations (helpers/fuzz.ts) plus one IMAP's framing must survive: a literal announced mid-line. */
function mutate(text: string, rand: () => number): string {
  let out = text;
  const edits = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rand() * (out.length + 1));
    const choice = rand();
    const char = alphabet[Math.floor(rand() * alphabet.length)];
    if (choice < 0.4) out = out.slice(0, at) + char + out.slice(at);
    else if (choice < 0.7) out = out.slice(0, at) + out.slice(at + 1);
    else if (choice < 0.85)
      out = `${out.slice(0, at)}{${Math.floor(rand() * 40)}${rand() < 0.5 ? '+' : ''}}\r\n${out.slice(at)}`;
    else out = out.slice(0, at) + out.slice(at).split('').reverse().join('');
  }
  return out;
}

/** Everything a session would do with a frame, minus the store. */
function interpret(frame: CommandFrame) {
  const command = tokenizeCommand(frame);
  const args = new Args(command.args);
  switch (command.name) {
    case 'UID':
      args.atom('command');
      args.atom('set');
      if (args.more()) parseFetchItems(args.next('items'));
      break;
    case 'SEARCH':
      parseSearch(args);
      break;
    default:
      while (args.more()) args.next('argument');
  }
}

describe('IMAP command parser under fuzzing', () => {
  it('survives 20,000 mutated commands with only ParseErrors and bounded memory', () => {
    const rand = random(20261123);
    let frames = 0;
    let refusals = 0;
    for (let i = 0; i < 20_000; i++) {
      const input = Buffer.from(`${mutate(seeds[i % seeds.length]!, rand)}\r\n`, 'latin1');
      const reader = new CommandReader(
        {
          frame: (frame) => {
            frames++;
            try {
              interpret(frame);
            } catch (error) {
              if (!(error instanceof ParseError))
                throw new Error(
                  `not a ParseError for ${JSON.stringify(input.toString('latin1'))}: ${(error as Error).stack}`,
                );
            }
          },
          literal: (size) => ({ accept: size <= 64, reason: 'too big' }),
          proceed: () => {},
          refused: () => refusals++,
        },
        1024,
      );
      // Fed in random pieces, as TCP may split it.
      let at = 0;
      while (at < input.length) {
        const step = 1 + Math.floor(rand() * 16);
        reader.push(input.subarray(at, at + step));
        at += step;
      }
    }
    assert.ok(frames > 10_000, `only ${frames} frames parsed`);
    assert.ok(refusals > 0);
  });

  it('does not buffer an endless line', () => {
    let refused = 0;
    const reader = new CommandReader(
      {
        frame: () => assert.fail('no frame expected'),
        literal: () => ({ accept: true }),
        proceed: () => {},
        refused: () => refused++,
      },
      1024,
    );
    for (let i = 0; i < 10_000; i++) reader.push(Buffer.alloc(1000, 'x'));
    assert.equal(refused, 1);
    assert.ok((reader as unknown as { pending: Buffer }).pending.length <= 1024);
  });

  it('caps the whole of a command, not only each literal: endless literals before login end the connection', () => {
    const refusals: { reply: string; close: boolean }[] = [];
    let accepted = 0;
    const reader = new CommandReader(
      {
        frame: () => assert.fail('no frame expected'),
        literal: (size, synchronizing, firstLine, totalSoFar) => {
          const decision = decideLiteral(
            { size, synchronizing, command: firstLine.split(' ')[1], totalSoFar },
            { loggedIn: false, appendLimit: 50_000_000 },
          );
          if (decision.accept) accepted += size;
          return decision;
        },
        proceed: () => {},
        refused: (_tag, reply, close) => refusals.push({ reply, close }),
      },
      1024,
    );
    // `a LOGIN {4096+}` and then more of them for ever, each within LITERAL-'s 4096 bytes.
    reader.push(Buffer.from('a LOGIN {4096+}\r\n'));
    const piece = Buffer.concat([Buffer.alloc(4096, 'x'), Buffer.from(' {4096+}\r\n')]);
    for (let i = 0; i < 10_000; i++) reader.push(piece);
    assert.deepEqual(refusals, [
      { reply: `[TOOBIG] Before login a command may have at most ${maxCommandBeforeLogin} bytes`, close: true },
    ]);
    assert.ok(accepted <= maxCommandBeforeLogin);
    // One literal over LITERAL-'s limit is refused at once.
    const alone = decideLiteral(
      { size: literalMinusLimit + 1, synchronizing: false, command: 'LOGIN', totalSoFar: 20 },
      { loggedIn: false, appendLimit: 50_000_000 },
    );
    assert.equal(alone.accept, false);
    assert.equal(alone.close, true);
    assert.match(alone.reason!, /^\[TOOBIG\]/);
  });

  it('never lets a fuzzed chain of literals make a command larger than its limit', () => {
    const rand = random(7888);
    for (let round = 0; round < 2000; round++) {
      const loggedIn = rand() < 0.5;
      const limits = { loggedIn, appendLimit: 1 + Math.floor(rand() * 200_000) };
      const maxLine = 256;
      let closed = false;
      let biggest = 0;
      const reader = new CommandReader(
        {
          frame: (frame) => {
            assert.ok(!closed, 'a frame after the reader was told to close');
            biggest = Math.max(
              biggest,
              frame.parts.reduce((sum, part) => sum + part.length, 0),
            );
          },
          literal: (size, synchronizing, firstLine, totalSoFar) =>
            decideLiteral({ size, synchronizing, command: firstLine.split(' ')[1]?.toUpperCase(), totalSoFar }, limits),
          proceed: () => {},
          refused: (_tag, _reply, close) => {
            assert.ok(!closed, 'a refusal after the reader was told to close');
            closed ||= close;
          },
        },
        maxLine,
      );
      const command = rand() < 0.3 ? 'APPEND' : rand() < 0.5 ? 'LOGIN' : 'SEARCH';
      reader.push(Buffer.from(`a ${command} `));
      for (let i = 0, n = Math.floor(rand() * 40); i < n && !closed; i++) {
        const size = Math.floor(rand() * (rand() < 0.8 ? 5000 : 100_000));
        reader.push(Buffer.from(`{${size}${rand() < 0.7 ? '+' : ''}}\r\n`));
        reader.push(Buffer.alloc(size, 'y'));
        reader.push(Buffer.from(' '));
      }
      reader.push(Buffer.from('\r\n'));
      const limit = loggedIn ? limits.appendLimit + maxSmallLiteral : maxCommandBeforeLogin;
      assert.ok(
        biggest <= limit + maxLine,
        `a command of ${biggest} bytes got through (limit ${limit}, ${JSON.stringify(limits)})`,
      );
    }
  });
});

// RFC 3501 / RFC 9051 formal syntax: ASTRING-CHAR is any CHAR but atom-specials ("(" ")" "{" SP CTL
// list-wildcards quoted-specials), with resp-specials ("]") allowed again; a LIST pattern adds "%" and "*".
const astringChars = [...Array(0x7f - 0x21).keys()]
  .map((i) => String.fromCharCode(0x21 + i))
  .filter((c) => !'(){%*"\\'.includes(c))
  .join('');
const listChars = `${astringChars}%*`;

function pick(rand: () => number, chars: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += chars[Math.floor(rand() * chars.length)];
  return out;
}

/** A mailbox name as an atom, a quoted string or a literal: every form a client may send. */
function nameArgument(rand: () => number, chars: string): { text: string; value: string } {
  const form = rand();
  if (form < 0.6) {
    const value = pick(rand, chars, 1 + Math.floor(rand() * 12));
    return { text: value, value };
  }
  const value = pick(rand, `${chars} "\\`, 1 + Math.floor(rand() * 12));
  if (form < 0.85) return { text: `"${value.replace(/[\\"]/g, '\\$&')}"`, value };
  return { text: `{${value.length}+}\r\n${value}`, value };
}

/** A valid command naming mailboxes, with the names its arguments must come out as. */
function validCommand(rand: () => number): { line: string; names: string[] } {
  const name = nameArgument(rand, astringChars);
  const other = nameArgument(rand, astringChars);
  const pattern = nameArgument(rand, listChars);
  const choices: [string, string[]][] = [
    [`SELECT ${name.text}`, [name.value]],
    [`EXAMINE ${name.text}`, [name.value]],
    [`STATUS ${name.text} (MESSAGES UIDNEXT)`, [name.value]],
    [`CREATE ${name.text}`, [name.value]],
    [`DELETE ${name.text}`, [name.value]],
    [`SUBSCRIBE ${name.text}`, [name.value]],
    [`UNSUBSCRIBE ${name.text}`, [name.value]],
    [`RENAME ${name.text} ${other.text}`, [name.value, other.value]],
    [`LIST "" ${pattern.text}`, ['', pattern.value]],
    [`LIST ${name.text} ${pattern.text}`, [name.value, pattern.value]],
    [`LSUB "" ${pattern.text}`, ['', pattern.value]],
  ];
  const [line, names] = choices[Math.floor(rand() * choices.length)]!;
  return { line, names };
}

/** The frame a reader makes of one command (literals already accepted). */
function frameOf(line: string): CommandFrame {
  let frame: CommandFrame | undefined;
  const reader = new CommandReader({
    frame: (f) => (frame = f),
    literal: () => ({ accept: true }),
    proceed: () => {},
    refused: () => assert.fail(`refused: ${line}`),
  });
  reader.push(Buffer.from(`${line}\r\n`, 'latin1'));
  return frame ?? assert.fail(`no frame for ${JSON.stringify(line)}`);
}

describe('IMAP mailbox names with every allowed character', () => {
  it('parses every valid mailbox argument into exactly the name sent', () => {
    const rand = random(3501);
    // The names from issue 14: "[" without "]", "]" in an atom.
    const fixed = [
      "SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}",
      'LIST "" !#$&\'+,-.0123456789:;<=>?@^_`|[}%*',
      'SELECT a]b',
      'LIST "" ]*[%',
    ];
    for (const line of fixed) {
      const command = tokenizeCommand(frameOf(`a ${line}`));
      assert.equal(command.args.at(-1)!.kind, 'atom', line);
      assert.equal((command.args.at(-1) as { value: string }).value, line.split(' ').at(-1), line);
    }
    for (let i = 0; i < 20_000; i++) {
      const { line, names } = validCommand(rand);
      const command = tokenizeCommand(frameOf(`a${i} ${line}`));
      const values = command.args.filter((t) => t.kind !== 'list').map((t) => (t as { value: string }).value);
      assert.deepEqual(values.slice(0, names.length), names, line);
    }
    // FETCH sections keep their spaces, lists and quotes.
    const fetch = tokenizeCommand(
      frameOf('a FETCH 1 (BODY.PEEK[HEADER.FIELDS ("From" Subject)]<0.10> BINARY[1] BODY[])'),
    );
    assert.deepEqual(
      (fetch.args[1] as { items: { value: string }[] }).items.map((t) => t.value),
      ['BODY.PEEK[HEADER.FIELDS ("From" Subject)]<0.10>', 'BINARY[1]', 'BODY[]'],
    );
  });

  describe('over a connection', () => {
    let t: TestNode;
    before(async () => {
      t = await startTestNode('sqlite');
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'fuzz@test.example', password: 'Wonderland-42' });
    });
    after(() => t.stop());

    it('answers random valid commands OK or NO, never BAD, and never closes the connection', async () => {
      const { talk } = await ImapTalk.open(t.port('imaps'), { tls: true });
      await talk.login('fuzz@test.example', 'Wonderland-42');
      const rand = random(9051);
      const lines = [
        "SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}",
        'LIST "" !#$&\'+,-.0123456789:;<=>?@^_`|[}%*',
        'CREATE a]b[c',
        'SELECT a]b[c',
        'LIST "" a]*',
      ];
      for (let i = 0; i < 1500; i++) lines.push(validCommand(rand).line);
      for (const line of lines) {
        const reply = await talk.command(line);
        assert.doesNotMatch(
          reply,
          /^t\d+ BAD|\(connection closed\)/m,
          `${JSON.stringify(line)} got ${JSON.stringify(reply)}`,
        );
      }
      assert.match(await talk.command("SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}"), /^t\d+ NO /m);
      assert.match(await talk.command('NOOP'), /OK/);
      talk.close();
    });
  });
});
