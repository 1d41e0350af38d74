// One line's worth of an entry, by protocol (docs/entries.md names the fields).

const name = (ep) => {
	if (!ep) return '?';
	const n = ep.pod || ep.service || ep.name || ep.ip;
	return ep.namespace ? `${ep.namespace}/${n}` : n;
};

export function endpoints(e) {
	return `${name(e.src)} → ${name(e.dst)}`;
}

// A gRPC call's status as shown: "OK", "NOT_FOUND", "code 42", or why there is none
// ("reset CANCEL by client", "no status"). Without a grpc-status the call did not complete.
export function grpcStatus(e) {
	const g = e.grpc || {};
	if (typeof g.status === 'number') return { text: g.status_name || `code ${g.status}`, code: g.status, bad: g.status !== 0 };
	if (e.rst_error) return { text: `reset ${e.rst_error}${e.rst_by ? ` by ${e.rst_by}` : ''}`, code: null, bad: true };
	return { text: 'no status', code: null, bad: true };
}

export function summarize(e) {
	const rq = e.request || {}, rs = e.response || {};
	let method = '', what = '', status = '', bad = false;
	switch (e.protocol) {
	case 'grpc': {
		method = 'gRPC';
		what = e.grpc ? `${e.grpc.service}/${e.grpc.method}` : rq.path;
		// The call's outcome is its grpc-status, never the HTTP status (200 for nearly every
		// call, streaming ones included): a call without one (reset, cut short) says so.
		const g = grpcStatus(e);
		status = g.text;
		bad = g.bad;
		break;
	}
	case 'graphql':
		method = e.graphql?.operation_type || rq.method;
		what = e.graphql?.operation_name || rq.path;
		status = rs.status ?? '';
		bad = rs.status >= 400 || e.graphql?.error_count > 0;
		break;
	case 'redis':
		method = rq.command || '';
		what = (rq.keys && rq.keys.join(' ')) || (rq.args || []).join(' ');
		status = rs.error_code || rs.type || '';
		bad = rs.type === 'error';
		break;
	case 'dns':
		method = rq.type || rs.type || '';
		what = rq.name || rs.name || '';
		status = rs.rcode || '';
		bad = rs.rcode && rs.rcode !== 'NOERROR';
		break;
	case 'kafka':
		method = rq.api_name || `api ${rq.api_key}`;
		what = rq.topics ? [].concat(rq.topics).map((t) => t.name || t).join(' ') : rq.client_id || '';
		status = rs.error_name || '';
		bad = rs.error_code > 0;
		break;
	case 'amqp':
		method = rq.method || '';
		what = rq.queue || rq.exchange || rq.routing_key || '';
		status = rs.method || rs.reply_name || '';
		bad = rs.reply_code >= 300;
		break;
	case 'tls':
		method = 'hello';
		what = rq.sni || '';
		status = rs.version || '';
		break;
	default:
		method = rq.method || '';
		what = rq.path || rq.url || '';
		status = rs.status ?? '';
		bad = rs.status >= 400;
	}
	if (e.missing) {
		status = status || `no ${e.missing}`;
		bad = true;
	}
	return { method, what, status: String(status), bad };
}

export function fmtBytes(n) {
	if (n === undefined || n === null) return '';
	if (n < 1024) return `${n} B`;
	if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
	return `${(n / 1048576).toFixed(1)} MiB`;
}

export function fmtMs(ms) {
	if (ms === undefined || ms === null) return '';
	return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function entryTime(e) {
	return e.request_time || e.response_time || '';
}
