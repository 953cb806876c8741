/*
 * What the subcommands share: the usage texts (one table, so that --help,
 * `mtlsca help CMD` and the man page have one source to be compared with),
 * opening the CA and the store from the configuration, messages, and reading
 * an existing certificate into a store record (for `import --certs`).
 */
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <jansson.h>

#include "cmd/cmd_int.h"
#include "common/util.h"

static const struct {
	const char	*name;
	const char	*text;
} usages[] = {
	{ "init",
	"usage: mtlsca init [--subject DN] [--key-type TYPE] [--days N]\n"
	"\n"
	"Create the CA: a private key (<data_dir>/private/ca.key, mode 0600, in a\n"
	"0700 directory), a self-signed root certificate (<data_dir>/ca.pem) and the\n"
	"store (<data_dir>/db). Never overwrites an existing CA.\n"
	"\n"
	"  --subject DN      RFC 4514 subject, e.g. \"CN=Example CA,O=Example\"\n"
	"                    (default: ca.subject, else \"CN=mtlsca demo CA\")\n"
	"  --key-type TYPE   rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384 or\n"
	"                    ecdsa-p521 (default: ca.key_type, else rsa2048)\n"
	"  --days N          validity in days (default: ca.days, else 1024)\n" },
	{ "import",
	"usage: mtlsca import --ca-cert FILE --ca-key FILE [--openssl-index FILE]\n"
	"                     [--certs DIR] [--openssl-crlnumber FILE] [--json]\n"
	"\n"
	"Adopt an existing CA (e.g. one made with openssl) without reissuing\n"
	"anything: copy its certificate and key (which must be mode 0600) into the\n"
	"data directory and record its history in the store, all or nothing.\n"
	"\n"
	"  --ca-cert FILE        the CA certificate (PEM)\n"
	"  --ca-key FILE         its private key (PEM)\n"
	"  --openssl-index FILE  an `openssl ca` database (index.txt): V and E lines\n"
	"                        become valid records, R lines revoked ones with\n"
	"                        their time and reason\n"
	"  --certs DIR           every *.pem certificate in DIR that this CA issued\n"
	"                        is attached to its record (or recorded if the\n"
	"                        index lacks it)\n"
	"  --openssl-crlnumber FILE\n"
	"                        the runbook's crlnumber file: the next CRL gets\n"
	"                        the number openssl's would have (default: the\n"
	"                        crlnumber file beside --openssl-index, if any)\n"
	"  --json                print {subject, ca_cert, ca_key, records, valid,\n"
	"                        expired, revoked, certs_attached, certs_added,\n"
	"                        certs_skipped} as JSON\n" },
	{ "sign",
	"usage: mtlsca sign --csr FILE [--profile NAME] [--days N] [--out FILE]\n"
	"                  [--json]\n"
	"\n"
	"Sign a PKCS#10 request (PEM or DER) with a profile. The certificate is\n"
	"written only after the store has recorded it.\n"
	"\n"
	"  --csr FILE        the request\n"
	"  --profile NAME    the profile (default: the first one, \"client\")\n"
	"  --days N          validity in days (default: the profile's days; at\n"
	"                    most its max_days)\n"
	"  --out FILE        write the PEM certificate to FILE (default: stdout)\n"
	"  --json            print {serial, subject, profile, not_before,\n"
	"                    not_after, pem, out} on stdout instead of the PEM\n" },
	{ "list",
	"usage: mtlsca list [--status valid|revoked|expired] [--cn CN] [--json]\n"
	"\n"
	"List the certificates the store knows: serial (upper-case hex), status,\n"
	"notAfter and subject. \"expired\" is a valid certificate past notAfter.\n"
	"The service's own HTTPS certificates (issued by `serve`) are marked\n"
	"\"[service HTTPS]\" (JSON: \"service_https\": true).\n"
	"\n"
	"  --status S        only certificates with this status\n"
	"  --cn CN           only certificates whose subject CN is exactly CN\n"
	"  --json            one JSON array instead of a table\n" },
	{ "show",
	"usage: mtlsca show SERIAL [--pem] [--json]\n"
	"\n"
	"Show one certificate. SERIAL is hex, either case, colons allowed.\n"
	"\n"
	"  --pem             print the certificate itself (PEM)\n"
	"  --json            print the record as JSON\n" },
	{ "revoke",
	"usage: mtlsca revoke SERIAL [--reason R] [--time T] [--force] [--json]\n"
	"       mtlsca revoke --file FILE [--reason R] [--time T] [--force]\n"
	"                     [--dry-run] [--json]\n"
	"\n"
	"Revoke certificates by serial. Revoking again changes nothing, except\n"
	"that keyCompromise replaces another reason.\n"
	"\n"
	"  --reason R        RFC 5280 reason: unspecified (default), keyCompromise,\n"
	"                    cACompromise, affiliationChanged, superseded,\n"
	"                    cessationOfOperation, certificateHold,\n"
	"                    privilegeWithdrawn, aACompromise\n"
	"  --time T          revocation time, RFC 3339 with Z or an offset\n"
	"                    (\"2026-01-31T12:00:00Z\", \"2026-01-31T21:00:00+09:00\";\n"
	"                    recorded in UTC; default: now)\n"
	"  --force           revoke serials the store never saw (imported from\n"
	"                    elsewhere); they stay on the CRL\n"
	"  --file FILE       one serial per line; blank lines and # comments are\n"
	"                    allowed; every line is checked before any is revoked\n"
	"  --dry-run         with --file: say what would happen, write nothing\n"
	"  --json            print {\"results\": [{serial, outcome, revoked_at,\n"
	"                    reason}], revoked, raised, unchanged, dry_run}\n" },
	{ "crl",
	"usage: mtlsca crl [--out PATH] [--pem] [--json]\n"
	"       mtlsca crl --check FILE [--json]\n"
	"\n"
	"Build and sign a new CRL (the next cRLNumber) and write\n"
	"<data_dir>/public/crl.der and crl.pem. Or check a CRL file as the load\n"
	"balancer would (PEM, one CRL, size, entries, strict DER, and with the CA\n"
	"present: issuer, AKI and signature); exit 1 when it fails.\n"
	"\n"
	"  --out PATH        also write the CRL to PATH (DER, or PEM with --pem)\n"
	"  --pem             PEM for --out\n"
	"  --check FILE      check FILE instead of building a CRL\n"
	"  --json            print the result as JSON: {number, entries,\n"
	"                    this_update, next_update, files} for a new CRL;\n"
	"                    {file, bytes, format, number, entries, this_update,\n"
	"                    next_update, signature, ok, problem} for --check\n" },
	/* The client side (cmd_enroll.c, cmd_renew.c, cmd_p12.c). */
	{ "enroll",
	"usage: mtlsca enroll --server URL (--token T | --token-file F) --cn NAME\n"
	"                     (--ca-file F | --ca-fingerprint SHA256)\n"
	"                     [--san dns:|ip:|email:|uri:NAME]... [--key-type TYPE]\n"
	"                     [--profile P] [--days N] [--out-dir DIR] [--force]\n"
	"                     [--p12 FILE [--p12-legacy] [--p12-password-file F]\n"
	"                     [--p12-name NAME]]\n"
	"\n"
	"Get a client certificate from a mtlsca server. The key is made here and\n"
	"never leaves the machine; the CSR goes to POST /v1/certificates with the\n"
	"enrollment token. Writes DIR/key.pem (mode 0600), DIR/cert.pem,\n"
	"DIR/chain.pem (certificate then CA) and DIR/ca.pem, each atomically, and\n"
	"prints the serial and the expiry.\n"
	"\n"
	"  --server URL          the service, e.g. https://ca.example:8443\n"
	"  --token T             an enrollment token (`mtlsca token create`)\n"
	"  --token-file F        the token on the first line of F (not in ps)\n"
	"  --cn NAME             the subject's CN\n"
	"  --san NAME            a subjectAltName, repeatable: dns:host.example,\n"
	"                        ip:10.0.0.1, email:a@example.com, uri:spiffe://x;\n"
	"                        without a prefix the kind is guessed\n"
	"  --key-type TYPE       ecdsa-p256 (default), ecdsa-p384, ecdsa-p521,\n"
	"                        rsa2048, rsa3072 or rsa4096\n"
	"  --profile P           ask for this profile (the token may fix it)\n"
	"  --days N              ask for this validity (the profile caps it)\n"
	"  --ca-file F           trust the server through the CA certificate(s) in F\n"
	"  --ca-fingerprint FP   or fetch the server's /ca.pem and trust it only if\n"
	"                        its SHA-256 fingerprint is FP (hex, colons and case\n"
	"                        optional; `mtlsca status` and `serve` print it); the\n"
	"                        token is sent only once the server is verified\n"
	"  --out-dir DIR         where the files go (default: .; created 0755)\n"
	"  --force               replace an existing key.pem, cert.pem or --p12 file\n"
	"  --p12 FILE            also write a PKCS#12 file (key, certificate, CA):\n"
	"                        AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC\n"
	"  --p12-legacy          3DES and a SHA-1 MAC instead, for the macOS\n"
	"                        keychain and older Windows\n"
	"  --p12-password-file F the PKCS#12 password on the first line of F\n"
	"                        (default: asked on the terminal, without echo)\n"
	"  --p12-name NAME       the friendly name importers show (default: the CN)\n"
	"\n"
	"Exit status: 0 enrolled, 1 failed (nothing written), 2 usage error.\n" },
	{ "renew",
	"usage: mtlsca renew --server URL --cert FILE --key FILE [--ca-file F]\n"
	"                    [--chain FILE] [--rekey [--key-type TYPE]] [--days N]\n"
	"                    [--if-due | --daemon] [--force] [--exec CMD [ARG...]]\n"
	"\n"
	"Renew a certificate of this CA over mutual TLS (POST\n"
	"/v1/certificates/renew with the current certificate and key): same\n"
	"subject and subjectAltNames, same validity length. The certificate (and\n"
	"with --rekey the key) is replaced atomically, keeping its mode; a file\n"
	"that held a chain gets the new chain. A server renews each certificate\n"
	"once: a second renewal of the same one is refused (use the newer one).\n"
	"\n"
	"  --server URL      the service, e.g. https://ca.example:8443\n"
	"  --cert FILE       the current certificate (replaced)\n"
	"  --key FILE        its key (replaced with --rekey)\n"
	"  --ca-file F       trust anchors for the server (default: ca.pem beside\n"
	"                    --cert, as enroll writes it)\n"
	"  --chain FILE      also write the new certificate and the CA to FILE\n"
	"  --rekey           a new key (default type: the current key's)\n"
	"  --key-type TYPE   with --rekey: ecdsa-p256, ..., rsa4096\n"
	"  --days N          ask for N days (default: the current validity)\n"
	"  --if-due          renew only once 2/3 of the validity has passed;\n"
	"                    otherwise exit 3 and touch nothing (timers, cron)\n"
	"  --daemon          stay running: renew at 2/3 of each validity (with\n"
	"                    jitter), retry failures with backoff; SIGHUP checks\n"
	"                    now, SIGTERM stops\n"
	"  --force           with --if-due or --daemon: renew now, due or not\n"
	"  --exec CMD ARG... run CMD (no shell; the rest of the line, put -- before\n"
	"                    CMD when its arguments look like options) after each\n"
	"                    renewal, with MTLSCA_CERT, MTLSCA_KEY, MTLSCA_SERIAL\n"
	"                    and MTLSCA_NOT_AFTER set; e.g. --exec systemctl\n"
	"                    reload nginx\n"
	"\n"
	"Exit status: 0 renewed, 3 not due (--if-due), 1 failed (also when the\n"
	"hook failed after a renewal), 2 usage error.\n" },
	{ "export-p12",
	"usage: mtlsca export-p12 --cert FILE --key FILE --out FILE [--chain FILE]\n"
	"                         [--legacy] [--password-file F] [--name NAME]\n"
	"                         [--force]\n"
	"\n"
	"Write a PKCS#12 file (mode 0600) with a key, its certificate and the chain,\n"
	"for browsers, the macOS keychain and Windows. Default protection:\n"
	"AES-256-CBC with PBKDF2-SHA256 and a SHA-256 MAC (OpenSSL 3's default).\n"
	"\n"
	"  --cert FILE           the certificate (PEM; a chain after it goes in too)\n"
	"  --key FILE            its private key (PEM, unencrypted)\n"
	"  --chain FILE          CA certificates to add (e.g. ca.pem)\n"
	"  --out FILE            the PKCS#12 file\n"
	"  --legacy              3DES and a SHA-1 MAC: what the macOS keychain and\n"
	"                        Windows before Server 2019 import\n"
	"  --password-file F     the password on the first line of F (default:\n"
	"                        asked twice on the terminal, without echo)\n"
	"  --name NAME           the friendly name (default: the certificate's CN)\n"
	"  --force               replace FILE if it exists\n" },
	{ "verify",
	"usage: mtlsca verify CERT [--chain FILE] [--json]\n"
	"\n"
	"Is this client certificate good right now? The answer GET /v1/verify\n"
	"gives behind a load balancer: signed by this CA, inside its validity, a\n"
	"key the load balancer accepts, good for clientAuth, and in the store, not\n"
	"revoked. Reads the store without writing (serve may be running).\n"
	"\n"
	"  CERT              the certificate, PEM (a chain, leaf first) or DER\n"
	"  --chain FILE      more certificates (PEM) the client sends with it\n"
	"  --json            print the answer as JSON\n"
	"\n"
	"Exit status: 0 good, 1 refused (the reason is printed) or failed, 2 usage.\n" },
	/* The service and its administration. */
	{ "serve",
	"usage: mtlsca serve [--config FILE] [--listen ADDR] [--https-port N]\n"
	"                    [--http-port N] [--verify-port N]\n"
	"\n"
	"Run the service: enrollment (POST /v1/certificates, EST), the admin API\n"
	"(revoke, tokens), the CRL schedule and the publishers, the verifier\n"
	"behind a load balancer. Without --config it runs on the built-in\n"
	"defaults and, on the first start, makes a demo CA. The first start\n"
	"prints an admin token and an enrollment token once (to the terminal, or\n"
	"to <data_dir>/first-start-tokens.txt, mode 0600). Runs until SIGTERM or\n"
	"SIGINT (graceful stop); SIGHUP reloads the configuration file.\n"
	"\n"
	"  --config FILE     the configuration (also a global option)\n"
	"  --listen ADDR     the address to listen on (IPv4 or IPv6 literal;\n"
	"                    default: http.listen, else 127.0.0.1)\n"
	"  --https-port N    the HTTPS port (0: none; default: http.https_port)\n"
	"  --http-port N     the plain HTTP port for the CRL and the CA bundle\n"
	"                    (0: none; default: http.http_port)\n"
	"  --verify-port N   the verifier's plain HTTP port for a proxy (0: none;\n"
	"                    default: verify.port)\n" },
	{ "token",
	"usage: mtlsca token hash [TOKEN]\n"
	"       mtlsca token generate [--json]\n"
	"       mtlsca token create [--profile P] [--cn CN] [--san KIND:NAME]...\n"
	"                           [--ttl 24h] [--uses N] [--json]\n"
	"       mtlsca token list [--all] [--json]\n"
	"       mtlsca token revoke ID [--json]\n"
	"\n"
	"Enrollment tokens. A token is printed once; the store and the\n"
	"configuration keep only its SHA-256. A token's ID is the first 8 hex\n"
	"digits of that hash, as the audit log names it.\n"
	"\n"
	"  hash [TOKEN]      print the SHA-256 (hex) of TOKEN, or of the first line\n"
	"                    of standard input: for profiles' static tokens and\n"
	"                    admins.token_hashes in the configuration\n"
	"  generate          a new random token and its hash (for the configuration)\n"
	"  create            a token kept in the store (by its hash), for POST\n"
	"                    /v1/certificates and EST\n"
	"    --profile P     the profile it enrolls into (default: the first)\n"
	"    --cn CN         bind it to this CN (and, without --san, to no\n"
	"                    subjectAltName)\n"
	"    --san KIND:NAME bind it to this subjectAltName (repeatable):\n"
	"                    dns:NAME, ip:ADDR, email:ADDR or uri:URI\n"
	"    --ttl D         lifetime, e.g. 30m, 24h, 7d (default: 24h)\n"
	"    --uses N        how many enrollments it allows (default: 1)\n"
	"  list              the store's tokens: ID, profile, bound CN and\n"
	"                    subjectAltNames, uses left, expiry (never the token\n"
	"                    or its hash)\n"
	"    --all           also tokens expired or used up (default: usable ones)\n"
	"  revoke ID         delete the store's token with this ID (8 or more hex\n"
	"                    digits of its hash); a running serve refuses it (403)\n"
	"                    from the next request on\n"
	"  --json            print the result as JSON: generate {token, sha256};\n"
	"                    create {token, id, profile, cn, sans, uses, expires_at};\n"
	"                    list [{id, profile, cn, sans, uses_left, created_at,\n"
	"                    expires_at, state}]; revoke {id, revoked}\n" },
	{ "admin",
	"usage: mtlsca admin token rotate [--json]\n"
	"\n"
	"Replace the admin token kept in the store (the one the first start of\n"
	"`serve` printed) with a new one, printed once on stdout. The old one\n"
	"stops working at once, also in a running serve; admin tokens listed in\n"
	"the configuration (admins.token_hashes) are not touched.\n"
	"\n"
	"  --json            print {token, id} as JSON\n" },
	{ "ca",
	"usage: mtlsca ca rotate [--key-type T] [--subject DN] [--days N] [--json]\n"
	"       mtlsca ca list [--json]\n"
	"\n"
	"rotate makes a new CA (key 0600, as `init` does) and makes it the\n"
	"active one: it signs every certificate from then on, and the\n"
	"configured ca.cert and ca.key become it. The old CA is kept in\n"
	"<data_dir>/cas/<id>/ and is retiring: it signs nothing new, but its\n"
	"CRL is still built, numbered and published (public/ca-<id>/, its own\n"
	"S3 keys and trust-store list) until its last certificate expires;\n"
	"then `serve` retires it and removes its list. public/ca.pem and\n"
	"GET /ca.pem hold both CAs, public/crls.pem both CRLs (for nginx's\n"
	"ssl_crl). The old CA signs a cross certificate of the new one, which\n"
	"serve sends after its HTTPS certificate while the old CA retires:\n"
	"clients that trust only the old CA still renew (and learn the new\n"
	"one). Restart serve after a rotation.\n"
	"  --key-type T      rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384,\n"
	"                    ecdsa-p521 (default: the old CA's)\n"
	"  --subject DN      RFC 4514 (default: the old subject, its CN\n"
	"                    followed by the new CA's id)\n"
	"  --days N          the new CA's validity (default 1024)\n"
	"list shows each CA: id, state (active, retiring, retired), expiry,\n"
	"its last certificate's expiry, certificates issued, valid and revoked.\n"
	"  --json            print the result as JSON: rotate {active {id,\n"
	"                    subject, sha256, not_after}, retiring {id, sha256,\n"
	"                    until, certificates}}; list [{id, state, subject,\n"
	"                    sha256, not_after, last_certificate_expires,\n"
	"                    certificates, valid, revoked}]\n" },
	{ "audit",
	"usage: mtlsca audit [--from SEQ] [--json]\n"
	"\n"
	"Print the audit log (every issuance, revocation, CRL, token made or\n"
	"revoked, with who did it), oldest first: sequence, time, who, action,\n"
	"detail, tab-separated. Reads the store (serve may be running).\n"
	"\n"
	"  --from SEQ        start at this sequence number\n"
	"  --json            one JSON object per line: {seq, at, who, action,\n"
	"                    detail}\n" },
	{ "backup",
	"usage: mtlsca backup --out FILE [--include-key] [--force]\n"
	"       mtlsca backup --verify FILE\n"
	"       mtlsca backup --scheduled\n"
	"\n"
	"Write one file holding a consistent copy of the store (taken while serve\n"
	"runs: LMDB's compacted copy of one snapshot), the CA certificate, the last\n"
	"CRL (public/crl.der and crl.pem) and a manifest with the SHA-256 of each\n"
	"part. After a CA rotation also every CA of cas/ (ca.pem, state), each\n"
	"retiring CA's public/ca-<id>/crl.der and crl.pem, and public/crls.pem;\n"
	"the manifest lists each CA's SHA-256. The file is mode 0600. It is a\n"
	"POSIX tar file (tar tvf lists it).\n"
	"\n"
	"  --out FILE       where to write it (refuses an existing file)\n"
	"  --include-key    also the CA private key (a file key only; and each\n"
	"                   cas/<id>/ca.key): whoever holds the backup can then\n"
	"                   sign as the CA\n"
	"  --force          replace an existing FILE\n"
	"  --verify FILE    check a backup without restoring it: every part's\n"
	"                   SHA-256 against the manifest, and the store copy opens\n"
	"                   with the figures the manifest gives\n"
	"  --scheduled      one run of the configuration's backup schedule now\n"
	"                   (backup = { every; dir; s3_publisher; keep; include_key }):\n"
	"                   DIR/<time>.mtlsca-backup and/or the s3 publisher's\n"
	"                   PREFIX/backup/<time>.mtlsca-backup, keeping the newest\n"
	"                   `keep`; serve runs it every `every`\n" },
	{ "restore",
	"usage: mtlsca restore FILE [--force]\n"
	"\n"
	"Restore a backup into the data directory (--data-dir or data_dir; the CA\n"
	"certificate and key go to ca.cert and ca.key). The backup is verified\n"
	"completely before anything is moved into place. A data directory that\n"
	"already holds a store or a CA is refused unless --force; with --force\n"
	"what is replaced is renamed to NAME.before-restore-TIME, never deleted.\n"
	"Stop `mtlsca serve` first.\n"
	"\n"
	"Then, as `serve` does at every start, the newest CRLs this CA published\n"
	"(public/crl.der and each s3 publisher's crl/latest.der) are read: the CRL\n"
	"number counter is raised above them, and every revocation they list that\n"
	"the restored store lacks is recorded again (audited \"recovered from CRL\n"
	"N\"). A backup without the key needs it at ca.key (mode 0600).\n"
	"\n"
	"  --force          replace an existing store and CA (see above)\n" },
	{ "status",
	"usage: mtlsca status [--metrics | --json]\n"
	"\n"
	"Show the CA certificate's SHA-256 fingerprint (for enroll\n"
	"--ca-fingerprint), the CRL number, the revocation generation and, per\n"
	"configured publisher, what the store records (last success, last error,\n"
	"CRL number published, ALB's RevocationId). Works while serve runs.\n"
	"\n"
	"  --metrics         the publishers' Prometheus metrics instead\n"
	"  --json            {ca_fingerprint, ca_cert, crl_number,\n"
	"                    revocation_generation, publishers: [...]}\n" },
	{ "publish",
	"usage: mtlsca publish [--crl FILE] [--dry-run] [--json]\n"
	"\n"
	"Publish the current CRL through every configured publisher (directory,\n"
	"S3, ALB trust store, exec); exit 0 only when all succeed.\n"
	"\n"
	"  --crl FILE        the CRL to publish (default: <data_dir>/public/crl.pem)\n"
	"  --dry-run         say what each publisher would do, with read-only\n"
	"                    calls only\n"
	"  --json            {crl_number, entries, publishers, dry_run, plan}\n" },
	{ "completion",
	"usage: mtlsca completion bash\n"
	"\n"
	"Print a bash completion script for mtlsca (commands and their options).\n"
	"Load it with: source <(mtlsca completion bash). The Debian package\n"
	"installs it in /usr/share/bash-completion/completions/mtlsca.\n" },
	{ NULL, NULL },
};

