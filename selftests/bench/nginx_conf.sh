# shellcheck shell=bash
# The nginx configuration of the benchmarks' server pods (gen_capture.sh, gen_small.sh,
# live.sh); sourced. One worker, no logs, keep-alive without a request limit, files from ROOT.
#
# nginx_conf FILE DIR LISTEN ROOT [CONNECTIONS [NOFILE [SENDFILE]]]: write FILE; nginx's pid
# and temp files go under DIR/nginx; LISTEN is address:port; CONNECTIONS (default 1024) is the
# worker's connection limit, NOFILE (optional) its open-file limit, SENDFILE on (default) or
# off (live.sh keeps the setting its published figures were measured with); CERT and KEY
# (PEM files) make it TLS: LISTEN then carries "ssl" (and "http2") after the address, e.g.
# "10.0.0.2:8443 ssl http2" (tls.sh, test_tls_openssl.sh).
nginx_conf() {
	local file=$1 dir=$2 listen=$3 root=$4 conns=${5:-1024} nofile=${6:-} sendfile=${7:-on}
	local cert=${8:-} key=${9:-}
	mkdir -p "$dir/nginx"
	cat >"$file" <<EOF
worker_processes 1;
${nofile:+worker_rlimit_nofile $nofile;}
daemon off;
user root;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log;
events { worker_connections $conns; }
http {
	access_log off;
	client_body_temp_path $dir/nginx/body;
	proxy_temp_path $dir/nginx/proxy;
	fastcgi_temp_path $dir/nginx/fastcgi;
	uwsgi_temp_path $dir/nginx/uwsgi;
	scgi_temp_path $dir/nginx/scgi;
	types { application/json json; text/html html; application/octet-stream bin; }
	sendfile $sendfile;
	keepalive_requests 1000000;
	keepalive_timeout 120s;
	server {
		listen $listen backlog=65535;
		${cert:+ssl_certificate $cert;}
		${key:+ssl_certificate_key $key;}
		root $root;
	}
}
EOF
}
