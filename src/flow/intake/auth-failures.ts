// Failed logins are limited per account (`max` failures within the window) and per source address
// (four times as many, since many users may share one address behind NAT): past the limit, attempts
// are refused without checking the password until the window passes.
import { smtpReply } from './smtp-reply.ts';

export class AuthFailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  check(ip: string, account: string) {
    for (const [key, max] of [[`ip:${ip}`, this.max * 4], [`account:${account.toLowerCase()}`, this.max]] as const) {
      if (this.recent(key).length >= max) {
        throw smtpReply(454, '4.7.0', `Too many failed authentication attempts (${this.max} in ${Math.round(this.windowMs / 60_000)} minutes); try again later`);
      }
    }
  }

  record(ip: string, account: string) {
    for (const key of [`ip:${ip}`, `account:${account.toLowerCase()}`]) this.failures.set(key, [...this.recent(key), this.now()]);
  }

  private recent(key: string): number[] {
    const since = this.now() - this.windowMs;
    const list = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }
}
