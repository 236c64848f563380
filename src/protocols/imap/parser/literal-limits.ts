// How big a literal, and a whole command, the server takes: the decision the command reader asks for
// each announced literal. Before login a peer has shown nothing, so a command is small and a
// non-synchronising literal is held to LITERAL-'s 4096 bytes (RFC 7888 §4), which is what the server
// announces then; after login LITERAL+ is announced and the limits follow the append limit.
import type { LiteralDecision } from './command-reader.ts';

/** RFC 7888 §4 (LITERAL-): a non-synchronising literal may have at most 4096 bytes. */
export const literalMinusLimit = 4096;
/**
 * Before login a whole command (its lines and literals together) may have this many bytes: LOGIN
 * and AUTHENTICATE need far less, and Dovecot's imap-login uses the same 8 KiB.
 */
export const maxCommandBeforeLogin = 8 * 1024;
/** Literals of commands other than APPEND (search text, folder names, passwords) are small. */
export const maxSmallLiteral = 64 * 1024;

export interface LiteralRequest {
  size: number;
  synchronizing: boolean;
  /** The command's name (upper case), or undefined if its first line had none. */
  command: string | undefined;
  /** Bytes of the command read so far: its lines and the literals before this one. */
  totalSoFar: number;
}

export interface LiteralLimits {
  loggedIn: boolean;
  /** imap.append_limit: the largest message APPEND takes, and so about the largest command after login. */
  appendLimit: number;
}

export function decideLiteral(literal: LiteralRequest, limits: LiteralLimits): LiteralDecision {
  return limits.loggedIn ? afterLogin(literal, limits.appendLimit) : beforeLogin(literal);
}

function beforeLogin({ size, synchronizing, command, totalSoFar }: LiteralRequest): LiteralDecision {
  // A refused non-synchronising literal is on its way already. Before login nothing earns the
  // benefit of the doubt of reading it to find where the next command begins: BAD, then close.
  const refuse = (reason: string): LiteralDecision => ({ accept: false, reason, close: !synchronizing });
  if (command === 'APPEND') return refuse('Log in first');
  if (!synchronizing && size > literalMinusLimit)
    return refuse(
      `[TOOBIG] Before login a non-synchronizing literal may have at most ${literalMinusLimit} bytes (LITERAL-)`,
    );
  if (totalSoFar + size > maxCommandBeforeLogin)
    return refuse(`[TOOBIG] Before login a command may have at most ${maxCommandBeforeLogin} bytes`);
  return { accept: true };
}

function afterLogin({ size, command, totalSoFar }: LiteralRequest, appendLimit: number): LiteralDecision {
  // A refused non-synchronising literal is skipped unread: its size says where the next command begins.
  const limit = command === 'APPEND' ? appendLimit : maxSmallLiteral;
  if (size > limit)
    return { accept: false, reason: `[TOOBIG] Literal of ${size} bytes is larger than the limit of ${limit} bytes` };
  const maxCommand = appendLimit + maxSmallLiteral; // the largest message, and room for the command's own text
  if (totalSoFar + size > maxCommand)
    return { accept: false, reason: `[TOOBIG] A command may have at most ${maxCommand} bytes` };
  return { accept: true };
}
