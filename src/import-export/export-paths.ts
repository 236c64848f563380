// Folder names as file names in an export and back: levels become directories, and the few names a
// file system would misread are escaped ("%" as %25, a leading "." as %2E, so no level is "." or
// ".." or hidden). Import undoes exactly these two escapes.
import { folderDelimiter } from '../mailbox/folders.ts';

export function encodeFileLevel(level: string): string {
  return level.replace(/%/g, '%25').replace(/^\./, '%2E');
}

export function decodeFileLevel(level: string): string {
  return level.replace(/^%2E/i, '.').replace(/%25/g, '%');
}

/** The relative path of a folder's mbox file in an export: "Projects/2026" → "Projects/2026.mbox". */
export function mboxPathOf(folder: string): string {
  return `${folder.split(folderDelimiter).map(encodeFileLevel).join('/')}.mbox`;
}
