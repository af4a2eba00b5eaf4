/**
 * Checking a decision receipt in the browser, the way `aragora receipt verify` and
 * `aragora-verify` do: the digest is SHA-256 over the JCS bytes of the document without
 * `signatures`; each v0.2 signature signs the JCS bytes of
 * `{"odr_digest", "odr_signature_input": "0.2", "protected"}` with Ed25519, under
 * `key_id = "ed25519-" + sha256(raw public key)[:16]`. The key comes from the published
 * key route; nothing the server says about validity is taken on trust.
 */
import { canonicalize, sha256Hex } from './jcs';

const encoder = new TextEncoder();

export interface Verification {
  valid: boolean;
  digest: string;
  digestMatches: boolean | null;
  keyId: string | null;
  reason: string;
}

export function pemToDer(pem: string): Uint8Array<ArrayBuffer> {
  const body = pem
    .replace(/-----BEGIN [^-]+-----/, '')
    .replace(/-----END [^-]+-----/, '')
    .replace(/\s+/g, '');
  const binary = atob(body);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export async function keyIdOf(key: CryptoKey): Promise<string> {
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', key));
  return `ed25519-${(await sha256Hex(raw)).slice(0, 16)}`;
}

export async function importPublicKey(pem: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('spki', pemToDer(pem), { name: 'Ed25519' }, true, ['verify']);
}

/**
 * Verify `receipt` (the ODR document) against `publicKeyPem`. `expectedDigest` is the
 * digest the debate page was told; a mismatch is reported even if the signature holds.
 */
export async function verifyReceipt(
  receipt: Record<string, unknown>,
  publicKeyPem: string,
  expectedDigest?: string,
): Promise<Verification> {
  const { signatures, ...unsigned } = receipt;
  const digest = await sha256Hex(encoder.encode(canonicalize(unsigned)));
  const digestMatches = expectedDigest === undefined ? null : expectedDigest === digest;
  const result = (valid: boolean, keyId: string | null, reason: string): Verification => ({
    valid: valid && digestMatches !== false,
    digest,
    digestMatches,
    keyId,
    reason: digestMatches === false ? 'the document does not match its published digest' : reason,
  });
  if (!Array.isArray(signatures) || signatures.length === 0) {
    return result(false, null, 'the receipt carries no signature');
  }
  let key: CryptoKey;
  try {
    key = await importPublicKey(publicKeyPem);
  } catch {
    return result(false, null, 'the published key could not be read as an Ed25519 key');
  }
  const keyId = await keyIdOf(key);
  for (const entry of signatures as Record<string, unknown>[]) {
    if (entry.alg !== 'Ed25519' || entry.key_id !== keyId || typeof entry.signature !== 'string') continue;
    const { signature, ...protectedPart } = entry;
    const message = encoder.encode(
      canonicalize({ odr_digest: digest, odr_signature_input: '0.2', protected: protectedPart }),
    );
    let ok = false;
    try {
      ok = await crypto.subtle.verify({ name: 'Ed25519' }, key, base64ToBytes(signature as string), message);
    } catch {
      ok = false;
    }
    if (ok) return result(true, keyId, `signed by ${keyId}`);
    return result(false, keyId, `the signature by ${keyId} does not match the document`);
  }
  return result(false, keyId, `no signature by the published key ${keyId}`);
}
