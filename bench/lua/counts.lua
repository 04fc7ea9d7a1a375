-- What verify.lua and login.lua share: per-thread ids, the request/response counters, response()
-- and done(), which prints one line "@@BENCH_JSON {...}" that the harness parses.
-- Loaded with dofile() from the directory of the script that wrk runs.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

n, i, started = 0, 0, false
sent_ok, sent_unauth, got_ok, got_unauth, got_other, responses = 0, 0, 0, 0, 0, 0

function response(status, headers, body)
  responses = responses + 1
  if status == 200 then
    got_ok = got_ok + 1
  elseif status == 401 then
    got_unauth = got_unauth + 1
  else
    got_other = got_other + 1
  end
end

local keys = { "sent_ok", "sent_unauth", "got_ok", "got_unauth", "got_other", "responses" }

function done(summary, latency, requests)
  local t = {}
  for _, k in ipairs(keys) do t[k] = 0 end
  for _, thread in ipairs(threads) do
    for _, k in ipairs(keys) do t[k] = t[k] + (thread:get(k) or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    '@@BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d},' ..
    '"sent_ok":%d,"sent_unauth":%d,"got_ok":%d,"got_unauth":%d,"got_other":%d,"responses":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    t.sent_ok, t.sent_unauth, t.got_ok, t.got_unauth, t.got_other, t.responses))
end
