// API access: JSON requests carrying the session's CSRF token, and the live
// update socket with reconnection.

let csrf = '';

export async function session() {
  const s = await request('GET', '/api/v1/session');
  csrf = s.csrf;
  return s;
}

export async function request(method, path) {
  const headers = { 'Accept': 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  const res = await fetch(path, { method, headers, credentials: 'same-origin' });
  if (res.status === 401) {
    location.href = '/login';
    throw new Error('not signed in');
  }
  if (!res.ok) {
    let msg = res.statusText;
    try { msg = (await res.json()).error || msg; } catch { /* not JSON */ }
    throw new Error(msg);
  }
  return res.status === 204 ? null : res.json();
}

// live opens /api/v1/events and calls onMessage with every decoded message;
// onState(true/false) follows the connection. It reconnects with backoff.
export function live(onMessage, onState) {
  let delay = 500;
  const connect = () => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/events`);
    ws.onopen = () => { delay = 500; onState(true); };
    ws.onmessage = (e) => {
      try { onMessage(JSON.parse(e.data)); } catch (err) { console.error(err); }
    };
    ws.onclose = () => {
      onState(false);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  };
  connect();
}
