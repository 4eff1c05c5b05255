-- wrk script: POSTs MNIST test digits as PNG to /api/predict, each thread cycling through the files that
-- `LoadTest --export DIR` wrote (digit-00000.png, ...). Usage:
--   wrk -t2 -c16 -d10s --latency -s post.lua http://127.0.0.1:PORT/api/predict -- DIR COUNT
-- Non-200 answers are counted by wrk itself ("Non-2xx or 3xx responses"); labels are checked by LoadTest, not here.
local bodies = {}
local nextBody = 1
local headers = { ["Content-Type"] = "image/png" }

function init(args)
  local dir, count = args[1], tonumber(args[2] or "100")
  for i = 0, count - 1 do
    local file = assert(io.open(string.format("%s/digit-%05d.png", dir, i), "rb"))
    bodies[#bodies + 1] = file:read("*a")
    file:close()
  end
  nextBody = math.random(#bodies)
end

function request()
  local body = bodies[nextBody]
  nextBody = nextBody % #bodies + 1
  return wrk.format("POST", nil, headers, body)
end
