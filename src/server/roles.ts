// What a node can be asked to run (`holdfast start --roles http,...`). Many identical nodes over one
// PostgreSQL database can each run some roles; a single machine runs all of them.
import { invalidOption } from '../config/load.ts';

export const allRoles = ['smtp', 'imap', 'queue', 'http'] as const;
export type Role = (typeof allRoles)[number];

export function parseRoles(text: string | undefined): Role[] {
  if (!text) return [...allRoles];
  const roles = text
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const unknown = roles.find((r) => !(allRoles as readonly string[]).includes(r));
  if (unknown !== undefined || roles.length === 0)
    throw invalidOption('--roles', text, `a comma-separated list of: ${allRoles.join(', ')}`);
  return [...new Set(roles)] as Role[];
}
