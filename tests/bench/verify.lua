-- wrk script for tests/bench/verify_bench.sh: GET /v1/verify with ALB's
-- passthrough header, cycling through the clients' certificates (one
-- URL-encoded PEM per line of BENCH_HEADERS), and counting answers.
-- BENCH_EXPECT: the status counted as expected (200).
local headers = {}
for line in io.lines(os.getenv("BENCH_HEADERS")) do
	if #line > 0 then
		table.insert(headers, line)
	end
end
local name = os.getenv("BENCH_HEADER") or "X-Amzn-Mtls-Clientcert"
local expect = tonumber(os.getenv("BENCH_EXPECT") or "200")

local threads = {}
local counter = 0

function setup(thread)
	thread:set("id", #threads)
	table.insert(threads, thread)
end

function init(args)
	counter = id or 0
end

function request()
	counter = counter + 1
	local h = {}
	h[name] = headers[(counter % #headers) + 1]
	return wrk.format("GET", nil, h)
end

nexpected = 0
nother = 0

function response(status, hdrs, body)
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
	io.write(string.format("p50_ms %.3f\np99_ms %.3f\n",
	    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
