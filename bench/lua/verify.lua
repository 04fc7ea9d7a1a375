-- GET <url> cycling through a file of many distinct tokens, for wrk.
--   wrk ... -s bench/lua/verify.lua http://127.0.0.1:P/v1/verify -- <token file>
-- Token file lines: "<c|b> <expected status> <token>": c = Cookie: frontdesk-session=<token>,
-- b = Authorization: Bearer <token>. wrk counts every status >= 400 as an error, and invalid tokens
-- get 401 by design, so this script counts requests sent by expected status and responses by
-- status; the harness turns the two into "unexpected status" (see bench/README.md).
-- done() prints one line "@@BENCH_JSON {...}" that the harness parses.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "counts.lua")

reqs, expect = {}, {}

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
