// [sieve] in the configuration: the bounds of scripts (docs/rules.md "Limits") with the documented
// values as defaults; a value out of range is refused naming the key, the value and what is allowed;
// the values given are the ones scripts are held to when saved and when they run.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { compileScript, defaultCompileLimits } from '../../src/sieve/compile.ts';
import { defaultSieveLimits, runScript } from '../../src/sieve/interpreter.ts';
import { SieveError } from '../../src/sieve/sieve-error.ts';
import { SieveMessage } from '../../src/sieve/sieve-message.ts';
import { checkScript } from '../../src/sieve/sieve-scripts.ts';
import { tempDir } from '../helpers/backends.ts';

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
