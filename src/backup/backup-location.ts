// Where backups go when no --to is given: beside the data (config/load.ts says where). A backup on the
// same disk protects against mistakes, not against losing the disk: the operations guide says to give
// --to (or backup.to) another one.
export { defaultBackupDir } from '../config/load.ts';
