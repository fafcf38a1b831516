-- Every request gets a fresh MsgId (plain mode: the signature covers the query, not the body).
-- In safe mode the bodies are pre-encrypted: BENCH_BODIES names a file of "path\tbody" lines.
local counter = 0
local lines = nil
local thread_no = 0
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  local file = os.getenv("BENCH_BODIES")
  if file and file ~= "" then
    lines = {}
    for line in io.lines(file) do
      local path, body = line:match("^([^\t]+)\t(.*)$")
      lines[#lines + 1] = {path, body}
    end
  end
end

function request()
  counter = counter + 1
  if lines then
    local entry = lines[((tid * 7919 + counter) % #lines) + 1]
    return wrk.format("POST", entry[1], {["Content-Type"] = "text/xml"}, entry[2])
  end
  local msgid = (os.getenv("BENCH_SALT") or "1") .. string.format("%d%09d", tid + 1, counter)
  local openid = string.format("bench-%d-%d", tid, counter % 200)
  local body = "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[" ..
    openid .. "]]></FromUserName><CreateTime>" .. os.time() ..
    "</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[帮助]]></Content><MsgId>" ..
    msgid .. "</MsgId></xml>"
  return wrk.format("POST", os.getenv("BENCH_PATH"), {["Content-Type"] = "text/xml"}, body)
end
