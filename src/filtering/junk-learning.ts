// Teaching rspamd's Bayes classifier from what users do, as Dovecot's IMAPSieve spam training does: a
// message moved or copied into Junk is spam (learn_spam), one moved out of Junk into any folder but
// Trash is ham (learn_ham), through rspamd's controller. Learning runs after the move has committed
// and never delays or fails it: a controller that does not answer is logged, and the move stands.
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

export class JunkLearner {
  /** Learning in flight, so a test (or shutdown) can wait for it. */
  private pending = new Set<Promise<void>>();

  constructor(
    private readonly rspamd: RspamdClient,
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
        await this.rspamd.learn(lesson, Buffer.concat([Buffer.from(message.prefix), content]));
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
      { lesson, learned, from: event.source.name, to: event.target.name },
      'filtering: rspamd learned from a move',
    );
  }
}

/** The learner [filtering] asks for: rspamd_controller_url set; otherwise none. */
export function junkLearner(settings: FilteringSettings, blobs: BlobStore, log?: Logger): JunkLearner | undefined {
  if (!settings.rspamdControllerUrl) return undefined;
  const rspamd = new RspamdClient({
    controllerUrl: settings.rspamdControllerUrl,
    password: settings.rspamdPassword,
    timeoutMs: settings.timeoutMs,
  });
  return new JunkLearner(rspamd, blobs, log?.child({ component: 'filtering' }));
}
