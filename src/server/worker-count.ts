// How many processes `holdfast start --workers` runs: a whole number, or "auto" for one per core.
import { availableParallelism } from 'node:os';
import { invalidOption } from '../config/load.ts';

/** More processes than this on one machine only add contention on the store. */
export const maxWorkers = 64;

export function parseWorkers(text: string | undefined, cores = availableParallelism()): number {
  if (text === undefined) return 1;
  if (text.trim() === 'auto') return Math.min(cores, maxWorkers);
  const count = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!(count >= 1 && count <= maxWorkers))
    throw invalidOption(
      '--workers',
      text,
      `a whole number from 1 to ${maxWorkers}, or "auto" (one per core: ${Math.min(cores, maxWorkers)} here)`,
    );
  return count;
}
