// Failed logins are limited per source address and per account: after `max` failures within the
// window, further attempts are refused without checking the password until the window passes.
import { smtpReply } from './smtp-reply.ts';

export class AuthFailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  check(ip: string, account: string) {
    for (const key of [`ip:${ip}`, `account:${account.toLowerCase()}`]) {
      if (this.recent(key).length >= this.max) {
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
