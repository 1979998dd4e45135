// The dashboard's HTTP client: JSON in and out, and the API token. Every request carries the saved token
// (reads then show stream keys and encoder settings; without it the server answers the public view). On 401
// (a write without a token, or a stale saved one) ask for the token (BEAM_API_TOKEN, or the one Beamline
// generated: see the README, Security), keep it in localStorage, and retry once. GPL-3.0-or-later.

const TOKEN_KEY = 'beamline.apiToken';

export function storedToken() {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // private mode: the token lives for this page only
  }
}

/** An error carrying the server's {statusCode, error, message}. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * createApiClient({ askToken }): askToken(reason) resolves to a token string or null (cancelled).
 * Returns { request(method, path, body?) } resolving to parsed JSON (or null for 204).
 */
export function createApiClient({ askToken }) {
  async function once(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const token = storedToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    if (res.status === 204) return { res, data: null };
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { message: text.slice(0, 200) };
    }
    return { res, data };
  }

  async function request(method, path, body) {
    let { res, data } = await once(method, path, body);
    if (res.status === 401) {
      const token = await askToken(storedToken() ? 'The saved API token was refused. Enter the current one.' : 'Changes need the API token.');
      if (token) {
        storeToken(token);
        ({ res, data } = await once(method, path, body));
      }
    }
    if (!res.ok) throw new ApiError(res.status, (data && data.message) || `HTTP ${res.status}`);
    return data;
  }

  return { request };
}
