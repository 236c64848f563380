// Debian's Pigeonhole (package dovecot-sieve) as the reference for Sieve semantics: `sieve-test` run
// on a script and a message, its report of the actions it would take read into the same normal form
// as ours (sieveActions below), so the differential test compares like with like.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SieveResult } from '../../src/sieve/interpreter.ts';

const run = promisify(execFile);
export const sieveTestPath = '/usr/bin/sieve-test';
export const hasSieveTest = () => existsSync(sieveTestPath);

export class Pigeonhole {
  private constructor(
    readonly dir: string,
    private readonly config: string,
  ) {}

  /** `personal`: the user's other scripts, by name, for include. */
  static async start(personal: Record<string, string> = {}): Promise<Pigeonhole> {
    const dir = await mkdtemp(join(tmpdir(), 'holdfast-pigeonhole-'));
    // sieve-test run as root drops to mail_uid, which must be able to read and write here.
    await chmod(dir, 0o777);
    const scripts = join(dir, 'personal');
    await mkdir(scripts);
    await chmod(scripts, 0o777);
    for (const [name, text] of Object.entries(personal)) {
      await writeFile(join(scripts, `${name}.sieve`), text);
      await chmod(join(scripts, `${name}.sieve`), 0o644);
    }
    const root = process.getuid?.() === 0;
    const config = join(dir, 'dovecot.conf');
    await writeFile(
      config,
      [
        ...(root ? ['mail_uid = 65534', 'mail_gid = 65534'] : []),
        `mail_location = maildir:${dir}/mail`,
        'plugin {',
        '  sieve_extensions = +editheader +vacation-seconds',
        `  sieve = file:${scripts}`,
        '}',
        '',
      ].join('\n'),
    );
    await chmod(config, 0o644);
    return new Pigeonhole(dir, config);
  }

  /** The normal form of what sieve-test would do with this message for this envelope. */
  async actions(
    name: string,
    script: string,
    message: string,
    envelope: { from: string; to: string },
  ): Promise<string[]> {
    const scriptFile = join(this.dir, `${name}.sieve`);
    const messageFile = join(this.dir, `${name}.eml`);
    await writeFile(scriptFile, script);
    await writeFile(messageFile, message);
    await chmod(scriptFile, 0o644);
    await chmod(messageFile, 0o644);
    const args = [
      '-c',
      this.config,
      '-f',
      envelope.from || '<>',
      '-a',
      envelope.to,
      '-r',
      envelope.to,
      scriptFile,
      messageFile,
    ];
    let output: string;
    try {
      const { stdout, stderr } = await run(sieveTestPath, args, { timeout: 20_000 });
      output = `${stdout}\n${stderr}`;
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string };
      output = `${e.stdout ?? ''}\n${e.stderr ?? ''}`;
    }
    return parseReport(output);
  }

  stop() {
    return rm(this.dir, { recursive: true, force: true });
  }
}

/** sieve-test's report ("Performed actions:" and "Implicit keep:") in the normal form. */
export function parseReport(output: string): string[] {
  if (/failed to compile sieve script/.test(output)) return ['compile-error'];
  if (/final result: failed/.test(output)) return ['error'];
  const out: string[] = [];
  let current: string | undefined;
  let vacation: Record<string, string> | undefined;
  let field: string | undefined;
  const flush = () => {
    if (vacation)
      out.push(`vacation seconds=${vacation.seconds} subject=${vacation.subject ?? ''} handle=${vacation.handle}`);
    else if (current) out.push(current);
    current = undefined;
    vacation = undefined;
  };
  for (const line of output.split(/\r?\n/)) {
    let m: RegExpExecArray | null;
    if ((m = /^ \* store message in folder: (.*)$/.exec(line))) {
      flush();
      current = `store ${m[1]}`;
    } else if ((m = /^\s+\+ add IMAP flags: (.*)$/.exec(line)) && current) {
      current += ` flags=${normalFlags(m[1]!.split(' '))}`;
    } else if ((m = /^ \* redirect message to: <?([^>]*)>?$/.exec(line))) {
      flush();
      current = `redirect ${m[1]}`;
    } else if (/^ \* discard$/.test(line)) {
      flush();
      current = 'discard';
    } else if ((m = /^ \* reject message with reason: (.*)$/.exec(line))) {
      flush();
      current = `reject ${m[1]}`;
    } else if (/^ \* send vacation message:/.test(line)) {
      flush();
      vacation = {};
    } else if ((m = /^\s+=> (\w+)\s*: (.*)$/.exec(line)) && vacation) {
      vacation[m[1]!] = m[2]!;
      field = m[1];
    } else if (vacation && field === 'handle' && !/^START MESSAGE/.test(line)) {
      // A handle with line breaks (a text: reason) goes on over the following lines.
      vacation.handle += line;
    } else if (/^START MESSAGE/.test(line)) {
      field = undefined;
    } else if ((m = /^ \* (.*)$/.exec(line))) {
      flush();
      current = `other ${m[1]}`;
    }
  }
  flush();
  return out.sort();
}

const normalFlags = (flags: string[]) =>
  flags
    .map((f) => f.toLowerCase())
    .filter(Boolean)
    .sort()
    .join(' ');

/** Our result in the same normal form. */
export function sieveActions(result: SieveResult): string[] {
  const out: string[] = [];
  for (const store of result.stores)
    out.push(`store ${store.folder}${store.flags.length ? ` flags=${normalFlags(store.flags)}` : ''}`);
  for (const address of result.redirects) out.push(`redirect ${address}`);
  if (result.discarded) out.push('discard');
  if (result.reject) out.push(`reject ${result.reject.reason}`);
  const v = result.vacation;
  if (v) out.push(`vacation seconds=${v.seconds} subject=${v.subject ?? ''} handle=${v.handle.replace(/\r?\n/g, '')}`);
  return out.sort();
}
