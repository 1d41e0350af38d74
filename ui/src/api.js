// The hub's API as the UI uses it (docs/hub.md): same origin, relative URLs.

export async function getJSON(path, params) {
	const u = new URL(path, location.href);
	for (const [k, v] of Object.entries(params || {}))
		if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, v);
	const r = await fetch(u);
	const j = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
	if (!r.ok) throw new Error(j.error || `HTTP ${r.status}`);
	return j;
}

// The entries of a query (pages followed up to max).
export async function getEntries(q, since, max) {
	const out = [];
	let cursor;
	while (out.length < max) {
		const j = await getJSON('api/v1/entries', {
			q, since, cursor, limit: Math.min(10000, max - out.length),
		});
		out.push(...j.entries);
		if (!j.next) break;
		cursor = j.next;
	}
	return out;
}

export const validate = (q) => getJSON('api/v1/validate', { q });
export const schema = () => getJSON('api/v1/schema');

// URL of something the browser downloads itself (the PCAP).
export function apiURL(path, params) {
	const u = new URL(path, location.href);
	for (const [k, v] of Object.entries(params || {})) if (v) u.searchParams.set(k, v);
	return u.toString();
}

/*
 * The live stream: history since `since`, then live entries. Callbacks: onEntries(batch),
 * onLive(), onLost(n, total), onAgent(msg), onClose(reason). Returns a close function.
 */
export function openStream({ q, since }, cb) {
	const u = new URL('api/v1/stream', location.href);
	u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
	if (q) u.searchParams.set('q', q);
	if (since) u.searchParams.set('since', since);
	const ws = new WebSocket(u);
	let closed = false;
	ws.onmessage = (ev) => {
		let m;
		try {
			m = JSON.parse(ev.data);
		} catch {
			return;
		}
		if (m.type === 'entry') cb.onEntry(m.entry);
		else if (m.type === 'live') cb.onLive();
		else if (m.type === 'lost') cb.onLost(m.lost, m.total);
		else if (m.type === 'agent') cb.onAgent(m);
	};
	ws.onclose = (ev) => {
		if (!closed) cb.onClose(ev.reason || `closed (${ev.code})`, ev.code);
	};
	return () => {
		closed = true;
		ws.close();
	};
}
