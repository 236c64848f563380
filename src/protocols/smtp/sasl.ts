// The SASL mechanisms SMTP AUTH offers (RFC 4954): PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login),
// decoded from their base64 responses. Pure: the exchange itself (334 prompts) is the session's.
import { temporarySignInFailure } from '../../directory/kdf-queue.ts';
import { decodeBase64 } from './command-line.ts';

export const saslMechanisms = ['PLAIN', 'LOGIN'] as const;

const controlCharacters = /[\x00-\x1f\x7f-\x9f]/;

export type Credentials = { username: string; password: string };

/** Why a response cannot be used, as the reply text after 501. */
export type SaslRefusal = { refusal: { enhanced: string; text: string } };

const notBase64: SaslRefusal = { refusal: { enhanced: '5.5.2', text: 'Error: cannot decode the response as base64' } };
const invalid: SaslRefusal = { refusal: { enhanced: '5.5.4', text: 'Error: invalid userdata' } };

/**
 * PLAIN: authzid NUL authcid NUL password. Many clients put the user in the authzid and leave the
 * authcid empty, so one of them alone names the user. Both given and different would be acting as
 * someone else (a proxy login), which Holdfast does not offer: refused like bad credentials.
 */
export function decodePlain(response: string): Credentials | SaslRefusal | 'mismatch' {
  const decoded = decodeBase64(response);
  if (!decoded) return notBase64;
  const parts = decoded.toString('utf8').split('\0');
  if (parts.length !== 3) return invalid;
  const [authzid, authcid, password] = parts as [string, string, string];
  if (controlCharacters.test(authzid) || controlCharacters.test(authcid)) return invalid;
  if (authzid && authcid && authzid.toLowerCase() !== authcid.toLowerCase()) return 'mismatch';
  return { username: authcid || authzid, password };
}

/** One LOGIN response (user name, then password). */
export function decodeLoginResponse(response: string, what: 'username' | 'password'): string | SaslRefusal {
  const decoded = decodeBase64(response);
  if (!decoded) return notBase64;
  const text = decoded.toString('utf8');
  if (what === 'username' && (!text || controlCharacters.test(text)))
    return text ? invalid : { refusal: { enhanced: '5.5.4', text: 'Error: missing username' } };
  return text;
}

/**
 * The text of RFC 4954's temporary authentication failure (454 4.7.0) when the credentials could not
 * be checked now (too many sign-ins wait for the password KDF), naming the limit; undefined for any
 * other error.
 */
export function temporaryAuthFailure(error: unknown): string | undefined {
  const busy = temporarySignInFailure(error);
  return busy && `Temporary authentication failure: ${busy.message}`;
}
