-- GET <url> cycling through a file of many distinct tokens, for wrk.
--   wrk ... -s bench/lua/verify.lua http://127.0.0.1:P/v1/verify -- <token file>
-- Token file lines: "<c|b> <expected status> <token>": c = Cookie: frontdesk-session=<token>,
-- b = Authorization: Bearer <token>. wrk counts every status >= 400 as an error, and invalid tokens
-- get 401 by design, so this script counts requests sent by expected status and responses by
-- status; the harness turns the two into "unexpected status" (see bench/README.md).
-- done() prints one line "@@BENCH_JSON {...}" that the harness parses.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

reqs, expect = {}, {}
n, i, started = 0, 0, false
sent_ok, sent_unauth, got_ok, got_unauth, got_other, responses = 0, 0, 0, 0, 0, 0

function init(args)
  local path = assert(args[1], "usage: -- <token file>")
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    local kind, status, token = line:match("^(%a) (%d+) (%S+)$")
    if kind then
      local headers = {}
      if kind == "c" then
        headers["Cookie"] = "frontdesk-session=" .. token
      else
        headers["Authorization"] = "Bearer " .. token
      end
      n = n + 1
      reqs[n] = wrk.format("GET", nil, headers)
      expect[n] = tonumber(status)
    end
  end
  f:close()
  assert(n > 0, "no tokens in " .. path)
end

function request()
  if not started then
    started = true
    i = ((id or 0) * 7919) % n -- each thread starts at its own place in the file
  end
  i = i % n + 1
  if expect[i] == 200 then sent_ok = sent_ok + 1 else sent_unauth = sent_unauth + 1 end
  return reqs[i]
end

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
