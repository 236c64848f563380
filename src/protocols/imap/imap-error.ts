// A command that is understood but cannot be carried out: the tagged NO response, with a response
// code (RFC 5530) where one fits, e.g. new ImapNo('Folder does not exist', 'NONEXISTENT').
import { HoldfastError } from '../../errors.ts';

export class ImapNo extends Error {
  constructor(text: string, code?: string) {
    super(code ? `[${code}] ${text}` : text);
  }
}

const codeByKind: Record<string, string> = {
  invalid: 'CANNOT',
  'not-found': 'NONEXISTENT',
  conflict: 'ALREADYEXISTS',
  forbidden: 'NOPERM',
  unavailable: 'UNAVAILABLE',
};

/** Domain errors (folder not found, quota...) as NO responses; anything else is rethrown. */
export function asImapNo(error: unknown): never {
  if (error instanceof HoldfastError) {
    if (error.code === 'over-quota') throw new ImapNo(error.message, 'OVERQUOTA');
    throw new ImapNo(error.message, codeByKind[error.kind]);
  }
  throw error;
}
