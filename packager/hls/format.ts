/** Serialisation helpers shared by the HLS renderers. */
import { badRenderInput } from '../errors';

/** Seconds with at least 3 and at most 5 decimals (2 → "2.000", 1/3 → "0.33333"). */
export function decimal(x: number): string {
  if (!Number.isFinite(x) || x < 0) throw badRenderInput(`HLS: ${x} is not a valid duration`);
  return x.toFixed(5).replace(/0{1,2}$/, '');
}

/** A quoted-string attribute value; quotes and line breaks are not allowed inside. */
export function quoted(value: string): string {
  if (/["\r\n]/.test(value)) throw badRenderInput(`HLS: attribute value ${JSON.stringify(value)} contains a quote or line break`);
  return `"${value}"`;
}

/** A URI line: no line breaks, never empty. */
export function uriLine(uri: string): string {
  if (uri.length === 0 || /[\r\n]/.test(uri)) throw badRenderInput(`HLS: invalid URI ${JSON.stringify(uri)}`);
  return uri;
}

export function attributes(list: Array<[string, string | number | undefined]>): string {
  return list.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`).join(',');
}

export function isoDate(t: Date | number): string {
  const d = typeof t === 'number' ? new Date(t) : t;
  if (Number.isNaN(d.getTime())) throw badRenderInput('HLS: invalid PROGRAM-DATE-TIME');
  return d.toISOString();
}
