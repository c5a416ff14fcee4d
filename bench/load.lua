-- wrk script for the benchmarks: varied, realistic requests; prints one BENCH {...} JSON line.
-- Modes (wrk ... -s load.lua -- MODE): json, form (postbacks to wrk's URL path), item and page
-- (projector reads), empty (a POST with a JSON body to wrk's URL path).
local mode = "json"
local secret = os.getenv("BENCH_SECRET") or "bench-secret-0123456789"
local products = tonumber(os.getenv("BENCH_PRODUCTS") or "100000")
local catalogs = 10

function init(args)
  mode = args[1] or "json"
  math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1000000))
end

local function fields()
  local n = math.random(1, products)
  return n % catalogs, n, string.format("%d.%02d", math.random(1, 500), math.random(0, 99)),
    (math.random() < 0.8) and "InStock" or "OutOfStock",
    string.format("2026-11-27T%02d:%02d:%02dZ", math.random(0, 23), math.random(0, 59), math.random(0, 59))
end

request = function()
  if mode == "json" or mode == "empty" then
    local c, n, price, stock, at = fields()
    local body = string.format(
      '{"CatalogId":"%d","CatalogItemId":"sku-%d","Name":"Product %d","Category":"Kitchen",' ..
      '"Url":"https://shop.example/p/%d","CurrentPrice":"%s","OriginalPrice":"599.00",' ..
      '"Currency":"EUR","StockAvailability":"%s","Gtin":"0401234%06d","DateLastUpdated":"%s"}',
      c, n, n, n, price, stock, n, at)
    return wrk.format("POST", wrk.path, {["Content-Type"] = "application/json", ["X-Postback-Token"] = secret}, body)
  elseif mode == "form" then
    local c, n, price, stock, at = fields()
    local body = string.format(
      "CatalogId=%d&CatalogItemId=sku-%d&Name=Product+%d&Category=Kitchen&Url=https%%3A%%2F%%2Fshop.example%%2Fp%%2F%d" ..
      "&CurrentPrice=%s&OriginalPrice=599.00&Currency=EUR&StockAvailability=%s&Gtin=0401234%06d&DateLastUpdated=%s",
      c, n, n, n, price, stock, n, at)
    return wrk.format("POST", wrk.path, {["Content-Type"] = "application/x-www-form-urlencoded", ["X-Postback-Token"] = secret}, body)
  elseif mode == "item" then
    local n = math.random(0, products - 1)  -- the preload wrote sku-0 .. sku-(products-1)
    return wrk.format("GET", string.format("/v1/catalogs/%d/items/sku-%d", n % catalogs, n))
  else -- page
    return wrk.format("GET", string.format(
      "/v1/catalogs/%d/items?availability=IN_STOCK&min_price=10&max_price=200&limit=50", math.random(0, catalogs - 1)))
  end
end

done = function(summary, latency, requests)
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,"timeouts":%d,' ..
    '"read_errors":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.timeout, summary.errors.read,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
