// A session's view of its selected folder: the UIDs it has told the client about (message sequence
// numbers are positions in that list) and the folder's MODSEQ up to which it has caught up; per
// message only what the session itself told the client since (its own STORE, a FETCH of FLAGS), so
// that a thousand idle sessions on big folders cost little memory. Changes by anyone (other
// sessions, delivery) are found by asking the store what changed after that MODSEQ, so a missed
// notification heals by itself.
import type { Kysely } from 'kysely';
import type { Folder } from '../../mailbox/folders.ts';
import { changesSince, folderModseq, type MessageState } from '../../mailbox/messages.ts';
import type { Database } from '../../store/schema.ts';
import { inRanges, STAR, type SequenceSet } from './parser/args.ts';
import { ParseError } from './parser/tokenizer.ts';

export interface SyncResponses {
  /** UIDs gone from the view, in the order to report them (with their sequence numbers before removal). */
  expunged: { seq: number; uid: number }[];
  exists?: number;
  /** UIDs of messages new to this view, ascending. */
  added: number[];
  /** Keywords seen for the first time in this folder (to be announced in FLAGS before any FETCH shows them). */
  keywordsGrew: boolean;
  /** Messages whose flags changed: sequence number and new state. */
  flags: { seq: number; state: MessageState }[];
}

export class SelectedFolder {
  uids: number[];
  /** Flags the client learned from this session (STORE, FETCH) since the last catch-up: not reported again. */
  private readonly clientKnows = new Map<number, string>();
  /** Expunges found while they could not be reported (during FETCH, STORE, SEARCH). */
  private pendingExpunges = new Set<number>();
  highestModseq: number;
  /** The result of the last SEARCH ... RETURN (SAVE), as UIDs (SEARCHRES "$"). */
  savedUids: number[] = [];
  /** Messages that are \Recent in this session (IMAP4rev1 only; see ../recent-messages.ts). */
  readonly recent = new Set<number>();
  /** The keywords the client was told of in FLAGS: a FETCH showing another one must come after a new FLAGS. */
  readonly keywords = new Set<string>();

  constructor(
    readonly folder: Folder,
    messages: readonly { uid: number; flags: readonly string[] }[],
    readonly readOnly: boolean,
  ) {
    this.uids = messages.map((m) => m.uid);
    this.highestModseq = Number(folder.highest_modseq);
    // A plain loop: SELECT of a large folder visits every message.
    for (const m of messages) for (const flag of m.flags) if (!flag.startsWith('\\')) this.keywords.add(flag);
  }

  get exists() {
    return this.uids.length;
  }

  /** Adds the keywords among `flags` to those the client knows; true when there was a new one. */
  learnKeywords(flags: readonly string[]): boolean {
    let grew = false;
    for (const flag of flags) {
      if (flag.startsWith('\\') || this.keywords.has(flag)) continue;
      this.keywords.add(flag);
      grew = true;
    }
    return grew;
  }

  /** A message's flags as this session shows them: with \Recent when it is recent here. */
  flagsFor(uid: number, flags: string[]): string[] {
    return this.recent.has(uid) ? [...flags, '\\Recent'] : flags;
  }

  /** Records flags the session itself has just reported (after STORE or FETCH). */
  remember(state: MessageState) {
    if (this.seqOf(state.uid)) this.clientKnows.set(state.uid, state.flags.join(' '));
  }

