/**
 * The webhooks' one I/O seam: POST a JSON body to a URL and read the answer, within a timeout covering the
 * whole exchange (connection, headers and body), reading at most `maxResponseBytes` of the answer (the rest is
 * discarded and the connection dropped). Redirects are not followed: a 3xx is an answer like any other status,
 * so a receiver cannot bounce a delivery to another address.
 */

export interface HttpAnswer {
  status: number;
  /** The answer's first `maxResponseBytes` bytes, as UTF-8. */
  body: string;
  /** The answer was longer than `maxResponseBytes`. */
  truncated: boolean;
}

export interface PostOptions {
  timeoutMs: number;
  maxResponseBytes: number;
}

/** Resolves with the answer, or rejects with an Error whose message says why there was none. */
export type HttpPost = (url: string, body: string, headers: Record<string, string>, opts: PostOptions) => Promise<HttpAnswer>;

/** Pure: a short, URL-free description of why a request got no answer. */
export function failureText(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } } | null;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const code = e?.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host not found (${code})`;
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection reset';
  const text = e?.cause?.message ?? e?.message ?? String(err);
  return (code ? `${code}: ${text}` : text).replace(/https?:\/\/\S+/g, '<url>').slice(0, 200);
}

async function readBounded(res: Response, max: number): Promise<{ body: string; truncated: boolean }> {
  if (!res.body) return { body: '', truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = max - size;
    if (value.byteLength > room) {
      if (room > 0) chunks.push(value.subarray(0, room));
      size = max;
      truncated = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  return { body: Buffer.concat(chunks).toString('utf8'), truncated };
}

/** The default HttpPost: Node's fetch. */
export const postJson: HttpPost = async (url, body, headers, opts) => {
  const signal = AbortSignal.timeout(opts.timeoutMs);
  try {
    const res = await fetch(url, { method: 'POST', body, headers, redirect: 'manual', signal });
    const { body: text, truncated } = await readBounded(res, opts.maxResponseBytes);
    return { status: res.status, body: text, truncated };
  } catch (err) {
    throw new Error(failureText(err, opts.timeoutMs));
  }
};