const char *
cmd_usage_at(size_t i, const char **name)
{
	if (i >= sizeof(usages) / sizeof(usages[0]) - 1)
		return NULL;
	*name = usages[i].name;
	return usages[i].text;
}

const char *
cmd_usage(const char *name)
{
	for (size_t i = 0; usages[i].name != NULL; i++)
		if (strcmp(usages[i].name, name) == 0)
			return usages[i].text;
	return NULL;
}

int
cmd_usage_print(const char *name, bool error)
{
	const char *text = cmd_usage(name);

	if (text == NULL)
		text = "";
	if (error) {
		fputs(text, stderr);
		return CMD_USAGE;
	}
	fputs(text, stdout);
	return CMD_OK;
}

int
cmd_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("mtlsca: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CMD_FAIL;
}

int
cmd_fail_err(const struct ca_error *err)
{
	return cmd_fail("%s", err->msg[0] != '\0' ? err->msg :
	    ca_strerror(err->code));
}

int
cmd_store_open(const struct config *cfg, bool read_only, struct store **out,
    struct ca_error *err)
{
	struct store_options	opt;
	char			db[CONFIG_PATH_MAX];
	struct stat		sb;

	if (config_path(cfg, "db", db, sizeof(db)) != CA_OK)
		return ca_error_set(err, CA_EINVAL, "data_dir %s: path too "
		    "long", cfg->data_dir);
	if (read_only && stat(db, &sb) != 0)
		return ca_error_set(err, CA_ENOENT, "no store at %s: create a "
		    "CA with 'mtlsca init' or adopt one with 'mtlsca import'",
		    db);
	memset(&opt, 0, sizeof(opt));
	opt.dir = db;
	opt.map_size = cfg->map_size;
	opt.max_readers = cfg->max_readers;
	opt.read_only = read_only;
	return store_open(&opt, out, err);
}

