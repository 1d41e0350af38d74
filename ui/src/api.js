// The hub's API as the UI uses it (docs/hub.md): same origin, relative URLs.
//
// With `floe-hub --token`, every route answers 401 without the token: the page then asks for
// it (askToken, set by main.jsx: a form), keeps it in sessionStorage (this tab only, gone when
// it closes) and sends it as `Authorization: Bearer` on fetch; the WebSocket, which cannot
// carry that header from a browser, offers it as the subprotocol "floe.bearer.<base64url>"
// beside "floe" (docs/ui.md).

import { resumeSince } from './rows.js';
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
 * onClose(reason), onRestart() (the stream starts over from `since`: what was shown goes),
 * onReconnecting(attempt, ms, reason), onReconnected(gapMs, gapRows) (below).
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
 *
 * A stream that drops (the hub restarts, the network goes) is opened again by itself, after
 * retryDelay(attempt) (0.5 s doubling to 10 s, jittered), telling onReconnecting(attempt, ms,
 * reason) before each wait; the attempts start again from 1 once the stream gives a message.
 * The rows shown stay, and the stream resumes where it was, a window earlier: since = the newest
 * entry timestamp it delivered less what recent entries say a late one can lag (rows.js:
 * resumeSince), the entries it delivered already dropped by id (stream.js: readSocket's resume
 * point, kept by whoever reads the socket), so the hub's history of the gap comes, with an
 * older entry that completed during it, and nothing twice. Once that history is over (`live`),
 * onReconnected(gapMs, gapRows) says for how long nothing came and how many rows the gap gave;
 * gapRows is null when there was no resume point (rows without a timestamp: the stream then
 * resumes from the moment it reconnects and the gap is not shown). Nothing delivered yet: from
 * `since` again, as nothing can show twice. A stream that dropped before its first history was
 * over starts over from `since` instead (onRestart). onClose(reason) is final:
 * the hub refused the query (close code 1008), or the page closed the stream.
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
		open(id, url, protocols, from, handlers) {
			streams.set(id, handlers);
			w.postMessage({ type: 'open', id, url, protocols, from });
			return () => {
				streams.delete(id);
				w.postMessage({ type: 'close', id });
			};
		},
	});
}

let streams = 0;

export const RETRY_FIRST_MS = 500;
export const RETRY_MAX_MS = 10000;
// The wait before reconnect attempt n (1, 2, ...): 0.5 s doubling up to 10 s, each drawn in
// [half, all] of that (jitter: the pages a hub restart cut off do not all come back at once).
export function retryDelay(n, random = Math.random) {
	const full = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(n - 1, 20));
	return Math.round(full * (0.5 + 0.5 * random()));
}
// The hub closes a stream whose q or since it refuses with 1008 (docs/hub.md): final.
const CLOSE_REFUSED = 1008;
const nowNs = () => String(BigInt(Date.now()) * 1000000n);

export function openStream({ q, since }, cb) {
	const streamUrl = (from) => {
		const u = new URL('api/v1/stream', location.href);
		u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
		if (q) u.searchParams.set('q', q);
		if (from) u.searchParams.set('since', from);
		u.searchParams.set('batch', STREAM_BATCH);
		u.searchParams.set('batch_ms', STREAM_BATCH_MS);
		return u.href;
	};
	// attempt: failed opens since the stream last gave a message; live: its history is over;
	// downAt: when it dropped (0: it is not down); timer: the wait before the next attempt.
	let closed = false, stop = null, attempt = 0, live = false, downAt = 0, timer = 0, from = since;
	// resume: where the last socket can be resumed (readSocket's, carried through the worker);
	// resumeAt: the point the current socket was opened at; delivered: whether any row came;
	// gapMs, gapRows: the drop being caught up (gapRows null: not resumed, the gap not shown).
	let resume = null, resumeAt = null, delivered = false, gapMs = 0, gapRows = null, catchingUp = false;
	// The hub counts a stream's losses from 0: the count before a reconnect is added to the next's.
	let lostBefore = 0, lostTotal = 0;
	const onOps = (ops, dropped) => {
		if (closed) return;
		attempt = 0;
		if (downAt) {
			gapMs = Date.now() - downAt;
			downAt = 0;
			catchingUp = true;
		}
		if (dropped) cb.onDropped(dropped);
		if (dropped && catchingUp && gapRows !== null) gapRows += dropped;
		for (const op of ops) {
			if (op.rows) {
				delivered = true;
				if (catchingUp && gapRows !== null) gapRows += op.rows.length;
				cb.onRows(op.rows);
			} else if (op.type === 'live') {
				live = true;
				cb.onLive();
				// The history of the gap is over: the reconnection told with what it brought.
				if (catchingUp) cb.onReconnected(gapMs, gapRows);
				catchingUp = false;
			} else if (op.type === 'lost') {
				lostTotal = op.total;
				cb.onLost(op.lost, lostBefore + op.total);
			} else if (op.type === 'agent') cb.onAgent(op);
		}
	};
	const retry = (reason) => {
		if (!downAt) downAt = Date.now();
		const ms = retryDelay(attempt);
		cb.onReconnecting(attempt, ms, reason);
		timer = setTimeout(() => {
			timer = 0;
			if (closed) return;
			// After the history, from where it was (the rows stay); before its end, all of it again.
			if (live) {
				// Dropped again while catching up: the gap's rows so far count on.
				const sofar = catchingUp ? gapRows ?? 0 : 0;
				if (resume?.ts) [from, resumeAt, gapRows] = [resumeSince(resume), resume, sofar];
				else if (!delivered) [from, resumeAt, gapRows] = [since, null, sofar];
				else [from, resumeAt, gapRows] = [nowNs(), null, null];
				lostBefore += lostTotal;
			} else {
				lostBefore = 0;
				resume = resumeAt = null;
				delivered = false;
				cb.onRestart();
			}
			lostTotal = 0;
			start();
		}, ms);
	};
	const onClose = async ({ opened, reason, code, resume: at }) => {
		if (closed) return;
		stop = null;
		if (at?.ts) resume = at;
		attempt++;
		const why = reason || `closed (${code})`;
		if (code === CLOSE_REFUSED) return cb.onClose(why, code);
		if (!opened) {
			// Never opened: a 401? authFetch asks for the token when it is that; a hub that
			// does not answer at all is down: wait and try again.
			const r = await authFetch(new URL('api/v1/agents', location.href)).catch(() => null);
			if (closed) return;
			if (r && r.ok && token() && attempt === 1) return start();
		}
		retry(why);
	};
	const onFail = () => {
		if (closed) return;
		from = since;
		live = catchingUp = delivered = false;
		resume = resumeAt = null;
		lostBefore = lostTotal = 0;
		cb.onRestart();
		start();
	};
	const start = () => {
		const protocols = token() ? ['floe', `floe.bearer.${b64url(token())}`] : [];
		const url = streamUrl(from);
		const w = streamWorker();
		// Each socket its own id: nothing from a socket that closed can be taken for the next's.
		if (w) stop = w.open(++streams, url, protocols, resumeAt, { onOps, onClose, onFail });
		else {
			mode = 'page';
			stop = readSocket(url, protocols, { onOps: (ops) => onOps(ops, 0), onClose }, resumeAt);
		}
	};
	start();
	return () => {
		closed = true;
		clearTimeout(timer);
		if (stop) stop();
		stop = null;
	};
}
