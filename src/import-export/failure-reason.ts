// The one line the summary gives for a message that could not be imported.
import { HoldfastError } from '../errors.ts';

export function failureReason(error: unknown): string {
  if (error instanceof HoldfastError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? 'unknown error';
}
