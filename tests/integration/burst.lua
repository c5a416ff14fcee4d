-- wrk script for test_burst: BURST postbacks of distinct products, then only GET /healthz until
-- the test stops wrk. Every postback's answer is written to OUT as "<status> <body>", a line each.
local burst = tonumber(os.getenv("BURST"))
local secret = os.getenv("SECRET")
local out
local calls = 0

function init(args)
  out = io.open(os.getenv("OUT"), "w")
  out:setvbuf("line")  -- the test reads the file while wrk runs
end

local function healthz()
  return wrk.format("GET", "/healthz")
end

function request()
  calls = calls + 1
  -- wrk calls request() once before the run only to check what it returns (script_verify_
  -- request in wrk.c); that request is never sent, so it must not be a postback.
  local n = calls - 1
  if n < 1 or n > burst then
    return healthz()
  end
  local body = string.format(
    '{"CatalogId":"%d","CatalogItemId":"item-%d","CurrentPrice":"%d.99"}', n % 7, n, n)
  return wrk.format("POST", "/v1/postbacks/product-changes",
    {["Content-Type"] = "application/json", ["X-Postback-Token"] = secret}, body)
end

function response(status, headers, body)
  if body ~= '{"status":"ok"}' then
    out:write(status, " ", body, "\n")
  end
end
