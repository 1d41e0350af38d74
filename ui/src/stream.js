// The live stream's socket, read where the rows are made: in the Web Worker (stream.worker.js)
// normally, in the page when the worker cannot run (api.js: openStream). Imported by both
// bundles (build.mjs), so the two ways read and parse the stream alike.
import { ResumePoint, digest } from './rows.js';

// The list keeps the newest MAX_ROWS entries (traffic.jsx); rows waiting anywhere beyond
// that many would only be evicted on arrival.
export const MAX_ROWS = 100000;

/*
 * One WebSocket of the stream: each message's text is digested (rows.js) and its operations
 * handed to onOps(ops) in the order received; onClose({ opened, reason, code }) once, when
 * the socket closes (opened: whether the handshake had succeeded; a refused one may mean a
 * token is wanted, which only the page can ask for; resume: where the stream can resume,
 * rows.js's ResumePoint's point()). `from`: the point this socket was opened at (its url's
 * since = rows.js's resumeSince(from)): the entries of from.ids are not delivered again.
 * Returns the function that closes it without calling onClose.
 */
export function readSocket(url, protocols, { onOps, onClose }, from) {
	const ws = protocols.length ? new WebSocket(url, protocols) : new WebSocket(url);
	const seen = new ResumePoint(from);
	let opened = false;
	ws.onopen = () => { opened = true; };
	ws.onmessage = (ev) => onOps(digest(ev.data, seen));
	ws.onclose = (ev) => onClose({ opened, reason: ev.reason, code: ev.code, resume: seen.point() });
	return () => {
		ws.onclose = null;
		ws.onmessage = null;
		ws.close();
	};
}

/*
 * What the worker has for the page and not yet sent: the operations in order, consecutive
 * rows in one array (one message to the page, whatever the number of socket messages that
 * brought them). The worker sends only when the page has taken the previous message, so a
 * page that is busy (a long frame) gets one larger message afterwards instead of a queue of
 * them. Bounded: past cap rows the oldest go, counted in dropped (the list, which keeps the
 * newest MAX_ROWS, would have evicted them anyway; the page adds them to its evicted count).
 */
export class Outbox {
	constructor(cap = MAX_ROWS) {
		this.cap = cap;
		this.ops = [];
		this.rows = 0;
		this.dropped = 0;
	}
	get empty() {
		return this.ops.length === 0 && this.dropped === 0;
	}
	add(ops) {
		for (const op of ops) {
			const last = this.ops[this.ops.length - 1];
			if (!op.rows) this.ops.push(op);
			else if (last && last.rows) for (const r of op.rows) last.rows.push(r);
			else this.ops.push({ rows: op.rows });
			if (op.rows) this.rows += op.rows.length;
		}
		while (this.rows > this.cap) {
			const at = this.ops.findIndex((o) => o.rows), first = this.ops[at];
			const k = Math.min(first.rows.length, this.rows - this.cap);
			first.rows.splice(0, k);
			if (!first.rows.length) this.ops.splice(at, 1);
			this.rows -= k;
			this.dropped += k;
		}
	}
	// Everything held, emptied: { ops, dropped }.
	take() {
		const out = { ops: this.ops, dropped: this.dropped };
		this.ops = [];
		this.rows = 0;
		this.dropped = 0;
		return out;
	}
}
