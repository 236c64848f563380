// The command parser alone, fed random and mutated input: it must never throw anything but a
// ParseError, never hang, and never buffer more than its limits.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Args } from '../../src/protocols/imap/parser/args.ts';
import { CommandReader, type CommandFrame } from '../../src/protocols/imap/parser/command-reader.ts';
import { parseFetchItems } from '../../src/protocols/imap/parser/fetch-items.ts';
import { decideLiteral, literalMinusLimit, maxCommandBeforeLogin, maxSmallLiteral } from '../../src/protocols/imap/parser/literal-limits.ts';
import { parseSearch } from '../../src/protocols/imap/parser/search-keys.ts';
import { ParseError, tokenizeCommand } from '../../src/protocols/imap/parser/tokenizer.ts';

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

function random(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function mutate(text: string, rand: () => number): string {
  let out = text;
  const edits = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rand() * (out.length + 1));
    const choice = rand();
    const char = alphabet[Math.floor(rand() * alphabet.length)];
    if (choice < 0.4) out = out.slice(0, at) + char + out.slice(at);
    else if (choice < 0.7) out = out.slice(0, at) + out.slice(at + 1);
    else if (choice < 0.85) out = out.slice(0, at) + `{${Math.floor(rand() * 40)}${rand() < 0.5 ? '+' : ''}}\r\n` + out.slice(at);
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
      const input = Buffer.from(`${mutate(seeds[i % seeds.length], rand)}\r\n`, 'latin1');
      const reader = new CommandReader(
        {
          frame: (frame) => {
            frames++;
            try {
              interpret(frame);
            } catch (error) {
              if (!(error instanceof ParseError)) throw new Error(`not a ParseError for ${JSON.stringify(input.toString('latin1'))}: ${(error as Error).stack}`);
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
    const reader = new CommandReader({ frame: () => assert.fail('no frame expected'), literal: () => ({ accept: true }), proceed: () => {}, refused: () => refused++ }, 1024);
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
          const decision = decideLiteral({ size, synchronizing, command: firstLine.split(' ')[1], totalSoFar }, { loggedIn: false, appendLimit: 50_000_000 });
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
    assert.deepEqual(refusals, [{ reply: `[TOOBIG] Before login a command may have at most ${maxCommandBeforeLogin} bytes`, close: true }]);
    assert.ok(accepted <= maxCommandBeforeLogin);
    // One literal over LITERAL-'s limit is refused at once.
    const alone = decideLiteral({ size: literalMinusLimit + 1, synchronizing: false, command: 'LOGIN', totalSoFar: 20 }, { loggedIn: false, appendLimit: 50_000_000 });
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
            biggest = Math.max(biggest, frame.parts.reduce((sum, part) => sum + part.length, 0));
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
      assert.ok(biggest <= limit + maxLine, `a command of ${biggest} bytes got through (limit ${limit}, ${JSON.stringify(limits)})`);
    }
  });
});
