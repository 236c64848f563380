// DELETE of a calendar or an address book: the same rules for both collections. Deleting a shared
// collection from one's own home drops the share, not the owner's collection; only the owner
// deletes the collection itself, and never the default one.
import { forbidden } from '../../../errors.ts';
import type { CollectionRight } from '../../../calendar/collection-sharing.ts';

export interface DeletableCollection {
  href: string;
  right: CollectionRight;
  /** Whose collection it is, when it is in this home by a share. */
  sharedBy?: string;
  isDefault: boolean;
  /** Why the default collection stays, said when a client tries. */
  defaultStays: string;
  /** Drops the viewer's share; false when the access comes with a mailbox grant instead. */
  dropShare(): Promise<boolean>;
  remove(): Promise<void>;
}

export async function deleteCollection(collection: DeletableCollection): Promise<{ status: 204 }> {
  const { href, sharedBy } = collection;
  if (sharedBy) {
    if (!(await collection.dropShare()))
      throw forbidden(
        'need-privileges',
        `${href} comes with full access to ${sharedBy}'s mailbox; an administrator removes that grant`,
      );
    return { status: 204 };
  }
  if (collection.right !== 'owner') throw forbidden('need-privileges', `only the owner may delete ${href}`);
  if (collection.isDefault) throw forbidden('need-privileges', collection.defaultStays);
  await collection.remove();
  return { status: 204 };
}
