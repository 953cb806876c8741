# The nginx configuration of the end-to-end tests (sourced by http_lib.sh
# and by tests that run nginx without it): an mTLS front the way ALB's
# verify mode is one.
# hl_nginx_conf DIR PORT CA_FILE CRL_FILE [daemon]: DIR/nginx.conf, an mTLS
# front on 127.0.0.1:PORT that trusts CA_FILE and checks CRL_FILE, with its
# certificate in DIR/server.pem and key in DIR/server.key, everything else
# under DIR; in the foreground unless "daemon" is given. It answers 200
# "hello DN serial SERIAL" to a client it lets in.
hl_nginx_conf() {
	local dir="$1" port="$2" ca="$3" crl="$4" daemon="daemon off;"
	[ "${5:-}" = daemon ] && daemon=""
	mkdir -p "$dir/logs" "$dir/tmp"
	cat >"$dir/nginx.conf" <<EOF
$([ "$(id -u)" = 0 ] && echo "user root;")
worker_processes 1;
$daemon
pid $dir/nginx.pid;
error_log $dir/logs/error.log info;
events { worker_connections 64; }
http {
	access_log $dir/logs/access.log;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	server {
		listen 127.0.0.1:$port ssl;
		ssl_certificate $dir/server.pem;
		ssl_certificate_key $dir/server.key;
		ssl_verify_client on;
		ssl_client_certificate $ca;
		ssl_crl $crl;
		location / {
			return 200 "hello \$ssl_client_s_dn serial \$ssl_client_serial\n";
		}
	}
}
EOF
}
