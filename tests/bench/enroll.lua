-- wrk script for tests/bench/http_bench.sh and cfssl_bench.sh: POST the same
-- body over and over (each request still gets a fresh serial and its own
-- certificate).
-- BENCH_CSR: path of the body (a PEM CSR, or cfssl's JSON sign request);
-- BENCH_CONTENT_TYPE: its type (default application/x-pem-file);
-- BENCH_TOKEN: a static enrollment token (none: no Authorization header);
-- BENCH_EXPECT: the status counted as expected (201; 403 for the floor
-- run, where the token is wrong on purpose; 200 for cfssl).
local f = assert(io.open(os.getenv("BENCH_CSR"), "r"))
local csr = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = csr
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or
    "application/x-pem-file"
local token = os.getenv("BENCH_TOKEN") or ""
if token ~= "" then
	wrk.headers["Authorization"] = "Bearer " .. token
end

-- Each wrk thread has its own Lua state: count there, add up in done().
local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

local expect = tonumber(os.getenv("BENCH_EXPECT") or "201")
nexpected = 0
nother = 0

function response(status, headers, body)
	if status == expect then
		nexpected = nexpected + 1
	else
		nother = nother + 1
	end
end

function done(summary, latency, requests)
	local ok, other = 0, 0
	for _, t in ipairs(threads) do
		ok = ok + t:get("nexpected")
		other = other + t:get("nother")
	end
	io.write(string.format("status %d: %d\nstatus other: %d\n", expect, ok,
	    other))
	io.write(string.format("p50_ms %.2f\np99_ms %.2f\n",
	    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