static void
say_waiting(void *arg)
{
	fprintf(stderr, "mtlsca: waiting for another mtlsca process (serve "
	    "or crl) to finish its CRL run (lock %s)\n", (const char *)arg);
}

int
cmd_crl_lock(const struct config *cfg, int *fd, struct ca_error *err)
{
	char	path[CONFIG_PATH_MAX];

	*fd = -1;
	if (config_path(cfg, CMD_CRL_LOCK, path, sizeof(path)) != CA_OK)
		return ca_error_set(err, CA_EINVAL, "data_dir %s: path too "
		    "long", cfg->data_dir);
	return file_lock(path, say_waiting, path, fd, err);
}

static int
first_serial_cb(const struct cert_record *rec, void *ctx)
{
	serial_format(rec->serial, rec->serial_len, ctx);
	return 1;
}

int
cmd_store_refuse_records(const struct config *cfg, struct ca_error *err)
{
	struct store	*st = NULL;
	char		 db[CONFIG_PATH_MAX], hex[SERIAL_HEX_MAX + 2] = "";
	struct stat	 sb;
	int		 rc;

	if (config_path(cfg, "db", db, sizeof(db)) != CA_OK)
		return ca_error_set(err, CA_EINVAL, "data_dir %s: path too "
		    "long", cfg->data_dir);
	if (stat(db, &sb) != 0)
		return CA_OK;
	if ((rc = cmd_store_open(cfg, false, &st, err)) != CA_OK)
		return rc;
	rc = store_cert_foreach(st, NULL, 0, first_serial_cb, hex, err);
	store_close(st);
	if (rc < 0)
		return rc;
	if (hex[0] != '\0')
		return ca_error_set(err, CA_EEXIST, "the store %s already holds "
		    "certificates (serial %s...) of another CA: a new CA would "
		    "inherit their records and revocations; use another "
		    "--data-dir", db, hex);
	return CA_OK;
}

