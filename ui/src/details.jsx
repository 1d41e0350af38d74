// Entry details: request and response side by side, protocol fields in their own layout,
// the connection, copy as curl/JSON, the PCAP of the connection.
import { useEffect, useState } from 'preact/hooks';
import { download, getJSON } from './api.js';
import { endpoints, fmtBytes, fmtMs, grpcStatus, summarize } from './summary.js';

function KV({ obj, id }) {
	const keys = obj ? Object.keys(obj).filter((k) => obj[k] !== undefined && obj[k] !== null && obj[k] !== '') : [];
	if (!keys.length) return null;
	return (
		<table class="kv" id={id}>
			<tbody>
				{keys.map((k) => (
					<tr><td>{k}</td><td>{typeof obj[k] === 'object' ? JSON.stringify(obj[k]) : String(obj[k])}</td></tr>
				))}
			</tbody>
		</table>
	);
}

function b64bytes(s) {
	const bin = atob(s);
	const u = new Uint8Array(bin.length);
	for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
	return u;
}
function hexdump(u) {
	const lines = [];
	for (let o = 0; o < u.length && o < 65536; o += 16) {
		const row = [...u.slice(o, o + 16)];
		lines.push(o.toString(16).padStart(6, '0') + '  ' +
			row.map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(48) + '  ' +
			row.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join(''));
	}
	return lines.join('\n');
}

