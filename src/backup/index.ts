// Backups of a store (issue 18): what other modules and the CLI use, in one place.
export { createBackup, type BackupSummary, type CreateBackupOptions, type BackupProgress } from './create-backup.ts';
export { verifyBackup, type VerifyResult } from './verify-backup.ts';
export { restoreBackup, type RestoreSummary, type RestoreOptions } from './restore-backup.ts';
export { openBackup, type OpenedBackup } from './open-backup.ts';
export { listBackups, expireBackups, type BackupListing, type ExpiryResult } from './backup-list.ts';
export type { BackupManifest } from './backup-format.ts';