void
cmd_who(char *out, size_t size)
{
	struct passwd *pw = getpwuid(getuid());

	snprintf(out, size, "cli:%s", pw != NULL ? pw->pw_name : "?");
}

void
cmd_audit_note(struct store *st, const char *action, const char *detail)
{
	struct ca_error	err;
	char		who[96];

	cmd_who(who, sizeof(who));
	if (store_audit_append(st, time_now(), who, action, detail, &err) !=
	    CA_OK)
		fprintf(stderr, "mtlsca: warning: %s done, but not in the "
		    "audit log: %s\n", action, err.msg);
}

void
cmd_time(int64_t t, char out[21])
{
	if (t == STORE_NOT_AFTER_UNKNOWN || t == 0)
		snprintf(out, 21, "-");
	else
		time_format(t, out);
}

const char *
cmd_status_word(const struct cert_record *rec, int64_t now)
{
	if (rec->status == CERT_STATUS_REVOKED)
		return "revoked";
	if (rec->not_after != STORE_NOT_AFTER_UNKNOWN && rec->not_after < now)
		return "expired";
	return "valid";
}

/* ---- existing certificates ---- */

static int
gnutls_fail(struct ca_error *err, int code, int grc, const char *what)
{
	return ca_error_set(err, code, "%s: %s", what, gnutls_strerror(grc));
}

