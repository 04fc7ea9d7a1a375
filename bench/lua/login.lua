-- POST <url> (/v1/login) with {"user": ..., "password": ...}, cycling through a file of usernames.
--   wrk ... -s bench/lua/login.lua http://127.0.0.1:P/v1/login -- <user file> <password>
-- Every login is expected to succeed (200); anything else is counted as unexpected.
-- done() prints one line "@@BENCH_JSON {...}" in the same shape as verify.lua.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "counts.lua")

reqs = {}

function init(args)
  local path = assert(args[1], "usage: -- <user file> <password>")
  local password = assert(args[2], "password missing")
  local f = assert(io.open(path, "r"))
  for user in f:lines() do
    if user ~= "" then
      n = n + 1
      local body = string.format('{"user":"%s","password":"%s"}', user, password)
      reqs[n] = wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
    end
  end
  f:close()
  assert(n > 0, "no users in " .. path)
end

function request()
  if not started then
    started = true
    i = ((id or 0) * 7919) % n
  end
  i = i % n + 1
  sent_ok = sent_ok + 1
  return reqs[i]
end
