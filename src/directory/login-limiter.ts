// Failed logins are limited per account (`max` failures within the window) and per source address
// (four times as many, since many users may share one address behind NAT): past the limit, attempts
// are refused without checking the password until the window passes. One limiter serves every
// protocol, so guessing over IMAP and SMTP AUTH counts together.

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** Why further attempts from this address or for this account are refused for now, or undefined. */
  refusal(ip: string, account: string): string | undefined {
    for (const [key, max] of [[`ip:${ip}`, this.max * 4], [`account:${account.toLowerCase()}`, this.max]] as const) {
      if (this.recent(key).length >= max) {
        return `Too many failed authentication attempts (${this.max} in ${Math.round(this.windowMs / 60_000)} minutes); try again later`;
      }
    }
    return undefined;
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
