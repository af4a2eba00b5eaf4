import { describe, expect, it } from 'vitest';
import { canonicalize } from './jcs';
import { verifyReceipt } from './verify';
import fixture from './fixtures/receipt.json';

// A receipt and key issued by a real `aragora serve` (demo debate).
const receipt = fixture.odr as Record<string, unknown>;

describe('canonicalize (RFC 8785)', () => {
  it('sorts members by UTF-16 code units and writes numbers as ECMAScript does', () => {
    expect(canonicalize({ b: 1, a: [true, null, 'x'], '\u20ac': 1e21, '\ud83d\ude00': 0.000001 })).toBe(
      '{"a":[true,null,"x"],"b":1,"\u20ac":1e+21,"\ud83d\ude00":0.000001}',
    );
    expect(canonicalize({ z: { y: 2, x: 1 } })).toBe('{"z":{"x":1,"y":2}}');
    expect(canonicalize('\u2028"\n')).toBe('"\u2028\\"\\n"');
    expect(() => canonicalize(Number.NaN)).toThrow();
  });
});

describe('verifyReceipt', () => {
  it('accepts a receipt signed by the published key', async () => {
    const result = await verifyReceipt(receipt, fixture.public_key_pem, fixture.digest);
    expect(result.reason).toBe(`signed by ${fixture.key_id}`);
    expect(result.valid).toBe(true);
    expect(result.digest).toBe(fixture.digest);
    expect(result.keyId).toBe(fixture.key_id);
  });

  it('rejects a receipt whose content was changed', async () => {
    const forged = structuredClone(receipt);
    const text = JSON.stringify(forged).replace('PostgreSQL', 'SQLite');
    const result = await verifyReceipt(JSON.parse(text) as Record<string, unknown>, fixture.public_key_pem);
    expect(result.valid).toBe(false);
    expect(result.reason).toContain('does not match');
  });

  it('rejects a digest that differs from the published one', async () => {
    const result = await verifyReceipt(receipt, fixture.public_key_pem, '0'.repeat(64));
    expect(result.valid).toBe(false);
    expect(result.digestMatches).toBe(false);
  });

  it('rejects another key and an unsigned receipt', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const wrongKey = await verifyReceipt(receipt, other);
    expect(wrongKey.valid).toBe(false);
    expect(wrongKey.reason).toContain('no signature by the published key');
    const { signatures: _unused, ...unsigned } = receipt;
    void _unused;
    expect((await verifyReceipt(unsigned, fixture.public_key_pem)).reason).toBe('the receipt carries no signature');
  });
});