/* A PEM file has "-----BEGIN" somewhere; DER starts with a SEQUENCE. */
static bool
is_pem(const uint8_t *buf, size_t len)
{
	static const char tag[] = "-----BEGIN";

	for (size_t i = 0; i + sizeof(tag) - 1 <= len; i++)
		if (memcmp(buf + i, tag, sizeof(tag) - 1) == 0)
			return true;
	return false;
}

int
cmd_cert_load(const uint8_t *buf, size_t len, struct ca *ca,
    struct cert_record *rec, struct ca_error *err)
{
	gnutls_x509_crt_t	 crt = NULL, issuer = NULL;
	gnutls_datum_t		 in = { (unsigned char *)buf, (unsigned)len };
	gnutls_datum_t		 der = { NULL, 0 }, dn = { NULL, 0 };
	struct cert_record	 r;
	uint8_t			 serial[SERIAL_MAX + 2];
	size_t			 slen = sizeof(serial);
	unsigned		 verify = 0;
	int			 grc, rc;

	memset(&r, 0, sizeof(r));
	if (len > 1024 * 1024)
		return ca_error_set(err, CA_ETOOBIG, "certificate over 1 MiB");
	if ((grc = gnutls_x509_crt_init(&crt)) < 0) {
		rc = gnutls_fail(err, CA_ENOMEM, grc, "certificate");
		goto out;
	}
	grc = gnutls_x509_crt_import(crt, &in, is_pem(buf, len) ?
	    GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER);
	if (grc < 0) {
		rc = gnutls_fail(err, CA_EMALF, grc, "not an X.509 certificate");
		goto out;
	}
	if (ca != NULL) {
		size_t		 cl;
		const uint8_t	*cd = ca_cert_der(ca, &cl);
		gnutls_datum_t	 cdat = { (unsigned char *)cd, (unsigned)cl };

		if ((grc = gnutls_x509_crt_init(&issuer)) < 0 ||
		    (grc = gnutls_x509_crt_import(issuer, &cdat,
		    GNUTLS_X509_FMT_DER)) < 0) {
			rc = gnutls_fail(err, CA_ECRYPTO, grc, "CA certificate");
			goto out;
		}
		/* RFC 5280 §6.1.3 (a)(1) and (a)(4): the signature verifies
		 * with the CA's key and the issuer names the CA. Validity
		 * times are not checked: expired certificates are history to
		 * import too. */
		if (!gnutls_x509_crt_check_issuer(crt, issuer)) {
			rc = ca_error_set(err, CA_EPOLICY, "its issuer is not "
			    "this CA");
			goto out;
		}
		grc = gnutls_x509_crt_verify(crt, &issuer, 1,
		    GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
		    GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS, &verify);
		if (grc < 0 || (verify & GNUTLS_CERT_SIGNATURE_FAILURE) ||
		    (verify & ~(unsigned)(GNUTLS_CERT_EXPIRED |
		    GNUTLS_CERT_NOT_ACTIVATED)) != 0) {
			rc = ca_error_set(err, CA_EPOLICY, "its signature does "
			    "not verify with this CA's key");
			goto out;
		}
	}
	if ((grc = gnutls_x509_crt_get_serial(crt, serial, &slen)) < 0 ||
	    slen == 0 || slen > SERIAL_MAX + 1) {
		rc = ca_error_set(err, CA_EMALF, "serial number unreadable or "
		    "longer than 20 octets (RFC 5280 section 4.1.2.2)");
		goto out;
	}
	if (serial[0] & 0x80) {
		rc = ca_error_set(err, CA_EMALF, "negative serial number (RFC "
		    "5280 section 4.1.2.2; the load balancer refuses them)");
		goto out;
	}
	memcpy(r.serial, serial, slen);
	r.serial_len = slen;
	r.status = CERT_STATUS_VALID;
	r.not_before = (int64_t)gnutls_x509_crt_get_activation_time(crt);
	r.not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	if ((grc = gnutls_x509_crt_get_dn3(crt, &dn, 0)) < 0) {
		rc = gnutls_fail(err, CA_EMALF, grc, "subject");
		goto out;
	}
	if ((r.subject = strndup((const char *)dn.data, dn.size)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	if ((grc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER,
	    &der)) < 0) {
		rc = gnutls_fail(err, CA_ECRYPTO, grc, "certificate export");
		goto out;
	}
	if ((r.der = malloc(der.size)) == NULL) {
		rc = ca_error_set(err, CA_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(r.der, der.data, der.size);
	r.der_len = der.size;
	*rec = r;
	memset(&r, 0, sizeof(r));
	rc = CA_OK;
out:
	cert_record_clear(&r);
	gnutls_free(der.data);
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(issuer);
	gnutls_x509_crt_deinit(crt);
	return rc;
}

/* "key" or "certificate" when path is the CA's own file (same inode), so
   that a mistyped --out never replaces it; NULL otherwise. */
const char *
cmd_ca_file_of(const struct config *cfg, const char *path)
{
	struct stat	o, c;

	if (stat(path, &o) != 0)
		return NULL;
	if (stat(cfg->ca_key, &c) == 0 && o.st_dev == c.st_dev &&
	    o.st_ino == c.st_ino)
		return "key";
	if (stat(cfg->ca_cert, &c) == 0 && o.st_dev == c.st_dev &&
	    o.st_ino == c.st_ino)
		return "certificate";
	return NULL;
}

void
cmd_fingerprint(const uint8_t *der, size_t len, char out[65])
{
	static const char	hex[] = "0123456789abcdef";
	uint8_t			md[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der, len, md) < 0) {
		snprintf(out, 65, "%s", "(unavailable)");
		return;
	}
	for (size_t i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

/* Print o (pretty) on stdout and free it; CMD_FAIL when out of memory. */
int
cmd_json_print(json_t *o)
{
	char	*text = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;
	int	 status = CMD_OK;

	if (text == NULL)
		status = cmd_fail("out of memory");
	else
		printf("%s\n", text);
	free(text);
	json_decref(o);
	return status;
}