  seqOf(uid: number): number {
    // UIDs are ascending: binary search.
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const at = this.uids[mid]!;
      if (at === uid) return mid + 1;
      if (at < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** The UIDs a sequence set (of sequence numbers, or of UIDs with `byUid`) selects, ascending. */
  resolve(set: SequenceSet, byUid: boolean): number[] {
    if (set.saved) return this.savedUids.filter((uid) => this.seqOf(uid) > 0);
    if (byUid) {
      const largest = this.uids.at(-1) ?? 0;
      // Walk the ranges rather than every message when they are small.
      return this.uids.filter((uid) => inRanges(set.ranges, uid, largest));
    }
    const out: number[] = [];
    for (const [a, b] of set.ranges) {
      const lo = a === STAR ? this.uids.length : a;
      const hi = b === STAR ? this.uids.length : b;
      // A number past the last message is BAD also when the other end is "*" (5:* in a folder of 2;
      // RFC 9051 section 9, seq-number): 4294967295:* once walked every number up to it, until the
      // server ran out of memory.
      if (Math.max(lo, hi) > this.uids.length && this.uids.length > 0) {
        throw new ParseError(
          `Invalid message sequence number ${Math.max(lo, hi)} (the folder has ${this.uids.length} messages)`,
        );
      }
      if (this.uids.length === 0) {
        if (a !== STAR || b !== STAR) throw new ParseError('Invalid message sequence number (the folder is empty)');
        continue;
      }
      for (const uid of this.uids.slice(Math.min(lo, hi) - 1, Math.max(lo, hi))) out.push(uid);
    }
    return [...new Set(out)].sort((x, y) => x - y);
  }

  /**
   * A flag change this session made and has reported itself (or remembered as known to the client):
   * when it is the only change since this view's MODSEQ, the view is current without reading it back.
   */
  madeChange(modseq: number) {
    if (modseq === this.highestModseq + 1) this.highestModseq = modseq;
  }

  /**
   * Catches up with the store. Expunges are applied only when `expungeAllowed` (RFC 9051 forbids
   * EXPUNGE responses during FETCH, STORE and SEARCH); until then they wait.
   */
  async sync(db: Kysely<Database>, expungeAllowed: boolean): Promise<SyncResponses> {
    // Every change raises the folder's HIGHESTMODSEQ in its own transaction: one key lookup tells
    // whether there is anything to read (most commands change nothing).
    const current = await folderModseq(db, this.folder.id);
    const changes =
      current === undefined || current > this.highestModseq
        ? await changesSince(db, this.folder.id, this.highestModseq)
        : noChanges;
    const out: SyncResponses = { expunged: [], flags: [], added: [], keywordsGrew: false };
    for (const uid of changes.expunged) if (this.seqOf(uid)) this.pendingExpunges.add(uid);
    if (expungeAllowed && this.pendingExpunges.size) {
      // Highest sequence number first, so each number is still valid when the client reads it.
      const doomed = [...this.pendingExpunges].sort((a, b) => b - a);
      for (const uid of doomed) {
        const seq = this.seqOf(uid);
        if (!seq) continue;
        out.expunged.push({ seq, uid });
        this.uids.splice(seq - 1, 1);
        this.clientKnows.delete(uid);
        this.recent.delete(uid);
      }
      this.pendingExpunges.clear();
    }
    const before = this.uids.length;
    let highest = this.highestModseq;
    for (const state of changes.changed) {
      highest = Math.max(highest, state.modseq);
      const seq = this.seqOf(state.uid);
      if (!seq) {
        if (state.uid > (this.uids.at(-1) ?? 0)) {
          this.uids.push(state.uid);
          out.added.push(state.uid);
          if (this.learnKeywords(state.flags)) out.keywordsGrew = true;
        }
        continue;
      }
      if (this.learnKeywords(state.flags)) out.keywordsGrew = true;
      if (this.pendingExpunges.has(state.uid)) continue;
      // Changed after the MODSEQ this view had: report it, unless the client has these flags from us already.
      if (this.clientKnows.get(state.uid) !== state.flags.join(' ')) out.flags.push({ seq, state });
    }
    this.clientKnows.clear();
    this.highestModseq = changes.expungedModseqs.reduce((a, b) => Math.max(a, b), highest);
    if (this.uids.length !== before) out.exists = this.uids.length;
    return out;
  }
}

const noChanges = { changed: [], expunged: [], expungedModseqs: [] };
