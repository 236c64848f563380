// Password hashing with scrypt (memory-hard, in Node's own crypto) and the strength rule that
// every way of setting a password applies. Every hash, checked or made, waits its turn in the
// process's KDF queue (kdf-queue.ts), which may refuse it with a temporary failure in a storm.
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { invalid } from '../errors.ts';
import { createRequire } from 'node:module';
import type { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { kdfQueue } from './kdf-queue.ts';

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  kdfQueue.run(
    () =>
      new Promise<Buffer>((resolve, reject) =>
        scryptCallback(password, salt, keylen, options, (error, key) => (error ? reject(error) : resolve(key))),
      ),
  );

// 2^15 × 8 × 128 bytes = 32 MiB of memory per hash: expensive to brute-force, about 0.1 s to check.
const defaults = { logN: 15, r: 8, p: 1 };
const keyLength = 32;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const { logN, r, p } = defaults;
  const key = await scrypt(password, salt, keyLength, { N: 2 ** logN, r, p, maxmem: 128 * 2 ** logN * r * 2 });
  return `$scrypt$ln=${logN},r=${r},p=${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([^$]+)\$([^$]+)$/.exec(stored);
  if (!match) return false;
  const [, logN, r, p, salt, hash] = match;
  const expected = Buffer.from(hash!, 'base64');
  const N = 2 ** Number(logN);
  const key = await scrypt(password, Buffer.from(salt!, 'base64'), expected.length, {
    N,
    r: Number(r),
    p: Number(p),
    maxmem: 128 * N * Number(r) * 2,
  });
  return timingSafeEqual(key, expected);
}

// A hash of a random password with today's parameters, made once: checking a password against it
// costs what checking a real one costs, so an unknown user takes as long to refuse as a wrong
// password and the answer time does not tell which addresses exist.
let dummyHash: Promise<string> | undefined;

/** Spends the time of one password check and answers false: for a user who does not exist. */
export async function verifyNoPassword(password: string): Promise<false> {
  // Made in the KDF queue like any hash: refused in a storm, it is made again by the next call.
  dummyHash ??= hashPassword(randomBytes(16).toString('base64')).catch((error: unknown) => {
    dummyHash = undefined;
    throw error;
  });
  await verifyPassword(password, await dummyHash);
  return false;
}

/**
 * zxcvbn's estimate of how many guesses a password takes, as a score from 0 to 4, against dictionaries
 * of common passwords, names and English words and keyboard patterns. Score 2 means more than 10^8
 * guesses: enough where guessing goes through the throttled sign-in and hashes are memory-hard
 * (Password123 and Welcome2024 score 1).
 */
export const minimumPasswordScore = 2;
/** zxcvbn's matching grows faster than the length: longer passwords are judged on their first characters. */
const estimatedLength = 64;

let estimator: ZxcvbnFactory | undefined;

/**
 * zxcvbn and its dictionaries take a second or more to load: they are loaded the first time a
 * password is judged, not by every `holdfast` command and server start.
 */
function loadEstimator(): ZxcvbnFactory {
  const require = createRequire(import.meta.url);
  const { ZxcvbnFactory: Factory } = require('@zxcvbn-ts/core') as typeof import('@zxcvbn-ts/core');
  const common = require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
  const english = require('@zxcvbn-ts/language-en') as typeof import('@zxcvbn-ts/language-en');
  return new Factory({
    dictionary: { ...common.dictionary, ...english.dictionary },
    graphs: common.adjacencyGraphs,
    translations: english.translations,
  });
}

function strengthOf(password: string, userInputs: string[]) {
  estimator ??= loadEstimator();
  return estimator.check(password.slice(0, estimatedLength), userInputs);
}

export const passwordRule = `at least 10 characters mixing at least two of: lower case, upper case, digits, symbols; not the address, and hard to guess (zxcvbn score ${minimumPasswordScore} or more of 4)`;

/** Throws an `invalid` error whose message says what is wrong with the password. */
export function checkPasswordStrength(password: string, address?: string): void {
  const reasons: string[] = [];
  if (password.length < 10) reasons.push(`it has ${password.length} characters, at least 10 are needed`);
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((re) => re.test(password)).length;
  if (classes < 2) reasons.push('it uses only one kind of character (mix lower case, upper case, digits or symbols)');
  const local = address?.split('@')[0]?.toLowerCase();
  if (local && local.length >= 3 && password.toLowerCase().includes(local))
    reasons.push('it contains the account name');
  if (reasons.length === 0) {
    const strength = strengthOf(password, address ? [address, ...address.split(/[@.]/)] : []);
    if (strength.score < minimumPasswordScore) {
      const advice = [strength.feedback.warning, ...strength.feedback.suggestions].filter(Boolean).join(' ');
      reasons.push(
        `it is easy to guess (score ${strength.score} of 4, at least ${minimumPasswordScore} needed)${advice ? `: ${advice}` : ''}`,
      );
    }
  }
  if (reasons.length) throw invalid('weak-password', `password too weak: ${reasons.join('; ')}`);
}

export function generatePassword(): string {
  for (;;) {
    const candidate = randomBytes(15).toString('base64url');
    if (/[a-z]/.test(candidate) && /[A-Z]/.test(candidate) && /[0-9]/.test(candidate)) return candidate;
  }
}
