// [sieve] in the configuration: the bounds of scripts (docs/rules.md "Limits") with the documented
// values as defaults; a value out of range is refused naming the key, the value and what is allowed;
// the values given are the ones scripts are held to when saved and when they run: by ManageSieve
// (MAXREDIRECTS, HAVESPACE, PUTSCRIPT) and at delivery, on both backends.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { compileScript, defaultCompileLimits } from '../../src/sieve/compile.ts';
import { defaultSieveLimits, runScript } from '../../src/sieve/interpreter.ts';
import { SieveError } from '../../src/sieve/sieve-error.ts';
import { SieveMessage } from '../../src/sieve/sieve-message.ts';
import { checkScript } from '../../src/sieve/sieve-scripts.ts';
import { backendNames, skipFor, tempDir } from '../helpers/backends.ts';
import { password, startJmapNode } from '../jmap/jmap-test-node.ts';

const env = { HOLDFAST_HOSTNAME: 'mail.example.com' };

async function withFile(toml: string) {
  const cwd = await tempDir();
  const file = join(cwd, 'holdfast.toml');
  await writeFile(file, toml);
  return { cwd, file };
}

async function refusal(toml: string): Promise<{ message: string; file: string }> {
  const { cwd, file } = await withFile(toml);
  try {
    loadConfig({ env, cwd });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return { message: error.message, file };
  }
  assert.fail(`accepted: ${toml}`);
}

describe('[sieve] configuration', () => {
  it('defaults to the limits sieve/ has always had', async () => {
    const config = loadConfig({ env, cwd: await tempDir() });
    assert.deepEqual(config.sieve.compile, defaultCompileLimits);
    assert.deepEqual(config.sieve.run, defaultSieveLimits);
  });

  it('reads every key', async () => {
    const { cwd } = await withFile(
      [
        '[sieve]',
        'max_script_size = "64KiB"',
        'max_tokens = 1000',
        'max_commands = 200',
        'max_nesting = 8',
        'max_list_length = 64',
        'max_work = "20ms"',
        'max_run_time = "1s"',
        'max_redirects = 1',
        'max_actions = 10',
        'max_variables = 32',
        'max_variable_length = 1024',
        'max_include_depth = 2',
        '',
      ].join('\n'),
    );
    const config = loadConfig({ env, cwd });
    assert.deepEqual(config.sieve, {
      compile: { maxScriptBytes: 65536, maxTokens: 1000, maxNodes: 200, maxNesting: 8, maxListLength: 64 },
      run: {
        maxSteps: 20_000,
        maxMillis: 1000,
        maxRedirects: 1,
        maxActions: 10,
        maxVariables: 32,
        maxVariableLength: 1024,
        maxIncludeDepth: 2,
      },
    });
    // Held to them: a script is checked against the configured sizes, and runs within the configured actions.
    const deep =
      'if true { if true { if true { if true { if true { if true { if true { if true { if true { keep; } } } } } } } } }';
    assert.equal(checkScript(deep), undefined, 'within the default nesting');
    assert.match(checkScript(deep, config.sieve.compile) ?? '', /nested more than 8 deep/);
    const twice = compileScript('redirect "a@example.com"; redirect "b@example.com";', config.sieve.compile);
    const message = new SieveMessage(Buffer.from('Subject: hi\r\n\r\nbody\r\n'), 22);
    const environment = {
      envelope: { from: 'x@example.net', to: 'alice@example.com' },
      now: Date.now(),
      folders: new Set<string>(),
      scripts: new Map(),
    };
    assert.equal(runScript(twice, message, environment).redirects.length, 2);
    assert.throws(
      () => runScript(twice, message, { ...environment, limits: config.sieve.run }),
      (error: unknown) => error instanceof SieveError && /more than 1 redirects/.test(error.message),
    );
  });

  it('refuses a value out of range, naming the key, the value and the range', async () => {
    const cases: [string, string][] = [
      ['max_redirects = 65', 'sieve.max_redirects = 65 is not allowed: expected a whole number from 0 to 64'],
      ['max_nesting = 2', 'sieve.max_nesting = 2 is not allowed: expected a whole number from 4 to 64'],
      [
        'max_tokens = "lots"',
        'sieve.max_tokens = "lots" is not allowed: expected a whole number from 100 to 1,000,000',
      ],
      ['max_variables = 1.5', 'sieve.max_variables = 1.5 is not allowed: expected a whole number from 8 to 4,096'],
      ['max_script_size = "2MiB"', 'sieve.max_script_size = "2MiB" is not allowed: expected a size from 1KiB to 1MiB'],
      ['max_run_time = "1ms"', 'sieve.max_run_time = "1ms" is not allowed: expected a duration from 10ms to 10s'],
      ['max_work = "1m"', 'sieve.max_work = "1m" is not allowed: expected a duration from 1ms to 10s'],
    ];
    for (const [line, expected] of cases) {
      const { message, file } = await refusal(`[sieve]\n${line}\n`);
      assert.equal(message, `${file}: ${expected}`);
    }
    const { message } = await refusal('[sieve]\nmax_scripts = 3\n');
    assert.match(message, /unknown key "max_scripts" in \[sieve\]/);
  });
});

