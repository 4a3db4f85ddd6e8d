// The one place the page talks to the server. Errors arrive in the API's envelope.
export class ApiError extends Error {
  constructor(envelope) {
    super(envelope.error || `HTTP ${envelope.status}`);
    this.status = envelope.status;
    this.errors = envelope.errors || [];
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
  return unwrap(await fetch(`/api/v1${path}`, { signal }));
}

async function unwrap(response) {
  let data;
  try {
    data = await response.json();
  } catch {
    throw new ApiError({ status: response.status, error: `The server answered ${response.status} without JSON.` });
  }
  if (!response.ok || data.ok === false) throw new ApiError({ status: response.status, ...data });
  return data;
}
