// The one place the page talks to the server. Errors arrive in the API's envelope.
export class ApiError extends Error {
  constructor(envelope, retryAfter = null) {
    super(envelope.error || `HTTP ${envelope.status}`);
    this.status = envelope.status;
    this.errors = envelope.errors || [];
    this.retryAfter = retryAfter;  // seconds, from a 503's Retry-After
  }
}

/** Run fn(); while the server answers 503 (busy), wait its Retry-After (plus a little jitter, so a hall
 * of students does not come back at the same instant) and try again, up to `tries` times. */
export async function patiently(fn, { tries = 5, onWait = () => {} } = {}) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 503 || attempt >= tries) throw err;
      const seconds = (err.retryAfter || 2) * (1 + Math.random());
      onWait(seconds, attempt);
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    }
  }
}

export async function post(path, body, { signal } = {}) {
  const response = await fetch(`/api/v1${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal,
  });
  return unwrap(response);
}

export async function get(path, { signal } = {}) {
  const given = embedded(path);
  if (given) return given;
  return unwrap(await fetch(`/api/v1${path}`, { signal }));
}

/**
 * The server's answer to GET path written into the page (server/embed.py: the API's own bytes, in a
 * <meta name="api-get" data-path content>), taken once: the first get() of that path draws without a round trip,
 * a later one asks the server again. null when the page holds none.
 */
function embedded(path) {
  for (const meta of document.querySelectorAll('meta[name="api-get"]')) {
    if (meta.dataset.path !== path) continue;
    meta.remove();
    try {
      const data = JSON.parse(meta.content);
      return data && data.ok !== false ? data : null;
    } catch {
      return null;
    }
  }
  return null;
}

async function unwrap(response) {
  let data;
  try {
    data = await response.json();
  } catch {
    throw new ApiError({ status: response.status, error: `The server answered ${response.status} without JSON.` });
  }
  if (!response.ok || data.ok === false) throw new ApiError({ status: response.status, ...data }, retryAfter(response));
  return data;
}

export function retryAfter(response) {
  const value = Number(response.headers.get("retry-after"));
  return Number.isFinite(value) && value > 0 ? value : null;
}
