// Group (distribution list) expansion and loop detection, independent of how members are stored.

export type Member =
  | { kind: 'mailbox'; address: string }
  | { kind: 'outside'; address: string }
  | { kind: 'group'; address: string; members: string[] };

/** Final recipients of a group, each once. A loop that slipped in is cut rather than followed. */
export async function expandGroup(group: string, lookup: (address: string) => Promise<Member>): Promise<string[]> {
  const recipients = new Set<string>();
  const visited = new Set<string>();
  const visit = async (address: string) => {
    const member = await lookup(address);
    if (member.kind !== 'group') {
      recipients.add(member.address);
      return;
    }
    if (visited.has(member.address)) return;
    visited.add(member.address);
    for (const next of member.members) await visit(next);
  };
  await visit(group);
  return [...recipients].sort();
}

/**
 * Would making `candidate` a member of `group` create a cycle? Returns the cycle as a path
 * (group → candidate → … → group) or undefined.
 */
export async function findLoop(
  membersOf: (group: string) => Promise<string[]>,
  group: string,
  candidate: string,
): Promise<string[] | undefined> {
  const seen = new Set<string>();
  const search = async (current: string, path: string[]): Promise<string[] | undefined> => {
    if (current === group) return path;
    if (seen.has(current)) return undefined;
    seen.add(current);
    const members = await membersOf(current).catch(() => [] as string[]);
    for (const member of members) {
      const found = await search(member, [...path, member]);
      if (found) return found;
    }
    return undefined;
  };
  return search(candidate, [group, candidate]);
}
