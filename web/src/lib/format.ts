/** Small formatting helpers shared by every view. */

export function usd(value: number | null | undefined, estimated = false): string {
  if (value === null || value === undefined) return '—';
  const prefix = estimated ? '≈ ' : '';
  if (value === 0) return `${prefix}$0`;
  if (value < 0.01) return `${prefix}$${value.toFixed(4)}`;
  return `${prefix}$${value.toFixed(2)}`;
}

export function tokens(value: number | null | undefined, estimated = false): string {
  if (value === null || value === undefined) return '—';
  return `${estimated ? '≈ ' : ''}${value.toLocaleString('en-US')}`;
}

export function percent(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return `${Math.round(value * 100)}%`;
}

export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 60) return `${value.toFixed(1)} s`;
  const minutes = Math.floor(value / 60);
  return `${minutes} min ${Math.round(value - minutes * 60)} s`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** "demo:skeptic" -> "skeptic (demo)"; other specs as they are. */
export function agentLabel(name: string): string {
  return name.startsWith('demo:') ? `${name.slice(5)} (demo)` : name;
}

/** A stable hue per agent name, for lanes and chart lines: FNV-1a, scattered by the golden
 * ratio so names that differ in one letter still get far-apart colours. */
export function agentHue(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i += 1) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return Math.round(((hash * 0.618033988749895) % 1) * 360);
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;
}
