// The hub's API as the UI uses it (docs/hub.md): same origin, relative URLs.
//
// With `floe-hub --token`, every route answers 401 without the token: the page then asks for
// it (askToken, set by main.jsx: a form), keeps it in sessionStorage (this tab only, gone when
// it closes) and sends it as `Authorization: Bearer` on fetch; the WebSocket, which cannot
// carry that header from a browser, offers it as the subprotocol "floe.bearer.<base64url>"
// beside "floe" (docs/ui.md).

import { readSocket } from './stream.js';

const TOKEN_KEY = 'floe.token';
export const token = () => sessionStorage.getItem(TOKEN_KEY) || '';
export const setToken = (t) => (t ? sessionStorage.setItem(TOKEN_KEY, t) : sessionStorage.removeItem(TOKEN_KEY));

let askToken = null; // () => Promise<string>: the form; one at a time
let asking = null;
export function onTokenNeeded(fn) {
	askToken = fn;
}
// One prompt for all the requests that got a 401 at once; they all retry with its answer.
function needToken() {
	if (!askToken) return Promise.reject(new Error('HTTP 401: the hub wants a token'));
	if (!asking) asking = askToken().finally(() => { asking = null; });
	return asking;
}

const authHeaders = () => (token() ? { Authorization: `Bearer ${token()}` } : {});

// fetch with the token; on 401 the token is asked for and the request made again.
export async function authFetch(u, init = {}) {
	for (;;) {
		const r = await fetch(u, { ...init, headers: { ...(init.headers || {}), ...authHeaders() } });
		if (r.status !== 401) return r;
		setToken(await needToken());
	}
}

export async function getJSON(path, params) {
	const u = new URL(path, location.href);
	for (const [k, v] of Object.entries(params || {}))
		if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, v);
	const r = await authFetch(u);
	const j = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
	if (!r.ok) {
		const e = new Error(j.error || `HTTP ${r.status}`);
		e.status = r.status;
		throw e;
	}
	return j;
}

export const validate = (q) => getJSON('api/v1/validate', { q });
export const schema = () => getJSON('api/v1/schema');
export const serviceMap = (q, since, until) => getJSON('api/v1/servicemap', { q, since, until });

// Something the browser downloads itself (the PCAP): fetched with the token, saved as a file.
export async function download(path, params, filename) {
	const u = new URL(path, location.href);
	for (const [k, v] of Object.entries(params || {})) if (v) u.searchParams.set(k, v);
	const r = await authFetch(u);
	if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || `HTTP ${r.status}`);
	const url = URL.createObjectURL(await r.blob());
	const a = document.createElement('a');
	a.href = url;
	a.download = filename;
	document.body.appendChild(a);
	a.click();
	a.remove();
	setTimeout(() => URL.revokeObjectURL(url), 60000);
}

const b64url = (s) => btoa(String.fromCharCode(...new TextEncoder().encode(s))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/*
 * The live stream: history since `since`, then live entries. Callbacks: onRows(array of rows,
 * in order: rows.js's pack), onDropped(n) (rows the worker let go unsent: the oldest, past
 * MAX_ROWS while the page did not take them), onLive(), onLost(n, total), onAgent(msg),
 * onClose(reason), onRestart() (the stream starts over from `since`: what was shown goes).
 * Returns a close function. The stream is asked for batches (`batch`, `batch_ms`:
 * docs/hub.md): each WebSocket message is a JSON array of up to STREAM_BATCH messages.
 *
 * The socket is read in a Web Worker (stream.worker.js, served as worker.js beside app.js),
 * which parses each message and makes the rows: the main thread gets no socket message, only
 * ready rows. When the worker cannot run (no Worker, worker.js not served, its script failed)
 * the page reads the socket and parses it itself (stream.js, the same code); a stream the
 * worker had open starts over in the page (onRestart), so nothing is shown twice.
 * A refused handshake (a wrong or missing token) is not told apart by the browser: the page
 * asks the hub (a fetch) and, on 401, for the token, then opens the stream again.
 */
export const STREAM_BATCH = 1000;
export const STREAM_BATCH_MS = 100;

// Who reads the stream: 'worker' once the worker has answered, 'page' when the page does, ''
// before either (#counts' data-parser).
let mode = '';
export const streamMode = () => mode;

// The page's one stream worker, started at the first stream; null when it cannot run.
let client;
function streamWorker() {
	if (client !== undefined) return client;
	let w;
	try {
		w = new Worker(new URL('worker.js', import.meta.url));
	} catch {
		mode = 'page';
		return (client = null);
	}
	const streams = new Map(); // id -> { onOps, onClose, onFail }
	w.onmessage = ({ data: m }) => {
		mode = 'worker';
		const s = streams.get(m.id);
		if (m.type === 'ops') {
			s?.onOps(m.ops, m.dropped);
			w.postMessage({ type: 'ack', id: m.id });
		} else if (m.type === 'closed' && s) {
			streams.delete(m.id);
			s.onClose(m);
		}
	};
	// The script did not load or threw: it will not answer; its streams start over in the page.
	w.onerror = (ev) => {
		ev.preventDefault();
		w.terminate();
		client = null;
		mode = 'page';
		const failed = [...streams.values()];
		streams.clear();
		for (const s of failed) s.onFail();
	};
	return (client = {
		open(id, url, protocols, handlers) {
			streams.set(id, handlers);
			w.postMessage({ type: 'open', id, url, protocols });
			return () => {
				streams.delete(id);
				w.postMessage({ type: 'close', id });
			};
		},
	});
}

let streams = 0;

export function openStream({ q, since }, cb) {
	const u = new URL('api/v1/stream', location.href);
	u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
	if (q) u.searchParams.set('q', q);
	if (since) u.searchParams.set('since', since);
	u.searchParams.set('batch', STREAM_BATCH);
	u.searchParams.set('batch_ms', STREAM_BATCH_MS);
	const id = ++streams;
	let closed = false, stop = null;
	const onOps = (ops, dropped) => {
		if (dropped) cb.onDropped(dropped);
		for (const op of ops) {
			if (op.rows) cb.onRows(op.rows);
			else if (op.type === 'live') cb.onLive();
			else if (op.type === 'lost') cb.onLost(op.lost, op.total);
			else if (op.type === 'agent') cb.onAgent(op);
		}
	};
	const onClose = async ({ opened, reason, code }) => {
		if (closed) return;
		if (!opened) {
			// Never opened: a 401? authFetch asks for the token when it is that.
			const r = await authFetch(new URL('api/v1/agents', location.href)).catch(() => null);
			if (!closed && r && r.ok && token()) return start();
		}
		cb.onClose(reason || `closed (${code})`, code);
	};
	const onFail = () => {
		if (closed) return;
		cb.onRestart();
		start();
	};
	const start = () => {
		const protocols = token() ? ['floe', `floe.bearer.${b64url(token())}`] : [];
		const w = streamWorker();
		if (w) stop = w.open(id, u.href, protocols, { onOps, onClose, onFail });
		else {
			mode = 'page';
			stop = readSocket(u.href, protocols, { onOps: (ops) => onOps(ops, 0), onClose });
		}
	};
	start();
	return () => {
		closed = true;
		stop();
	};
}
