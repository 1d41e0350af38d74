// The hub's API as the UI uses it (docs/hub.md): same origin, relative URLs.
//
// With `floe-hub --token`, every route answers 401 without the token: the page then asks for
// it (askToken, set by main.jsx: a form), keeps it in sessionStorage (this tab only, gone when
// it closes) and sends it as `Authorization: Bearer` on fetch; the WebSocket, which cannot
// carry that header from a browser, offers it as the subprotocol "floe.bearer.<base64url>"
// beside "floe" (docs/ui.md).

import { digest } from './rows.js';

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
 * in order: rows.js's compact), onLive(), onLost(n, total), onAgent(msg), onClose(reason).
 * Returns a close function. The stream is asked for batches (`batch`, `batch_ms`:
 * docs/hub.md): each WebSocket message is a JSON array of up to STREAM_BATCH messages, so that
 * thousands of entries a second cost the page a few message events, not one each. Each
 * message's text goes to the parser (a Web Worker: parser()), which parses it and makes the
 * rows; the main thread gets them ready.
 * A refused handshake (a wrong or missing token) is not told apart by the browser: the page
 * asks the hub (a fetch) and, on 401, for the token, then opens the stream again.
 */
export const STREAM_BATCH = 1000;
export const STREAM_BATCH_MS = 100;

/*
 * The page's one parser: post(stream, text) parses a WebSocket message's text off the main
 * thread (stream.worker.js, served as worker.js beside app.js) and hands its operations
 * (rows.js's digest) to the stream's handler, in the order posted. Streams are numbered so
 * that what a closed stream still had in the worker is dropped. When the worker cannot run
 * (no Worker, worker.js not served) the page digests the text itself, the texts the worker
 * had not answered first: nothing is lost or reordered, only the main thread does the work.
 * mode: 'worker' once the worker has answered, 'page' when the page parses, '' before either.
 *
 * Bounded: the texts the worker has not answered yet are at most BACKLOG characters. Past
 * that (the worker slower than the stream) the page parses the text itself, its operations
 * held back until the worker's earlier ones are delivered (messages are numbered): the main
 * thread then reads the WebSocket only as fast as it parses, so the browser stops reading the
 * socket and the hub counts what it cannot send as lost, as it did before the worker, instead
 * of texts piling up in the worker's queue without bound.
 */
const BACKLOG = 16 << 20;
let theParser = null;
export function parser() {
	if (theParser) return theParser;
	const handlers = new Map(); // stream -> fn(ops)
	const inWorker = new Map(); // message number -> [stream, text]: posted, not answered
	const done = new Map(); // message number -> [stream, ops]: parsed, waiting for its turn
	let posted = 0, next = 1, backlog = 0;
	const deliver = () => {
		for (let d; (d = done.get(next)); next++) {
			done.delete(next);
			handlers.get(d[0])?.(d[1]);
		}
	};
	const p = (theParser = {
		mode: '',
		worker: null,
		handle: (stream, fn) => handlers.set(stream, fn),
		forget: (stream) => handlers.delete(stream),
		post(stream, text) {
			const n = ++posted;
			if (!p.worker || backlog + text.length > BACKLOG) {
				done.set(n, [stream, digest(text)]);
				return deliver();
			}
			backlog += text.length;
			inWorker.set(n, [stream, text]);
			p.worker.postMessage({ n, text });
		},
	});
	const fallBack = () => {
		if (!p.worker) return;
		p.worker.terminate();
		p.worker = null;
		p.mode = 'page';
		for (const [n, [stream, text]] of inWorker) done.set(n, [stream, digest(text)]);
		inWorker.clear();
		backlog = 0;
		deliver();
	};
	try {
		p.worker = new Worker(new URL('worker.js', import.meta.url));
	} catch {
		p.mode = 'page';
		return p;
	}
	p.worker.onmessage = (ev) => {
		const { n, ops } = ev.data, [stream, text] = inWorker.get(n);
		inWorker.delete(n);
		backlog -= text.length;
		p.mode = 'worker';
		done.set(n, [stream, ops]);
		deliver();
	};
	// The script did not load or threw: it will not answer.
	p.worker.onerror = (ev) => {
		ev.preventDefault();
		fallBack();
	};
	return p;
}

let streams = 0;

export function openStream({ q, since }, cb) {
	const u = new URL('api/v1/stream', location.href);
	u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
	if (q) u.searchParams.set('q', q);
	if (since) u.searchParams.set('since', since);
	u.searchParams.set('batch', STREAM_BATCH);
	u.searchParams.set('batch_ms', STREAM_BATCH_MS);
	let closed = false, ws = null, opened = false;
	const id = ++streams, ps = parser();
	ps.handle(id, (ops) => {
		for (const op of ops) {
			if (op.rows) cb.onRows(op.rows);
			else if (op.type === 'live') cb.onLive();
			else if (op.type === 'lost') cb.onLost(op.lost, op.total);
			else if (op.type === 'agent') cb.onAgent(op);
		}
	});
	const open = () => {
		ws = token() ? new WebSocket(u, ['floe', `floe.bearer.${b64url(token())}`]) : new WebSocket(u);
		ws.onopen = () => { opened = true; };
		ws.onmessage = (ev) => ps.post(id, ev.data);
		ws.onclose = async (ev) => {
			if (closed) return;
			if (!opened) {
				// Never opened: a 401? authFetch asks for the token when it is that.
				const r = await authFetch(new URL('api/v1/agents', location.href)).catch(() => null);
				if (!closed && r && r.ok && token()) return open();
			}
			cb.onClose(ev.reason || `closed (${ev.code})`, ev.code);
		};
	};
	open();
	return () => {
		closed = true;
		ps.forget(id);
		ws.close();
	};
}
