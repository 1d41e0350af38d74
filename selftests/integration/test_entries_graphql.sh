#!/usr/bin/env bash
# Integration: GraphQL entries through the real eBPF path, over HTTP/1.1 and over h2c. Pod b
# runs selftests/lib/httpd1.py (a GraphQL endpoint at /graphql: JSON object or batch bodies,
# application/graphql bodies, GET ?query=) on 8080, and nghttpx on 8081 (h2c, prior
# knowledge) in front of it. Pod a sends with curl: queries with variables, a mutation, a
# subscription, anonymous and document-named operations, an operation answered with errors, a
# batch, an automatic persisted query, GET, and a JSON body whose "query" is not GraphQL.
# Every request must be exactly one entry; graphql.operation_type, operation_name, query,
# variables, batch_size, persisted_query, error_count and errors must be what curl sent and
# the server answered. A second round with a live --filter prints exactly the matching ones.
# Usage (root, from the repo root): bash selftests/integration/test_entries_graphql.sh

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ITEST_TIMEOUT=120 source "$HERE/../lib/itest.sh" "$@"
source "$HERE/../lib/entries.sh"

T=$PODS_TMP
A=10.213.4.11 B=10.213.4.12
PORT=8080 H2PORT=8081

need_cmd "curl and nghttpx are installed" curl nghttpx || done_testing
entries_pods $A $B

pod_bg b "$T/httpd.log" sh -c "exec $PY '$HERE/../lib/httpd1.py' :: $PORT 2>'$T/httpd.err'"
pod_bg b "$T/nghttpx.log" nghttpx --conf=/dev/null --single-process --workers=1 \
	"--frontend=*,$H2PORT;no-tls" "--backend=127.0.0.1,$PORT" --errorlog-file=/dev/stderr
if ! wait_tcp_listen b $PORT 10 || ! wait_tcp_listen b $H2PORT 10; then
	not_ok "GraphQL server and h2c front listen in b"
	diag "$(cat "$T/httpd.err" "$T/nghttpx.log")"
	done_testing
fi
ok "GraphQL server and h2c front listen in b"

# The requests. "expect": what the entry's graphql object holds beyond what follows from the
# request itself (query, variables, batch_size, persisted_query: see entries_check.py).
GET_USER='query GetUser($id: ID!, $withEmail: Boolean) { user(id: $id) { name email @include(if: $withEmail) } }'
ADD_USER='mutation AddUser($input: UserInput!) { addUser(input: $input) { id name } }'
cat >"$T/cases.json" <<EOF
[
 {"name": "query with variables", "version": "1.1", "content_type": "application/json",
  "body": $(jq -cn --arg q "$GET_USER" '{query: $q, operationName: "GetUser", variables: {id: "42", withEmail: true}} | tojson'),
  "expect": {"operation_type": "query", "operation_name": "GetUser", "error_count": 0}},
 {"name": "mutation", "version": "1.1", "content_type": "application/json",
  "body": $(jq -cn --arg q "$ADD_USER" '{query: $q, operationName: "AddUser", variables: {input: {name: "Ada", tags: ["x", "y"], age: 36}}} | tojson'),
  "expect": {"operation_type": "mutation", "operation_name": "AddUser", "error_count": 0}},
 {"name": "subscription", "version": "1.1", "content_type": "application/json",
  "body": "{\"query\": \"subscription OnUserAdded { userAdded { id } }\"}",
  "expect": {"operation_type": "subscription", "operation_name": "OnUserAdded"}},
 {"name": "anonymous query", "version": "1.1", "content_type": "application/json; charset=utf-8",
  "body": "{\"query\": \"{ users { id name } }\", \"operationName\": null, \"variables\": null}",
  "expect": {"operation_type": "query", "operation_name": ""}},
 {"name": "operation named in the document only", "version": "1.1", "content_type": "application/json",
  "body": "{\"query\": \"query ListUsers { users(first: 10) { id } }\", \"variables\": {}}",
  "expect": {"operation_type": "query", "operation_name": "ListUsers"}},
 {"name": "answered with errors", "version": "1.1", "content_type": "application/json",
  "body": "{\"query\": \"query FailHard { boom }\", \"operationName\": \"FailHard\"}",
  "expect": {"operation_type": "query", "operation_name": "FailHard", "error_count": 2,
             "errors": ["first failure", "second failure"]}},
 {"name": "application/graphql body", "version": "1.1", "content_type": "application/graphql",
  "body": "mutation Logout { logout }",
  "expect": {"operation_type": "mutation", "operation_name": "Logout"}},
 {"name": "batch of two", "version": "1.1", "content_type": "application/json",
  "body": $(jq -cn --arg q "$GET_USER" --arg m "$ADD_USER" '[{query: $q, operationName: "GetUser", variables: {id: "1"}}, {query: $m, operationName: "AddUser", variables: {input: {name: "Bob"}}}] | tojson'),
  "expect": {"operation_type": "query", "operation_name": "GetUser"}},
 {"name": "automatic persisted query", "version": "1.1", "content_type": "application/json",
  "body": "{\"operationName\": \"GetUser\", \"variables\": {\"id\": \"7\"}, \"extensions\": {\"persistedQuery\": {\"version\": 1, \"sha256Hash\": \"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38\"}}}",
  "expect": {"operation_name": "GetUser"}},
 {"name": "GET with query, operationName and variables", "version": "1.1", "method": "GET",
  "params": {"query": "query Me(\$full: Boolean) { me { id name } }", "operationName": "Me", "variables": "{\"full\": true}"},
  "expect": {"operation_type": "query", "operation_name": "Me"}},
 {"name": "JSON with a query that is not GraphQL", "version": "1.1", "content_type": "application/json",
  "body": "{\"query\": \"SELECT * FROM users\"}",
  "expect": {"protocol": "http"}},
 {"name": "query with variables", "version": "2", "content_type": "application/json",
  "body": $(jq -cn --arg q "$GET_USER" '{query: $q, operationName: "GetUser", variables: {id: "43", withEmail: false}} | tojson'),
  "expect": {"operation_type": "query", "operation_name": "GetUser", "error_count": 0}},
 {"name": "mutation", "version": "2", "content_type": "application/json",
  "body": $(jq -cn --arg q "$ADD_USER" '{query: $q, operationName: "AddUser", variables: {input: {name: "Grace"}}} | tojson'),
  "expect": {"operation_type": "mutation", "operation_name": "AddUser", "error_count": 0}},
 {"name": "answered with errors", "version": "2", "content_type": "application/json",
  "body": "{\"query\": \"mutation FailSave(\$x: Int) { save(x: \$x) }\", \"variables\": {\"x\": 5}}",
  "expect": {"operation_type": "mutation", "operation_name": "FailSave", "error_count": 2,
             "errors": ["first failure", "second failure"]}},
 {"name": "GET with query", "version": "2", "method": "GET",
  "params": {"query": "{ me { id } }"},
  "expect": {"operation_type": "query", "operation_name": ""}}
]
EOF
if ! ncases=$(jq length "$T/cases.json"); then
	not_ok "the cases are valid JSON"
	done_testing
