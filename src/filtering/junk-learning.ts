// Teaching rspamd from what users do, as Dovecot's IMAPSieve spam training does: a message moved or
// copied into Junk is spam (learn_spam), one moved out of Junk into any folder but Trash is ham
// (learn_ham), through rspamd's controller. With [filtering] fuzzy_flag, a user's spam report also adds
// the message's fuzzy hashes to rspamd's local fuzzy storage (fuzzy_add), so near-copies of it sent to
// other users are caught, and a move out of Junk deletes them (fuzzy_del: a user said it is not spam).
// Learning runs after the move has committed and never delays or fails it: a controller that does not
// answer is logged, and the move stands.
import type { Logger } from '../logging/logger.ts';
import type { CopyEvent } from '../mailbox/messages.ts';
import { readBlob } from '../store/blobs/blob-store.ts';
import type { BlobStore } from '../store/blobs/blob-store.ts';
import type { FilteringSettings } from '../config/schema.ts';
import { RspamdClient } from './rspamd-client.ts';

/** The most messages of one move learned (a client moving a whole folder teaches with a sample). */
const maxLearnedPerMove = 50;
/** Larger messages are not sent to the controller (rspamd's own default limit for a learn is 50 MB). */
const maxLearnedBytes = 10_000_000;

interface FolderLike {
  name: string;
  special_use: string | null;
}

export const isJunk = (folder: FolderLike) => folder.special_use === '\\Junk' || folder.name === 'Junk';
const isTrash = (folder: FolderLike) => folder.special_use === '\\Trash' || folder.name === 'Trash';

/** What a copy teaches: spam into Junk, ham out of Junk (but not into Trash), or nothing. */
export function lessonOf(event: { source: FolderLike; target: FolderLike }): 'spam' | 'ham' | undefined {
  if (isJunk(event.target) && !isJunk(event.source)) return 'spam';
  if (isJunk(event.source) && !isJunk(event.target) && !isTrash(event.target)) return 'ham';
  return undefined;
}

/** rspamd's local fuzzy rule, as [filtering] fuzzy_flag and fuzzy_weight name it. */
export interface FuzzyLearning {
  flag: number;
  weight: number;
}

/**
 * What one message moved into or out of Junk teaches rspamd: its Bayes classifier always, its local
 * fuzzy storage when configured (spam adds the message's hashes, ham deletes them). The corpus
 * benchmark teaches through this too, so it measures what users' moves teach.
 */
export class RspamdTeacher {
  constructor(
    readonly rspamd: RspamdClient,
    readonly fuzzy?: FuzzyLearning,
  ) {}

  /** Both lessons are tried (one failing says nothing of the other); the first failure is thrown after. */
  async teach(lesson: 'spam' | 'ham', message: Buffer): Promise<void> {
    const { rspamd, fuzzy } = this;
    const steps: Promise<unknown>[] = [rspamd.learn(lesson, message)];
    if (fuzzy)
      steps.push(
        lesson === 'spam'
          ? rspamd.fuzzyAdd(message, fuzzy.flag, fuzzy.weight)
          : rspamd.fuzzyDelete(message, fuzzy.flag),
      );
    const failed = (await Promise.allSettled(steps)).find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }
}

/** The teacher [filtering] asks for: rspamd_controller_url set (fuzzy_flag for fuzzy hashes); otherwise none. */
export function rspamdTeacher(settings: FilteringSettings): RspamdTeacher | undefined {
  if (!settings.rspamdControllerUrl) return undefined;
  const rspamd = new RspamdClient({
    controllerUrl: settings.rspamdControllerUrl,
    password: settings.rspamdPassword,
    timeoutMs: settings.timeoutMs,
  });
  const fuzzy =
    settings.fuzzyFlag === undefined ? undefined : { flag: settings.fuzzyFlag, weight: settings.fuzzyWeight };
  return new RspamdTeacher(rspamd, fuzzy);
}

export class JunkLearner {
  /** Learning in flight, so a test (or shutdown) can wait for it. */
  private pending = new Set<Promise<void>>();

  constructor(
    private readonly teacher: RspamdTeacher,
    private readonly blobs: BlobStore,
    private readonly log?: Logger,
  ) {}

  /** The MessageDeps `copied` hook. */
  readonly copied = (event: CopyEvent) => {
    const lesson = lessonOf(event);
    if (!lesson) return;
    const work = this.learn(lesson, event).finally(() => this.pending.delete(work));
    this.pending.add(work);
  };

  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private async learn(lesson: 'spam' | 'ham', event: CopyEvent) {
    let learned = 0;
    for (const message of event.messages.slice(0, maxLearnedPerMove)) {
      try {
        const content = await readBlob(this.blobs, message.blobHash);
        if (content.length > maxLearnedBytes) continue;
        await this.teacher.teach(lesson, Buffer.concat([Buffer.from(message.prefix), content]));
        learned++;
      } catch (error) {
        this.log?.warn(
          { err: error, lesson, folder: event.target.name },
          'filtering: rspamd could not learn from a move',
        );
        return;
      }
    }
    this.log?.info(
      { lesson, learned, fuzzy: this.teacher.fuzzy !== undefined, from: event.source.name, to: event.target.name },
      'filtering: rspamd learned from a move',
    );
  }
}

/** The learner [filtering] asks for: rspamd_controller_url set; otherwise none. */
export function junkLearner(settings: FilteringSettings, blobs: BlobStore, log?: Logger): JunkLearner | undefined {
  const teacher = rspamdTeacher(settings);
  return teacher && new JunkLearner(teacher, blobs, log?.child({ component: 'filtering' }));
}
