// collapseThreads for the query a folder's arrival order answers (email-query.ts: one Mailbox, perhaps
// keyword conditions, by receivedAt): each thread's newest message in the folder (its oldest, sorted
// ascending), in arrival order. Made once per arrival order (a change in the folder makes a new one)
// and kept with it, so paging through a large folder's conversations reads a list, as paging through
// its messages does, instead of sorting the folder at every page. The same Emails in the same order
// as collapsing the sorted results: ties of receivedAt are in UID order either way.
import type { IndexedMessage } from '../../mailbox/folder-index.ts';

const views = new WeakMap<IndexedMessage[], { newest?: IndexedMessage[]; oldest?: IndexedMessage[] }>();

export function collapsedByThread(byArrival: IndexedMessage[], keepNewest: boolean): IndexedMessage[] {
  let kept = views.get(byArrival);
  if (!kept) views.set(byArrival, (kept = {}));
  const key = keepNewest ? 'newest' : 'oldest';
  const made = kept[key];
  if (made) return made;
  const seen = new Set<number>();
  const view: IndexedMessage[] = [];
  const keep = (message: IndexedMessage) => {
    if (seen.has(message.threadId)) return;
    seen.add(message.threadId);
    view.push(message);
  };
  if (keepNewest) {
    for (let i = byArrival.length - 1; i >= 0; i--) keep(byArrival[i]!);
    view.reverse();
  } else for (const message of byArrival) keep(message);
  kept[key] = view;
  return view;
}
