/**
 * RFC 8785 JSON Canonicalization Scheme, as the server's receipts use it.
 *
 * ECMAScript already defines JCS's pieces: `JSON.stringify` writes strings and numbers
 * exactly as JCS asks (the RFC borrows ES's number formatting), and the default sort
 * compares UTF-16 code units, JCS's member order. What is left is sorting the members.
 */
export function canonicalize(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new Error('JCS has no form for NaN or infinity');
    }
    const text = JSON.stringify(value);
    if (text === undefined) throw new Error(`JCS cannot encode ${typeof value}`);
    return text;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalize(record[key])}`).join(',')}}`;
}

export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
