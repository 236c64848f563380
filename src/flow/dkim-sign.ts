// A DKIM-Signature header (relaxed/relaxed, rsa-sha256) for one message, with the domain's active
// key. Used for mail submitted by users and for mail Holdfast writes on their behalf (iMIP).
import type { Readable } from 'node:stream';
import { dkimSign } from 'mailauth';
import type { DkimKeys } from './dkim-keys.ts';

export async function dkimSignature(
  keys: DkimKeys,
  domain: string,
  content: Buffer | Readable,
  now: number,
): Promise<string> {
  const key = await keys.active(domain);
  // mailauth 4.x reads the key from signatureData; its type declarations describe top-level fields
  // that it ignores (they produce an empty signature), hence the cast.
  const options = {
    canonicalization: 'relaxed/relaxed',
    algorithm: 'rsa-sha256',
    signTime: new Date(now),
    signatureData: [{ signingDomain: domain, selector: key.selector, privateKey: key.privateKey }],
  };
  const result = await dkimSign(content, options as unknown as Parameters<typeof dkimSign>[1]);
  if (!result.signatures?.startsWith('DKIM-Signature:'))
    throw new Error(`DKIM signing for ${domain} produced no signature: ${JSON.stringify(result.errors)}`);
  return result.signatures;
}
