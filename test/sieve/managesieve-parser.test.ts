// The ManageSieve command reader alone (no I/O): words, quoted strings, literals in both forms,
// commands split anywhere, and the bounds (line length, literal size) that end a hostile session.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeString, parseCommand } from '../../src/protocols/managesieve/managesieve-parser.ts';

const limits = { maxLine: 1024, maxLiteral: 4096 };
const parse = (text: string) => parseCommand(Buffer.from(text), limits);

describe('ManageSieve command reader', () => {
  it('reads atoms, numbers, quoted strings and literals', () => {
    assert.deepEqual(parse('putScript "a \\"b\\" \\\\" {5+}\r\nkeep;\r\n'), {
      kind: 'command',
      words: [
        { kind: 'atom', value: 'PUTSCRIPT' },
        { kind: 'string', value: 'a "b" \\' },
        { kind: 'string', value: 'keep;' },
      ],
      length: 36,
    });
    assert.deepEqual(parse('HAVESPACE "x" 1234\r\n').kind, 'command');
    assert.deepEqual(parse('GETSCRIPT {3}\r\nabc\r\n'), {
      kind: 'command',
      words: [
        { kind: 'atom', value: 'GETSCRIPT' },
        { kind: 'string', value: 'abc' },
      ],
      length: 20,
    });
  });

  it('waits for the rest of a command split at any byte, then reads it whole', () => {
    const text = 'PUTSCRIPT "name" {12+}\r\nline1\r\nline2\r\n';
    for (let cut = 0; cut < text.length; cut++) {
      const partial = parse(text.slice(0, cut));
      assert.equal(partial.kind, 'incomplete', `cut at ${cut}`);
    }
    const whole = parse(text);
    assert.equal(whole.kind, 'command');
    // The literal's size says how much to wait for: nothing is parsed again before it arrives.
    assert.deepEqual(parse('PUTSCRIPT "n" {100+}\r\nabc'), { kind: 'incomplete', need: 122 });
  });

  it('refuses what it cannot read, dropping the line, and ends the session past the bounds', () => {
    assert.deepEqual(parse('PUTSCRIPT "a\r\n'), {
      kind: 'error',
      message: 'a quoted string with a line break (send it as a literal)',
      length: 14,
      fatal: false,
    });
    assert.equal(parse('GET$CRIPT\r\n').kind, 'error');
    assert.equal(parse('NOOP "\\x"\r\n').kind, 'error');
    const huge = parse('PUTSCRIPT "a" {999999+}\r\n');
    assert.ok(huge.kind === 'error' && huge.fatal);
    const long = parse(`NOOP "${'x'.repeat(5000)}`);
    assert.ok(long.kind === 'error' && long.fatal, 'an endless line ends the session');
    const words = parse(`${'NOOP '.repeat(400)}\r\n`);
    assert.ok(words.kind === 'error' && words.fatal);
  });

  it('writes strings quoted when it can, as literals when it must', () => {
    assert.equal(encodeString('rules'), '"rules"');
    assert.equal(encodeString('say "hi"'), '{8}\r\nsay "hi"');
    assert.equal(encodeString('a\r\nb'), '{4}\r\na\r\nb');
  });
});