fi

# Each case's curl arguments (NUL-separated, $T/case-N.args) and body ($T/case-N.body), made
# once (jq starts slowly).
"$PY" - "$T" "http://$B:$PORT/graphql" "http://$B:$H2PORT/graphql" <<'PYEOF'
import json, sys
t, h1, h2 = sys.argv[1:4]
for i, c in enumerate(json.load(open(t + "/cases.json"))):
    args = ["--http2-prior-knowledge"] if c["version"] == "2" else ["--http1.1"]
    url = h2 if c["version"] == "2" else h1
    if c.get("method") == "GET":
        args += ["-G", "--data-urlencode", "case=%d" % i]
        for k, v in c["params"].items():
            args += ["--data-urlencode", "%s=%s" % (k, v)]
    else:
        open("%s/case-%d.body" % (t, i), "w").write(c["body"])
        args += ["--data-binary", "@%s/case-%d.body" % (t, i), "-H", "Content-Type: " + c["content_type"]]
        url += "?case=%d" % i
    open("%s/case-%d.args" % (t, i), "w").write("\0".join(args + [url]) + "\0")
PYEOF

# send_cases CURL-LOG: every case once, with curl in pod a.
send_cases() {
	local curls=$1 i args
	: >"$curls"
	for ((i = 0; i < ncases; i++)); do
		mapfile -d '' args <"$T/case-$i.args"
		echo "CURL case-$i" >>"$curls"
		in_pod a curl -sS --max-time 10 -v -w "%{stderr}XFER case-$i %{json}\n" "${args[@]}" \
			2>>"$curls" >/dev/null
	done
}

entries_tap
CURLS=$T/curl.log
send_cases "$CURLS"
is "$(grep -c '^XFER ' "$CURLS")" "$ncases" "curl sent $ncases requests"
is "$(grep '^XFER ' "$CURLS" | grep -c '"http_code":200,')" "$ncases" "the server answered each with 200"

entries_stop "$ncases"
checks "$PY" "$CHECK_PY" graphql "${ENTRIES_WINDOW[@]}" --entries "$OUT" --cases "$T/cases.json" --curl "$CURLS" \
	--client "$(pod_ns a)" --client-ns front --server-pod "$(pod_ns b)" --server-ns back
entries_vs_read
[ -n "${V:-}" ] && diag "$(entries_diag "$OUT" 100)"

# Again with a live filter: only the matching entries are printed.
FILTER='graphql and (graphql.error_count > 0 or graphql.operation_type == "subscription")'
want=$(jq -r 'to_entries[] | select(.value.expect.error_count > 0 or .value.expect.operation_type == "subscription") | .key' \
	"$T/cases.json" | sort -n | tr '\n' ' ')
OUT=$T/filtered.json
entries_tap --filter "$FILTER"
send_cases "$T/curl-filtered.log"
entries_stop "$(wc -w <<<"$want")"
is "$(jq -r '.request.query_params.case' "$OUT" | sort -n | tr '\n' ' ')" "$want" \
	"--filter '$FILTER' printed exactly cases $want"

done_testing