/** A ManageSieve exchange over a plain socket: each send resolves to the text up to its OK/NO line. */
async function manageSieve(port: number) {
  const socket = connect(port, '127.0.0.1');
  let buffer = '';
  let wake: (() => void) | undefined;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    wake?.();
  });
  const response = async () => {
    for (;;) {
      const end = /^(OK|NO|BYE)\b.*\r\n/m.exec(buffer);
      // A reason with quotes in it comes as a literal after the line: {n} and n more bytes.
      const literal = end && /\{(\d+)\}\r\n$/.exec(end[0]);
      const length = end ? end.index + end[0].length + (literal ? Number(literal[1]) + 2 : 0) : Infinity;
      if (end && buffer.length >= length) {
        const text = buffer.slice(0, length);
        buffer = buffer.slice(length);
        return text;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };
  const greeting = await response();
  return {
    greeting,
    send: (line: string) => {
      socket.write(`${line}\r\n`);
      return response();
    },
    close: () => socket.destroy(),
  };
}

for (const name of backendNames) {
  describe(`[sieve] settings in a running server on ${name}`, { skip: skipFor(name) }, () => {
    it('ManageSieve and delivery hold scripts to the configured limits', async () => {
      const alice = 'alice@test.example';
      const j = await startJmapNode(name, [alice], {
        toml: '[imap]\nplaintext_login = true\n[sieve]\nmax_redirects = 1\nmax_script_size = "2KiB"\n',
      });
      try {
        const talk = await manageSieve(j.t.port('managesieve'));
        try {
          assert.match(talk.greeting, /^"MAXREDIRECTS" "1"\r$/m);
          const plain = Buffer.from(`\0${alice}\0${password}`).toString('base64');
          assert.match(await talk.send(`AUTHENTICATE "PLAIN" "${plain}"`), /^OK/m);
          assert.match(
            await talk.send('HAVESPACE "big" 3000'),
            /^NO \(QUOTA\/MAXSIZE\) "A script is at most 2048 octets"/m,
          );
          const big = `# ${'x'.repeat(2100)}\r\nkeep;\r\n`;
          assert.match(
            await talk.send(`PUTSCRIPT "big" {${big.length}+}\r\n${big}`),
            /^NO \{\d+\}\r\n.*larger than 2048 bytes/m,
          );
          const two = 'redirect "a@elsewhere.example";\r\nredirect "b@elsewhere.example";\r\n';
          assert.match(await talk.send(`PUTSCRIPT "two" {${two.length}+}\r\n${two}`), /^OK/m);
          assert.match(await talk.send('SETACTIVE "two"'), /^OK/m);
        } finally {
          talk.close();
        }
        const transport = nodemailer.createTransport({
          host: '127.0.0.1',
          port: j.t.port('smtp'),
          secure: false,
          ignoreTLS: true,
        });
        await transport.sendMail({
          envelope: { from: 'erin@remote.example', to: [alice] },
          raw: `From: erin@remote.example\r\nTo: ${alice}\r\nSubject: Twice\r\nMessage-ID: <twice@remote.example>\r\n\r\nHi\r\n`,
        });
        transport.close();
        // Over the configured limit the script fails: the message is kept and the owner told why.
        await j.t.waitFor(
          async () => (await j.t.mailbox(alice)).some((m) => /more than 1 redirects for one message/.test(m.text)),
          'the notice of the failed script',
        );
        assert.ok((await j.t.mailbox(alice)).some((m) => m.text.includes('Subject: Twice')));
      } finally {
        await j.t.stop();
      }
    });
  });
}
