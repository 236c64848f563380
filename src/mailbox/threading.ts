// Conversation threads (RFC 5256): ORDEREDSUBJECT groups by base subject; REFERENCES follows
// Message-ID / References / In-Reply-To (Jamie Zawinski's algorithm) and then joins what is left
// by subject. Pure functions over the few header values they need.
import { baseSubject } from '../message/base-subject.ts';

export interface ThreadMessage {
  /** What the client is told: a sequence number or a UID. */
  id: number;
  messageId: string | null;
  /** References, oldest first; In-Reply-To when there are none. */
  references: string[];
  subject: string | null;
  /** Sent date (or arrival, without a Date header), for ordering. */
  date: number;
}

/** A node of a thread tree; without `message` it is a placeholder for a message not in the folder. */
export interface ThreadNode {
  message?: ThreadMessage;
  children: ThreadNode[];
}

const byDate = (a: ThreadNode, b: ThreadNode) => nodeDate(a) - nodeDate(b) || firstId(a) - firstId(b);

function nodeDate(node: ThreadNode): number {
  return node.message?.date ?? (node.children[0] ? nodeDate(node.children[0]) : 0);
}

function firstId(node: ThreadNode): number {
  return node.message?.id ?? (node.children[0] ? firstId(node.children[0]) : 0);
}

export function threadByOrderedSubject(messages: ThreadMessage[]): ThreadNode[] {
  const groups = new Map<string, ThreadMessage[]>();
  for (const message of [...messages].sort((a, b) => a.date - b.date || a.id - b.id)) {
    const key = baseSubject(message.subject).text;
    groups.set(key, [...(groups.get(key) ?? []), message]);
  }
  // The first message is the parent of all the others.
  const threads = [...groups.values()].map(([first, ...rest]) => ({
    message: first,
    children: rest.map((m) => ({ message: m, children: [] })),
  }));
  return threads.sort(byDate);
}

interface Container extends ThreadNode {
  parent?: Container;
  children: Container[];
}

export function threadByReferences(messages: ThreadMessage[]): ThreadNode[] {
  const byId = new Map<string, Container>();
  const containerFor = (id: string) => {
    let container = byId.get(id);
    if (!container) byId.set(id, (container = { children: [] }));
    return container;
  };
  const reachable = (from: Container, target: Container) => {
    for (let c: Container | undefined = from; c; c = c.parent) if (c === target) return true;
    return false;
  };
  const setParent = (child: Container, parent: Container | undefined) => {
    if (child.parent) child.parent.children = child.parent.children.filter((c) => c !== child);
    child.parent = parent;
    if (parent) parent.children.push(child);
  };

  // (1) Containers by Message-ID, linked along each References chain.
  let unique = 0;
  for (const message of messages) {
    let id = message.messageId ?? '';
    if (!id || byId.get(id)?.message) id = `<holdfast-unique-${unique++}>`;
    const container = containerFor(id);
    container.message = message;
    let previous: Container | undefined;
    for (const reference of message.references) {
      const current = containerFor(reference);
      if (previous && !current.parent && !reachable(previous, current) && current !== container)
        setParent(current, previous);
      previous = current;
    }
    // The message's own references decide its parent.
    if (previous && previous !== container && !reachable(previous, container)) setParent(container, previous);
    else if (!previous) setParent(container, undefined);
  }

  // (2)-(3) The root set, with placeholders pruned.
  let roots = prune(
    [...byId.values()].filter((c) => !c.parent),
    true,
  );

  // (4) Siblings ordered by date, so that a placeholder root takes the subject of its first child.
  const sortTree = (nodes: Container[]) => {
    for (const node of nodes) sortTree(node.children);
    nodes.sort(byDate);
  };
  sortTree(roots);

  // (5) Threads whose roots share a base subject are joined.
  const subjectOf = (c: Container) => baseSubject((c.message ?? c.children[0]?.message)?.subject).text;
  const isReply = (c: Container) => (c.message ? baseSubject(c.message.subject).isReply : false);
  // (5A) Every subject's preferred root is found first, over the whole root set: a placeholder over a
  // message, an original over a reply. Joining as the roots come would let an earlier reply become
  // the parent-less sibling of its original under a new placeholder.
  const bySubject = new Map<string, Container>();
  for (const root of roots) {
    const subject = subjectOf(root);
    const old = bySubject.get(subject);
    if (
      subject &&
      (!old || (old.message && !root.message) || (old.message && root.message && isReply(old) && !isReply(root)))
    )
      bySubject.set(subject, root);
  }
  // (5B) Every other root with that subject is joined to it.
  const merged: Container[] = [...roots];
  for (const root of roots) {
    const subject = subjectOf(root);
    const other = subject ? bySubject.get(subject) : undefined;
    // A root already joined to a new placeholder is no longer a root.
    if (!other || other === root || root.parent) continue;
    merged.splice(merged.indexOf(root), 1);
    if (!other.message && !root.message) {
      for (const child of [...root.children]) setParent(child, other);
    } else if (!other.message || (isReply(root) && !isReply(other))) {
      // (5A) made a placeholder or an original the subject's root wherever there is one.
      setParent(root, other);
    } else {
      const placeholder: Container = { children: [] };
      merged.splice(merged.indexOf(other), 1, placeholder);
      setParent(other, placeholder);
      setParent(root, placeholder);
      bySubject.set(subject, placeholder);
    }
  }
  roots = merged;

  // (6) Again, with the joined threads.
  sortTree(roots);
  return roots;
}

/** Removes placeholders without children and lifts the children of those with some (RFC 5256 step 3). */
function prune(containers: Container[], atRoot: boolean): Container[] {
  const kept: Container[] = [];
  for (const container of containers) {
    container.children = prune(container.children, false);
    for (const child of container.children) child.parent = container;
    if (container.message) kept.push(container);
    else if (container.children.length === 0) continue;
    else if (atRoot && container.children.length > 1) kept.push(container);
    else {
      // Promoted children are re-parented by the caller's loop above.
      for (const child of container.children) child.parent = container.parent;
      kept.push(...container.children);
    }
  }
  return kept;
}

/** The THREAD response text for some threads: `(1 2 (3)(4))(5)`. */
export function formatThreads(threads: ThreadNode[]): string {
  return threads.map((thread) => `(${members(thread)})`).join('');
}

function members(node: ThreadNode): string {
  const parts: string[] = [];
  let current = node;
  for (;;) {
    if (current.message) parts.push(String(current.message.id));
    if (current.children.length === 1) {
      current = current.children[0]!;
      continue;
    }
    if (current.children.length > 1) parts.push(current.children.map((child) => `(${members(child)})`).join(''));
    return parts.join(' ');
  }
}
