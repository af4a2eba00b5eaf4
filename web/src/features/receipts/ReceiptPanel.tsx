/**
 * The debate's signed receipt: checked here, in the browser, against the published
 * signing key (JCS digest + Ed25519 with WebCrypto; the server's word on validity is not
 * used), and downloadable as ODR JSON, Markdown or HTML.
 */
import { useQuery } from '@tanstack/preact-query';
import { useState } from 'preact/hooks';
import { api, apiText, describeError } from '@/api/client';
import type { ReceiptInfo, ReceiptLink, SigningKey } from '@/api/types';
import { Badge, Button, Card, Spinner } from '@/components/ui';
import { when } from '@/lib/format';
import { verifyReceipt, type Verification } from '@/lib/verify';

async function check(link: ReceiptLink): Promise<{ info: ReceiptInfo; verification: Verification }> {
  const info = await api<ReceiptInfo>(link.url);
  const key = await api<SigningKey>('/api/v2/receipts/signing-key', { query: { key_id: info.key_id } });
  const verification = await verifyReceipt(info.odr, key.public_key_pem, link.digest);
  return { info, verification };
}

function save(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = name;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const FORMATS = [
  { format: 'odr', label: 'ODR JSON', ext: 'odr.json', type: 'application/json' },
  { format: 'md', label: 'Markdown', ext: 'md', type: 'text/markdown' },
  { format: 'html', label: 'HTML', ext: 'html', type: 'text/html' },
] as const;

export function ReceiptPanel({ link }: { link: ReceiptLink }) {
  const result = useQuery({ queryKey: ['receipt', link.id], queryFn: () => check(link), staleTime: Infinity });
  const [downloadError, setDownloadError] = useState<string | null>(null);
  const download = async (format: (typeof FORMATS)[number]) => {
    setDownloadError(null);
    try {
      const text = await apiText(`/api/v2/receipts/${encodeURIComponent(link.id)}/export`, { query: { format: format.format } });
      save(`${link.id}.${format.ext}`, text, format.type);
    } catch (error) {
      setDownloadError(describeError(error));
    }
  };
  const verification = result.data?.verification;
  return (
    <Card title="Receipt" id="receipt">
      <div data-testid="receipt-status" data-valid={verification ? String(verification.valid) : ''}>
        {result.isPending ? (
          <Spinner label="Checking the receipt" />
        ) : result.isError ? (
          <p class="note note-bad">Could not check the receipt: {describeError(result.error)}</p>
        ) : verification?.valid ? (
          <p>
            <Badge tone="good">✓ Verified in your browser</Badge>{' '}
            <span class="small">Ed25519 signature by the published key {verification.keyId}; digest recomputed.</span>
          </p>
        ) : (
          <p>
            <Badge tone="bad">✗ Not verified</Badge> <span class="small">{verification?.reason}</span>
          </p>
        )}
      </div>
      <dl class="facts small">
        <div>
          <dt>Digest</dt>
          <dd>
            <code class="digest">{link.digest}</code>
          </dd>
        </div>
        {result.data ? (
          <>
            <div>
              <dt>Issued</dt>
              <dd>
                {when(result.data.info.issued_at)} by {result.data.info.issuer}
              </dd>
            </div>
            <div>
              <dt>Chain</dt>
              <dd>position {result.data.info.position}</dd>
            </div>
          </>
        ) : null}
      </dl>
      <div class="row wrap">
        {FORMATS.map((format) => (
          <Button key={format.format} onClick={() => void download(format)}>
            ⤓ {format.label}
          </Button>
        ))}
      </div>
      {downloadError ? <p class="note note-bad">{downloadError}</p> : null}
    </Card>
  );
}
