// Errors that carry their meaning for every protocol, so protocol layers never have to guess
// which reply a domain failure deserves. `code` is stable and machine-readable (CLI --json, APIs).

export type ErrorKind = 'invalid' | 'not-found' | 'conflict' | 'forbidden' | 'unavailable';

const httpStatusByKind: Record<ErrorKind, number> = {
  invalid: 400,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  unavailable: 503,
};

export class HoldfastError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;

  constructor(kind: ErrorKind, code: string, message: string) {
    super(message);
    this.name = 'HoldfastError';
    this.kind = kind;
    this.code = code;
  }

  get httpStatus(): number {
    return httpStatusByKind[this.kind];
  }
}

/** A conflict with another resource of the same collection (a UID already in use): `resource` is its name there. */
export class ResourceConflict extends HoldfastError {
  constructor(
    code: string,
    message: string,
    readonly resource: string,
  ) {
    super('conflict', code, message);
  }
}

export const invalid = (code: string, message: string) => new HoldfastError('invalid', code, message);
export const notFound = (code: string, message: string) => new HoldfastError('not-found', code, message);
export const conflict = (code: string, message: string) => new HoldfastError('conflict', code, message);
export const forbidden = (code: string, message: string) => new HoldfastError('forbidden', code, message);
export const unavailable = (code: string, message: string) => new HoldfastError('unavailable', code, message);
