// The Sender Rewriting Scheme (SRS, as libsrs2 and postsrsd write it): mail a local user's rules
// forward to another domain leaves with an envelope sender of ours, so the next server's SPF check
// sees our domain, not the original sender's, and bounces come back to us to be passed on:
//
//   SRS0=HHHHH=TT=orig-domain=orig-local@our-domain
//
// TT is the day it was made (days since 1970, two base-32 characters, so 1,024 days round), HHHHH
// an HMAC-SHA256 of TT, the domain and the local part (lower-cased, separated, five base-32
// characters: 25 bits), under a key the server keeps in its store (server_secrets, made once; every
// node of a cluster shares it). A bounce to such an address is passed on to the original sender only
// when the hash is right and the address at most `maxAgeDays` old; any other is refused as an
// unknown user. Hash and timestamp are case-insensitive: servers on the way may fold the local part.
//
// npm's srs.js (0.1.0, unmaintained) hashes the three parts run together ("a.b"+"c" = "a.bc"), so a
// valid hash for one address is valid for another, compares case-sensitively and not in constant
// time; sender-rewriting-scheme is GPL-3.0. This file is the 60 lines we need instead.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

const base32 = 'abcdefghijklmnopqrstuvwxyz234567';
const dayMs = 86_400_000;
/** How long a rewritten address is honoured: bounces come within days, a few within weeks. */
export const srsMaxAgeDays = 21;
const srsPattern = /^srs0[=+-]([a-z2-7]{5})=([a-z2-7]{2})=([^=@]+)=(.+)$/i;

export class Srs {
  constructor(private readonly secret: Buffer) {}

  /** The SRS0 address for `sender` at `domain`; the null sender stays null. */
  forward(sender: string, domain: string, now: number): string {
    if (!sender) return sender;
    const at = sender.lastIndexOf('@');
    if (at <= 0) return sender;
    const local = sender.slice(0, at);
    const origin = sender.slice(at + 1).toLowerCase();
    const stamp = timestamp(now);
    return `SRS0=${this.hash(stamp, origin, local)}=${stamp.toUpperCase()}=${origin}=${local}@${domain}`;
  }

  /** Whether a local part is written as an SRS0 address (ours or not). */
  static isSrs(local: string): boolean {
    return /^srs0[=+-]/i.test(local);
  }

  /**
   * The original sender of an SRS0 local part: the address, or undefined when the hash is wrong or
   * the address too old (or from the future).
   */
  reverse(local: string, now: number): string | undefined {
    const m = srsPattern.exec(local);
    if (!m) return undefined;
    const [, hash, stamp, domain, origLocal] = m as unknown as [string, string, string, string, string];
    const expected = Buffer.from(this.hash(stamp.toLowerCase(), domain.toLowerCase(), origLocal));
    const given = Buffer.from(hash.toLowerCase());
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const age = (dayNumber(now) - decode(stamp.toLowerCase()) + 1024) % 1024;
    if (age > srsMaxAgeDays) return undefined;
    return `${origLocal}@${domain.toLowerCase()}`;
  }

  private hash(stamp: string, domain: string, local: string): string {
    const mac = createHmac('sha256', this.secret).update(`${stamp}\0${domain}\0${local.toLowerCase()}`).digest();
    // Five base-32 characters from the first 25 bits.
    const bits = mac.readUInt32BE(0) >>> 7;
    let out = '';
    for (let i = 4; i >= 0; i--) out += base32[(bits >>> (i * 5)) & 31];
    return out;
  }
}

function dayNumber(now: number): number {
  return Math.floor(now / dayMs) % 1024;
}

function timestamp(now: number): string {
  const day = dayNumber(now);
  return base32[(day >> 5) & 31]! + base32[day & 31]!;
}

function decode(stamp: string): number {
  return (base32.indexOf(stamp[0]!) << 5) | base32.indexOf(stamp[1]!);
}

interface ServerSecretsTable {
  name: string;
  value: string;
  created_at: number;
}

/** The server's SRS key: made once (32 random bytes) and kept in the store, so every node has it. */
export async function loadSrs(db: Kysely<Database>, now: number): Promise<Srs> {
  const secrets = db as unknown as Kysely<{ server_secrets: ServerSecretsTable }>;
  await secrets
    .insertInto('server_secrets')
    .values({ name: 'srs', value: randomBytes(32).toString('base64'), created_at: now })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await secrets
    .selectFrom('server_secrets')
    .select('value')
    .where('name', '=', 'srs')
    .executeTakeFirstOrThrow();
  return new Srs(Buffer.from(row.value, 'base64'));
}

/** Loads the key once per holder (a SieveDelivery, an Intake), and again after a failure. */
export class SrsKey {
  private loading?: Promise<Srs>;
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number,
  ) {}
  get(): Promise<Srs> {
    this.loading ??= loadSrs(this.db, this.now()).catch((error: unknown) => {
      this.loading = undefined;
      throw error;
    });
    return this.loading;
  }

  /**
   * The address behind an SRS0 address, undone level by level (a forward of a forward nests one in
   * another; three levels at most) while each is at a domain `ours` accepts. `refused` is the SRS0
   * address whose hash was wrong or that was too old, where undoing stopped.
   */
  async unwind(
    address: string,
    ours: (domain: string) => boolean | Promise<boolean>,
  ): Promise<{ address: string; refused?: string }> {
    let current = address;
    for (let depth = 0; depth < 3; depth++) {
      const at = current.lastIndexOf('@');
      if (at <= 0) break;
      const local = current.slice(0, at);
      if (!Srs.isSrs(local) || !(await ours(current.slice(at + 1).toLowerCase()))) break;
      const original = (await this.get()).reverse(local, this.now());
      if (!original) return { address: current, refused: current };
      current = original;
    }
    return { address: current };
  }
}