function Body({ body, ctype, side }) {
	const [mode, setMode] = useState('auto');
	if (!body || (!body.text && !body.base64)) {
		return body && body.size ? <p class="muted">{fmtBytes(body.size)} body (not kept)</p> : null;
	}
	const ct = (ctype || '').toLowerCase();
	let view;
	if (body.base64 && /^image\//.test(ct) && mode === 'auto') {
		view = <img alt="body" src={`data:${ct.split(';')[0]};base64,${body.base64}`} style="max-width:100%" />;
	} else if (body.base64 || mode === 'hex') {
		const bytes = body.base64 ? b64bytes(body.base64) : new TextEncoder().encode(body.text);
		view = <pre class="body" data-kind="hex">{hexdump(bytes)}</pre>;
	} else {
		let text = body.text, kind = 'text';
		if (mode === 'auto' && (ct.includes('json') || /^\s*[{[]/.test(text))) {
			try {
				text = JSON.stringify(JSON.parse(text), null, 2);
				kind = 'json';
			} catch { /* not JSON after all: as text */ }
		} else if (mode === 'auto' && ct.includes('x-www-form-urlencoded')) {
			text = [...new URLSearchParams(text)].map(([k, v]) => `${k} = ${v}`).join('\n');
			kind = 'form';
		}
		view = <pre class="body" data-kind={kind} id={`${side}-body`}>{text}</pre>;
	}
	return (
		<div>
			<div class="actions">
				<span class="muted">{fmtBytes(body.size)}{body.encoding ? ` ${body.encoding}→${fmtBytes(body.decoded_size)}` : ''}{body.truncated ? ' (truncated)' : ''}</span>
				<button onClick={() => setMode(mode === 'hex' ? 'auto' : 'hex')}>{mode === 'hex' ? 'pretty' : 'hex'}</button>
			</div>
			{view}
		</div>
	);
}

function Half({ title, side, h, e }) {
	if (!h) return <div><h3>{title}</h3><p class="muted">{e.missing === side ? `missing (${e.missing_reason || '?'})` : '—'}</p></div>;
	const { headers, cookies, query_params: qp, body, trailers, ...rest } = h;
	return (
		<div id={`${side}-half`}>
			<h3>{title}</h3>
			<KV obj={Object.fromEntries(Object.entries(rest).filter(([, v]) => typeof v !== 'object' || v === null))} />
			{headers && <><h3>headers</h3><KV obj={headers} id={`${side}-headers`} /></>}
			{cookies && <><h3>cookies</h3><KV obj={cookies} /></>}
			{qp && Object.keys(qp).length > 0 && <><h3>query parameters</h3><KV obj={qp} /></>}
			{Object.entries(rest).filter(([, v]) => v && typeof v === 'object').map(([k, v]) => (
				<><h3>{k}</h3><pre class="body">{JSON.stringify(v, null, 2)}</pre></>
			))}
			{body && <><h3>body</h3><Body body={body} ctype={h.content_type} side={side} /></>}
			{trailers && <><h3>trailers</h3><KV obj={trailers} /></>}
		</div>
	);
}

function ProtoFields({ e }) {
	if (e.grpc) {
		const g = e.grpc;
		return (
			<>
				<h3>gRPC</h3>
				<table class="kv" id="grpc-status"><tbody>
					<tr><td>status</td><td class={grpcStatus(e).bad ? 'err' : 'ok'}>{grpcStatus(e).code === null ? grpcStatus(e).text : `${g.status} ${grpcStatus(e).text}`}</td></tr>
				</tbody></table>
				<KV obj={{ service: g.service, method: g.method, message: g.message, encoding: g.encoding, messages: `${g.request_count ?? 0} sent, ${g.response_count ?? 0} received` }} />
				{['request_messages', 'response_messages'].map((k) => g[k] && g[k].map((m, i) => (
					<>
						<h3>{k.replace('_', ' ')} {i + 1} ({fmtBytes(m.size)})</h3>
						{m.fields ? (
							<table class="kv"><tbody>{m.fields.map((f) => (
								<tr><td>#{f.field} {f.wire_type}{f.type ? `/${f.type}` : ''}</td><td>{typeof f.value === 'object' ? JSON.stringify(f.value) : String(f.value)}</td></tr>
							))}</tbody></table>
						) : <pre class="body">{m.text || m.base64 || m.decode_error || ''}</pre>}
					</>
				)))}
			</>
		);
	}
	if (e.graphql) {
		const g = e.graphql;
		return (
			<>
				<h3>GraphQL</h3>
				<KV obj={{ operation: `${g.operation_type} ${g.operation_name || ''}`, errors: g.error_count }} />
				<pre class="body">{g.query}</pre>
				{g.variables && <pre class="body">{JSON.stringify(g.variables, null, 2)}</pre>}
			</>
		);
	}
	const rq = e.request || {}, rs = e.response || {};
	const val = (v) => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
	if (e.protocol === 'redis') {
		return (
			<>
				<h3>Redis</h3>
				<table class="kv" id="redis"><tbody>
					<tr><td>command</td><td>{rq.command} {(rq.args || []).join(' ')}{rq.args_truncated ? ' …' : ''}</td></tr>
					{rq.keys && <tr><td>keys</td><td>{rq.keys.join(', ')}</td></tr>}
					{rq.db !== undefined && <tr><td>db</td><td>{rq.db}</td></tr>}
					<tr><td>reply ({rs.type})</td><td class={rs.type === 'error' ? 'err' : ''}>{rs.type === 'error' ? rs.error : val(rs.value ?? rs.value_base64)}</td></tr>
				</tbody></table>
			</>
		);
	}
	if (e.protocol === 'dns') {
		const recs = ['answers', 'authority', 'additional'].flatMap((sec) => (rs[sec] || []).map((r) => ({ sec, ...r })));
		return (
			<>
				<h3>DNS ({e.transport})</h3>
				<KV obj={{ question: `${rq.name || rs.name} ${rq.type || rs.type}`, rcode: rs.rcode, id: rq.id ?? rs.id }} />
				{recs.length > 0 && (
					<table class="kv" id="dns-records"><tbody>
						{recs.map((r) => <tr><td>{r.sec} {r.name}</td><td>{r.type} {r.ttl}s {val(r.data)}</td></tr>)}
					</tbody></table>
				)}
			</>
		);
	}
	if (e.protocol === 'kafka') {
		return (<><h3>Kafka</h3><KV obj={{ api: `${rq.api_name || rq.api_key} v${rq.api_version}`, client: rq.client_id, correlation: rq.correlation_id, error: rs.error_name, errors: rs.error_count }} /></>);
	}
	if (e.protocol === 'amqp') {
		return (<><h3>AMQP</h3><KV obj={{ method: rq.method, channel: rq.channel, exchange: rq.exchange, routing_key: rq.routing_key, queue: rq.queue, reply: rs.method, reply_code: rs.reply_code && `${rs.reply_code} ${rs.reply_name}`, ack: e.ack && val(e.ack) }} /></>);
	}
	return null;
}

// curl for an HTTP entry, from what the client sent.
export function asCurl(e) {
	const rq = e.request || {};
	const host = rq.headers?.host || rq.authority || `${e.dst?.ip}:${e.dst?.port}`;
	const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
	const parts = ['curl'];
	if (e.version === '2') parts.push('--http2-prior-knowledge');
	if (rq.method && rq.method !== 'GET') parts.push('-X', rq.method);
	for (const [k, v] of Object.entries(rq.headers || {}))
		if (!['host', 'content-length'].includes(k) && !k.startsWith(':')) parts.push('-H', q(`${k}: ${v}`));
	if (rq.body?.text) parts.push('--data-binary', q(rq.body.text));
	parts.push(q(`http://${host}${rq.url || rq.path || '/'}`));
	return parts.join(' ');
}

export function Details({ id, onClose }) {
	const [e, setE] = useState(null);
	const [err, setErr] = useState('');
	const [copied, setCopied] = useState('');
	useEffect(() => {
		setE(null);
		setErr('');
		getJSON(`api/v1/entries/${encodeURIComponent(id)}`).then(setE, (x) => setErr(x.message));
	}, [id]);
	// The list keeps only rows (traffic.jsx), so the entry is always the one fetched here.
	const ent = e;
	if (!ent) return <aside class="details" id="details">{err ? <p class="err">{err}</p> : <p class="muted">loading…</p>}</aside>;
	const s = summarize(ent);
	const copy = (what, text) => {
		navigator.clipboard?.writeText(text).catch(() => {});
		window.__floeLastCopy = text; // the browser tests read what was copied
		setCopied(what);
	};
	const pcapQ = `id == "${ent.id}"`;
	return (
		<aside class="details" id="details" data-id={ent.id} aria-label="entry details">
			<h2>{ent.protocol.toUpperCase()} {s.method} {s.what} <span class={s.bad ? 'err' : 'ok'}>{s.status}</span></h2>
			<div class="actions">
				{(ent.protocol === 'http' || ent.protocol === 'graphql') && <button id="copy-curl" onClick={() => copy('curl', asCurl(ent))}>Copy as curl</button>}
				<button id="copy-json" onClick={() => copy('JSON', JSON.stringify(ent, null, 2))}>Copy as JSON</button>
				<button id="pcap" onClick={() => download('api/v1/pcap', { q: pcapQ }, `floe-${ent.id}.pcap`).catch((x) => setErr(x.message))}>PCAP of the connection</button>
				<button onClick={onClose} aria-label="close details">✕</button>
				{copied && <span class="muted">copied {copied}</span>}
			</div>
			<table class="kv">
				<tbody>
					<tr><td>id</td><td>{ent.id}</td></tr>
					<tr><td>connection</td><td>{endpoints(ent)} ({ent.src?.ip}:{ent.src?.port} → {ent.dst?.ip}:{ent.dst?.port}, flow {ent.flow_id})</td></tr>
					<tr><td>time</td><td>{ent.request_time} → {ent.response_time} ({fmtMs(ent.elapsed_ms)})</td></tr>
					<tr><td>sizes</td><td>{fmtBytes(ent.request_size)} / {fmtBytes(ent.response_size)}</td></tr>
					{ent.tls && <tr><td>TLS</td><td>plaintext from the TLS library; process {ent.process} (pid {ent.pid})</td></tr>}
					{ent.stream_id !== undefined && <tr><td>HTTP/2 stream</td><td>{ent.stream_id}</td></tr>}
					{ent.missing && <tr><td>missing</td><td class="err">{ent.missing} ({ent.missing_reason})</td></tr>}
				</tbody>
			</table>
			<ProtoFields e={ent} />
			<div class="sides">
				<Half title="request" side="request" h={ent.request} e={ent} />
				<Half title="response" side="response" h={ent.response} e={ent} />
			</div>
			{err && <p class="err">{err}</p>}
		</aside>
	);
}
