// An error in a Sieve script: where it is (line) and what is wrong, said so its owner can fix it.
export class SieveError extends Error {
  constructor(
    message: string,
    readonly line: number,
    /** Found while the script ran (a runtime error) rather than when it was read. */
    readonly runtime = false,
  ) {
    super(line > 0 ? `line ${line}: ${message}` : message);
    this.name = 'SieveError';
  }
}
